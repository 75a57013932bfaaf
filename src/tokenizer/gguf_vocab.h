// Writing a Hugging Face tokenizer into GGUF metadata under llama.cpp's keys (tokenizer.ggml.*), so that
// llama.cpp and whale load the converted file and tokenize as the Hugging Face tokenizer does.
#pragma once

#include <string>

#include "formats/gguf.h"

namespace whale {

// `tokenizer_json` and `tokenizer_config_json` are the contents (not paths) of tokenizer.json and
// tokenizer_config.json (empty: none). Writes tokenizer.ggml.model ("gpt2"), .pre (the llama.cpp name of the
// split regexes: "deepseek-v3", "qwen2", "llama-bpe", "gpt-2"), .tokens, .token_type, .merges,
// .bos_token_id, .eos_token_id, .padding_token_id, .add_bos_token, .add_eos_token and tokenizer.chat_template.
// The token list is padded with "[PADn]" unused tokens up to `{general.architecture}.vocab_size` when `out`
// already holds that key (the embedding matrix may have more rows than the tokenizer has tokens).
// Throws whale::Error for a tokenizer llama.cpp cannot express (unknown split regexes, no byte-level BPE).
void add_tokenizer_to_gguf(const std::string& tokenizer_json, const std::string& tokenizer_config_json,
                           whale::gguf::Metadata& out);

}  // namespace whale

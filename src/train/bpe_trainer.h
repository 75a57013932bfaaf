// Byte-level BPE training on a text corpus, producing the tokenizer.json / tokenizer_config.json texts that
// Hugging Face tokenizers, whale's Tokenizer, add_tokenizer_to_gguf and llama.cpp (pre "qwen2") all load.
// Text is NFC-normalized and split with Qwen2's regexes (so every digit is its own pre-token and numbers
// tokenize digit by digit), mapped to GPT-2's byte alphabet, and merges are learned greedily by pair count
// (ties broken by the pair's text, so the output is deterministic). The DeepSeek-R1 special tokens are added
// tokens after the learned vocabulary.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "chat/chat_template.h"
#include "train/tasks.h"

namespace whale::train {

struct TrainedTokenizer {
  std::string tokenizer_json;
  std::string tokenizer_config_json;
};

// vocab_size counts everything: 256 byte tokens + merges + the added tokens. Throws whale::Error when it is
// too small to hold the bytes and added tokens.
TrainedTokenizer train_bpe(const std::vector<std::string>& corpus, int32_t vocab_size, const std::string& chat_template);

// Reads DIR/tokenizer.json and DIR/tokenizer_config.json (optional); `dir` may also name tokenizer.json itself.
// Throws whale::Error naming the path when there is no tokenizer.json or it does not load.
TrainedTokenizer read_tokenizer_folder(const std::string& dir);

// Rebuilds tokenizer.json / tokenizer_config.json from a GGUF model whose tokenizer has the shape train_bpe
// writes (tokenizer.ggml.model "gpt2", pre "qwen2"), so RL and distillation can re-export a model that was
// saved with its tokenizer without the original folder. Throws whale::Error naming the file otherwise.
TrainedTokenizer tokenizer_from_gguf(const std::string& gguf_path);

// The chat template a tokenizer_config.json carries (chat_template, bos_token, eos_token as strings or
// {"content": ...}). Throws whale::Error naming `source` when there is none.
ChatTemplate chat_template_of(const TrainedTokenizer& tokenizer, const std::string& source);

// The tokenizer's training text for some tasks: for each of `problems_per_task` train-split problems its
// question, and the completion the model writes (reasoning, think tags, answer).
std::vector<std::string> task_corpus(const std::vector<Task>& tasks, int64_t problems_per_task, uint64_t seed);

// The added tokens, in id order after the learned vocabulary: BOS, EOS, <｜User｜>, <｜Assistant｜>, <think>,
// </think>, padding.
const std::vector<std::string>& r1_added_tokens();

}  // namespace whale::train

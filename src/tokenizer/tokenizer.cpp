// Encoding and decoding through the loaded tokenizer state.
#include "tokenizer/tokenizer.h"

#include <algorithm>

#include "core/error.h"
#include "tokenizer/tokenizer_data.h"
#include "tokenizer/unicode.h"

namespace whale {
namespace {

using tok::Segment;
using tok::TokenizerData;

// Reusable buffers of one thread's encode call; encode never recurses, so one set per thread suffices.
struct EncodeScratch {
  std::vector<Segment> raw_segments;
  std::vector<Segment> normalized_segments;
  std::vector<std::string_view> pieces;
  std::vector<std::string_view> pieces_scratch;
  std::string normalized;
  std::string word;
};

EncodeScratch& encode_scratch() {
  thread_local EncodeScratch s;
  return s;
}

void encode_words(const TokenizerData& d, std::string_view text, EncodeScratch& s, std::vector<int32_t>& out) {
  if (d.byte_level_add_prefix_space && !text.empty() && text[0] != ' ') {
    s.word.resize(text.size() + 1);
    s.word[0] = ' ';
    text.copy(s.word.data() + 1, text.size());
    text = s.word;
  }
  d.pre.split(text, s.pieces, s.pieces_scratch);
  for (std::string_view piece : s.pieces) d.bpe->encode_word(piece, out);
}

void encode_byte_level(const TokenizerData& d, std::string_view text, std::vector<int32_t>& out) {
  EncodeScratch& s = encode_scratch();
  s.raw_segments.clear();
  d.raw_added.split(text, s.raw_segments);
  for (const Segment& raw : s.raw_segments) {
    if (raw.id >= 0) {
      out.push_back(raw.id);
      continue;
    }
    std::string_view normalized = raw.text;
    std::string owned;
    if (d.nfc && tok::may_change_under_nfc(raw.text)) {
      owned = tok::nfc(raw.text);
      normalized = owned;
    }
    if (d.normalized_added.empty()) {
      encode_words(d, normalized, s, out);
      continue;
    }
    s.normalized_segments.clear();
    d.normalized_added.split(normalized, s.normalized_segments);
    for (const Segment& seg : s.normalized_segments) {
      if (seg.id >= 0) {
        out.push_back(seg.id);
      } else {
        encode_words(d, seg.text, s, out);
      }
    }
  }
}

void encode_sentencepiece(const TokenizerData& d, std::string_view text, std::vector<int32_t>& out) {
  std::vector<Segment> segments;
  d.raw_added.split(text, segments);
  bool after_special = true;  // the text start counts as one: it gets the space prefix too
  std::string spelled;
  for (const Segment& seg : segments) {
    if (seg.id >= 0) {
      out.push_back(seg.id);
      after_special = true;
      continue;
    }
    spelled.clear();
    if (d.add_space_prefix && after_special) spelled.append(tok::kSpmSpace);
    for (char c : seg.text) {
      if (c == ' ') {
        spelled.append(tok::kSpmSpace);
      } else {
        spelled.push_back(c);
      }
    }
    d.spm->encode(spelled, out);
    after_special = false;
  }
}

bool contains(const std::vector<int32_t>& sorted, int32_t id) {
  return std::binary_search(sorted.begin(), sorted.end(), id);
}

}  // namespace

Tokenizer tok::TokenizerData::finish(std::shared_ptr<TokenizerData> data) {
  TokenizerData& d = *data;
  WHALE_ASSERT(d.token_text.size() == d.token_bytes.size());
  d.special.resize(d.token_text.size(), 0);

  std::vector<AddedToken> raw, normalized;
  for (const AddedToken& t : d.added) {
    WHALE_ASSERT(t.id >= 0 && static_cast<size_t>(t.id) < d.token_text.size());
    if (t.special) d.special[static_cast<size_t>(t.id)] = 1;
    if (t.normalized && d.kind == TokenizerKind::ByteLevelBpe) {
      AddedToken n = t;
      if (d.nfc) n.content = tok::nfc(n.content);
      normalized.push_back(std::move(n));
    } else {
      raw.push_back(t);
    }
  }
  d.raw_added = AddedTokenMatcher(std::move(raw));
  d.normalized_added = AddedTokenMatcher(std::move(normalized));

  if (d.by_text.empty()) {  // the tokenizer.json loader hands over its vocabulary map instead
    d.by_text.reserve(d.token_text.size());
    for (size_t id = 0; id < d.token_text.size(); ++id) {
      if (!d.token_text[id].empty()) d.by_text.emplace(d.token_text[id], static_cast<int32_t>(id));
    }
  }
  for (const AddedToken& t : d.added) d.by_text[t.content] = t.id;

  // Chat models end a turn with a token of their own; generation must stop there as well as at EOS.
  static const char* const kEndOfTurn[] = {
      "<|eot_id|>", "<|eom_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
      "<|end_of_text|>", "<EOT>", "<|EOT|>",
      ("<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>"),  // split so \x9c does not take "e"
  };
  // Loaders may have listed end tokens of their own (GGUF eot/eom ids) before this point.
  if (d.eos_id >= 0) d.end_of_generation.push_back(d.eos_id);
  for (const AddedToken& t : d.added) {
    for (const char* name : kEndOfTurn) {
      if (t.content == name) d.end_of_generation.push_back(t.id);
    }
  }
  std::sort(d.end_of_generation.begin(), d.end_of_generation.end());
  d.end_of_generation.erase(std::unique(d.end_of_generation.begin(), d.end_of_generation.end()),
                            d.end_of_generation.end());
  return Tokenizer(std::move(data));
}

Tokenizer::Tokenizer() {
  static const std::shared_ptr<const TokenizerData> empty = [] {
    auto d = std::make_shared<TokenizerData>();
    d->source = "empty tokenizer";
    d->bpe = std::make_unique<tok::BpeModel>(std::vector<std::string>{}, std::vector<tok::BpeModel::Merge>{}, false);
    return std::shared_ptr<const TokenizerData>(d);
  }();
  data_ = empty;
}

TokenizerKind Tokenizer::kind() const { return data_->kind; }
int32_t Tokenizer::vocab_size() const { return static_cast<int32_t>(data_->token_text.size()); }
int32_t Tokenizer::bos_id() const { return data_->bos_id; }
int32_t Tokenizer::eos_id() const { return data_->eos_id; }
bool Tokenizer::add_bos() const { return data_->add_bos && data_->bos_id >= 0; }
bool Tokenizer::add_eos() const { return data_->add_eos && data_->eos_id >= 0; }
const std::vector<int32_t>& Tokenizer::end_of_generation_ids() const { return data_->end_of_generation; }
bool Tokenizer::is_end_of_generation(int32_t id) const { return contains(data_->end_of_generation, id); }

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 2);
  encode_append(text, add_special, out);
  return out;
}

void Tokenizer::encode_append(std::string_view text, bool add_special, std::vector<int32_t>& out) const {
  const TokenizerData& d = *data_;
  size_t bad = tok::find_invalid_utf8(text);
  if (bad != std::string_view::npos) fail("text to tokenize: invalid UTF-8 at byte {}", bad);
  if (text.size() > 0x7fffffffu) fail("text to tokenize: {} bytes is more than the 2 GiB limit", text.size());
  if (add_special && add_bos()) out.push_back(d.bos_id);
  if (d.kind == TokenizerKind::ByteLevelBpe) {
    encode_byte_level(d, text, out);
  } else {
    encode_sentencepiece(d, text, out);
  }
  if (add_special && add_eos()) out.push_back(d.eos_id);
}

std::string Tokenizer::decode_bytes(std::span<const int32_t> ids, bool skip_special) const {
  const TokenizerData& d = *data_;
  std::string out;
  bool first = true;
  for (int32_t id : ids) {
    if (!is_valid_id(id)) fail("token id {} is out of range: the vocabulary has ids 0..{}", id, vocab_size() - 1);
    auto i = static_cast<size_t>(id);
    if (skip_special && d.special[i]) continue;
    std::string_view bytes = d.token_bytes[i];
    // SentencePiece decoding drops the space that encoding put in front of the text.
    if (first && decode_strips_leading_space() && !bytes.empty() && bytes[0] == ' ') {
      bytes.remove_prefix(1);
    }
    if (!d.token_bytes[i].empty()) first = false;
    out.append(bytes);
  }
  return out;
}

bool Tokenizer::decode_strips_leading_space() const {
  return data_->kind == TokenizerKind::SentencePieceBpe && data_->add_space_prefix;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special) const {
  return tok::utf8_lossy(decode_bytes(ids, skip_special));
}

std::string_view Tokenizer::token_bytes(int32_t id) const {
  if (!is_valid_id(id)) fail("token id {} is out of range: the vocabulary has ids 0..{}", id, vocab_size() - 1);
  return data_->token_bytes[static_cast<size_t>(id)];
}

const std::string& Tokenizer::token_text(int32_t id) const {
  if (!is_valid_id(id)) fail("token id {} is out of range: the vocabulary has ids 0..{}", id, vocab_size() - 1);
  return data_->token_text[static_cast<size_t>(id)];
}

bool Tokenizer::is_special(int32_t id) const { return is_valid_id(id) && data_->special[static_cast<size_t>(id)]; }

std::optional<int32_t> Tokenizer::token_id(std::string_view text) const {
  auto it = data_->by_text.find(std::string(text));
  if (it == data_->by_text.end()) return std::nullopt;
  return it->second;
}

}  // namespace whale

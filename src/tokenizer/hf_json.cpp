// tokenizer.json / tokenizer_config.json field by field.
#include "tokenizer/hf_json.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/log.h"
#include "tokenizer/pretokenizer.h"

namespace whale::tok {
namespace {

using nlohmann::json;

// Vocabularies of the supported models have under 300k entries; this bound only stops absurd ids from
// turning into giant allocations.
constexpr int64_t kMaxTokenId = 1 << 24;

json parse_json(std::string_view text, const std::string& source) {
  try {
    return json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {
    fail("{}: not valid JSON: {}", source, e.what());
  }
}

const json* member(const json& object, const char* key) {
  auto it = object.find(key);
  return (it == object.end() || it->is_null()) ? nullptr : &*it;
}

bool bool_member(const std::string& source, const json& object, const std::string& path, const char* key,
                 bool fallback) {
  const json* v = member(object, key);
  if (!v) return fallback;
  if (!v->is_boolean()) {
    fail("{}: {}{}{}: expected true or false, got {}", source, path, path.empty() ? "" : ".", key, v->type_name());
  }
  return v->get<bool>();
}

std::string type_of(const std::string& source, const json& object, const std::string& path) {
  if (!object.is_object()) fail("{}: {}: expected an object, got {}", source, path, object.type_name());
  const json* t = member(object, "type");
  if (!t || !t->is_string()) fail("{}: {}.type: expected a string", source, path);
  return t->get<std::string>();
}

int32_t token_id(const std::string& source, const json& v, const std::string& path) {
  if (!v.is_number_integer()) fail("{}: {}: expected an integer token id, got {}", source, path, v.type_name());
  int64_t id = v.get<int64_t>();
  if (id < 0 || id >= kMaxTokenId) fail("{}: {}: token id {} is outside 0..{}", source, path, id, kMaxTokenId - 1);
  return static_cast<int32_t>(id);
}

// Reads tokenizer.json in one pass. model.vocab and model.merges (hundreds of thousands of entries) go
// straight into `out`; everything else becomes a small DOM for the field-by-field checks below. Building a DOM
// of the whole file would take several times longer.
class TokenizerJsonReader : public nlohmann::json_sax<json> {
 public:
  TokenizerJsonReader(const std::string& source, HfTokenizerJson& out) : source_(source), out_(out) {}

  json& root() { return root_; }
  bool saw_vocab() const { return saw_vocab_; }
  bool saw_merges() const { return saw_merges_; }

  bool null() override { return value(json(nullptr)); }
  bool boolean(bool v) override { return value(json(v)); }
  bool number_integer(number_integer_t v) override { return value(json(v)); }
  bool number_unsigned(number_unsigned_t v) override { return value(json(v)); }
  bool number_float(number_float_t v, const string_t&) override { return value(json(v)); }
  bool binary(binary_t&) override { return value(json(nullptr)); }

  bool string(string_t& v) override {
    if (mode_ == Mode::Merges) {
      size_t space = v.find(' ');
      if (space == std::string::npos || v.find(' ', space + 1) != std::string::npos) {
        fail("{}: model.merges[{}]: expected \"left right\" with one space, got \"{}\"", source_,
             out_.merges.size(), v);
      }
      out_.merges.emplace_back(v.substr(0, space), v.substr(space + 1));
      return true;
    }
    if (mode_ == Mode::MergePair) {
      if (pair_.size() == 2) fail("{}: model.merges[{}]: expected [left, right]", source_, out_.merges.size());
      pair_.push_back(std::move(v));
      return true;
    }
    return value(json(std::move(v)));
  }

  bool start_object(std::size_t) override {
    if (mode_ == Mode::Dom && at("vocab")) {
      mode_ = Mode::Vocab;
      saw_vocab_ = true;
      return true;
    }
    if (mode_ != Mode::Dom) fail("{}: {}: unexpected object", source_, where());
    return open(json::object());
  }

  bool key(string_t& k) override {
    key_ = std::move(k);
    return true;
  }

  bool end_object() override {
    if (mode_ == Mode::Vocab) {
      mode_ = Mode::Dom;
      return true;
    }
    return close();
  }

  bool start_array(std::size_t) override {
    if (mode_ == Mode::Dom && at("merges")) {
      mode_ = Mode::Merges;
      saw_merges_ = true;
      return true;
    }
    if (mode_ == Mode::Merges) {
      mode_ = Mode::MergePair;
      pair_.clear();
      return true;
    }
    if (mode_ != Mode::Dom) fail("{}: {}: unexpected array", source_, where());
    return open(json::array());
  }

  bool end_array() override {
    if (mode_ == Mode::MergePair) {
      if (pair_.size() != 2) fail("{}: model.merges[{}]: expected [left, right]", source_, out_.merges.size());
      out_.merges.emplace_back(std::move(pair_[0]), std::move(pair_[1]));
      mode_ = Mode::Merges;
      return true;
    }
    if (mode_ == Mode::Merges) {
      mode_ = Mode::Dom;
      return true;
    }
    return close();
  }

  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& e) override {
    fail("{}: not valid JSON at byte {}: {}", source_, position, e.what());
  }

 private:
  enum class Mode { Dom, Vocab, Merges, MergePair };

  // Whether the container about to open is model.<name>.
  bool at(const char* name) const { return stack_.size() == 2 && keys_[1] == "model" && key_ == name; }

  std::string where() const { return mode_ == Mode::Vocab ? "model.vocab" : "model.merges"; }

  bool value(json v) {
    if (mode_ == Mode::Vocab) {
      if (!v.is_number_integer()) {
        fail("{}: model.vocab[\"{}\"]: expected an integer token id, got {}", source_, key_, v.type_name());
      }
      out_.vocab.emplace(key_, token_id(source_, v, "model.vocab[\"" + key_ + "\"]"));
      return true;
    }
    if (mode_ != Mode::Dom) {
      fail("{}: model.merges[{}]: expected \"left right\" or [left, right], got {}", source_, out_.merges.size(),
           v.type_name());
    }
    place(std::move(v));
    return true;
  }

  json* place(json v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return &root_;
    }
    json& parent = *stack_.back();
    if (parent.is_array()) {
      parent.push_back(std::move(v));
      return &parent.back();
    }
    json& slot = parent[key_];
    slot = std::move(v);
    return &slot;
  }

  bool open(json container) {
    std::string key = !stack_.empty() && stack_.back()->is_object() ? key_ : std::string();
    stack_.push_back(place(std::move(container)));
    keys_.push_back(std::move(key));
    return true;
  }

  bool close() {
    stack_.pop_back();
    keys_.pop_back();
    return true;
  }

  const std::string& source_;
  HfTokenizerJson& out_;
  json root_;
  std::vector<json*> stack_;
  std::vector<std::string> keys_;  // the key under which each open container sits ("" in arrays)
  std::string key_;
  std::vector<std::string> pair_;
  Mode mode_ = Mode::Dom;
  bool saw_vocab_ = false;
  bool saw_merges_ = false;
};

// A literal string as a regex that matches exactly it.
std::string escape_regex(const std::string& literal) {
  std::string out;
  for (char c : literal) {
    auto u = static_cast<unsigned char>(c);
    bool plain = u >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!plain) out += '\\';
    out += c;
  }
  return out;
}

void parse_normalizer(const std::string& source, const json& n, const std::string& path, HfTokenizerJson& out) {
  std::string type = type_of(source, n, path);
  if (type == "NFC") {
    out.nfc = true;
  } else if (type == "Sequence") {
    const json* list = member(n, "normalizers");
    if (!list || !list->is_array()) fail("{}: {}.normalizers: expected an array", source, path);
    for (size_t i = 0; i < list->size(); ++i) {
      parse_normalizer(source, (*list)[i], fmt::format("{}.normalizers[{}]", path, i), out);
    }
  } else {
    fail("{}: {}: normalizer type \"{}\" is not supported (whale supports NFC)", source, path, type);
  }
}

struct PreState {
  bool byte_level = false;
};

void parse_pre_tokenizer(const std::string& source, const json& p, const std::string& path, PreState& state,
                         HfTokenizerJson& out) {
  std::string type = type_of(source, p, path);
  if (state.byte_level) fail("{}: {}: pre-tokenizer steps after ByteLevel are not supported", source, path);
  if (type == "Sequence") {
    const json* list = member(p, "pretokenizers");
    if (!list || !list->is_array()) fail("{}: {}.pretokenizers: expected an array", source, path);
    for (size_t i = 0; i < list->size(); ++i) {
      parse_pre_tokenizer(source, (*list)[i], fmt::format("{}.pretokenizers[{}]", path, i), state, out);
    }
  } else if (type == "Split") {
    const json* pattern = member(p, "pattern");
    if (!pattern || !pattern->is_object()) fail("{}: {}.pattern: expected {{\"Regex\": ...}}", source, path);
    if (const json* re = member(*pattern, "Regex"); re && re->is_string()) {
      out.split_patterns.push_back(re->get<std::string>());
    } else if (const json* s = member(*pattern, "String"); s && s->is_string()) {
      out.split_patterns.push_back(escape_regex(s->get<std::string>()));
    } else {
      fail("{}: {}.pattern: expected {{\"Regex\": string}} or {{\"String\": string}}", source, path);
    }
    const json* behavior = member(p, "behavior");
    if (!behavior || *behavior != "Isolated") {
      fail("{}: {}.behavior: only \"Isolated\" is supported, got {}", source, path,
           behavior ? behavior->dump() : "nothing");
    }
    if (bool_member(source, p, path, "invert", false)) fail("{}: {}.invert: true is not supported", source, path);
  } else if (type == "Digits") {
    // Runs of characters with Rust's is_numeric (categories Nd, Nl, No), or each one alone.
    out.split_patterns.push_back(bool_member(source, p, path, "individual_digits", false) ? "\\p{N}" : "\\p{N}+");
  } else if (type == "ByteLevel") {
    state.byte_level = true;
    out.add_prefix_space = bool_member(source, p, path, "add_prefix_space", false);
    // The prefix goes in front of each piece that reaches ByteLevel; whale supports it where that piece is the
    // whole text, i.e. when ByteLevel is the only step.
    if (out.add_prefix_space && !out.split_patterns.empty()) {
      fail("{}: {}.add_prefix_space: true after Split steps is not supported", source, path);
    }
    if (bool_member(source, p, path, "use_regex", true)) out.split_patterns.push_back(kGpt2Pattern);
  } else {
    fail("{}: {}: pre-tokenizer type \"{}\" is not supported (whale supports Sequence, Split, Digits and ByteLevel)",
         source, path, type);
  }
}

// Finds the BOS/EOS that a TemplateProcessing post-processor puts around a single sequence.
void parse_post_processor(const std::string& source, const json& p, const std::string& path,
                          HfTokenizerJson& out) {
  std::string type = type_of(source, p, path);
  if (type == "Sequence") {
    const json* list = member(p, "processors");
    if (!list || !list->is_array()) fail("{}: {}.processors: expected an array", source, path);
    for (size_t i = 0; i < list->size(); ++i) {
      parse_post_processor(source, (*list)[i], fmt::format("{}.processors[{}]", path, i), out);
    }
    return;
  }
  if (type != "TemplateProcessing") return;  // ByteLevel and the like add no tokens
  const json* single = member(p, "single");
  const json* specials = member(p, "special_tokens");
  if (!single || !single->is_array()) fail("{}: {}.single: expected an array", source, path);
  auto special_id = [&](const json& item) -> int32_t {
    const json* st = member(item, "SpecialToken");
    if (!st) return -1;
    const json* name = member(*st, "id");
    if (!name || !name->is_string()) fail("{}: {}.single: SpecialToken without an id", source, path);
    const json* entry = specials ? member(*specials, name->get<std::string>().c_str()) : nullptr;
    const json* ids = entry ? member(*entry, "ids") : nullptr;
    if (!ids || !ids->is_array() || ids->size() != 1) {
      fail("{}: {}.special_tokens[\"{}\"].ids: expected one id", source, path, name->get<std::string>());
    }
    return token_id(source, (*ids)[0], path + ".special_tokens");
  };
  if (single->empty()) return;
  if (int32_t id = special_id(single->front()); id >= 0) {
    out.bos_id = id;
    out.add_bos = true;
  }
  if (single->size() > 1) {
    if (int32_t id = special_id(single->back()); id >= 0) {
      out.eos_id = id;
      out.add_eos = true;
    }
  }
}

// The fields of "model" other than vocab and merges, which TokenizerJsonReader has already read.
void parse_model(const std::string& source, const json& model, HfTokenizerJson& out) {
  if (!model.is_object()) fail("{}: model: expected an object", source);
  if (const json* t = member(model, "type"); t && *t != "BPE") {
    fail("{}: model.type: whale supports BPE, got {}", source, t->dump());
  }
  if (bool_member(source, model, "model", "byte_fallback", false)) {
    fail("{}: model.byte_fallback: true is not supported for tokenizer.json (byte-level BPE only)", source);
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    const json* v = member(model, key);
    if (v && (!v->is_string() || !v->get<std::string>().empty())) {
      fail("{}: model.{}: expected null or \"\", got {}", source, key, v->dump());
    }
  }
  if (const json* dropout = member(model, "dropout"); dropout && !(dropout->is_number() && *dropout == 0)) {
    fail("{}: model.dropout: BPE dropout is not supported", source);
  }
  out.ignore_merges = bool_member(source, model, "model", "ignore_merges", false);

}

void parse_added_tokens(const std::string& source, const json& list, HfTokenizerJson& out) {
  if (!list.is_array()) fail("{}: added_tokens: expected an array", source);
  for (size_t i = 0; i < list.size(); ++i) {
    const json& a = list[i];
    std::string path = fmt::format("added_tokens[{}]", i);
    if (!a.is_object()) fail("{}: {}: expected an object", source, path);
    AddedToken t;
    const json* id = member(a, "id");
    if (!id) fail("{}: {}.id: missing", source, path);
    t.id = token_id(source, *id, path + ".id");
    const json* content = member(a, "content");
    if (!content || !content->is_string() || content->get<std::string>().empty()) {
      fail("{}: {}.content: expected a non-empty string", source, path);
    }
    t.content = content->get<std::string>();
    t.special = bool_member(source, a, path, "special", false);
    t.lstrip = bool_member(source, a, path, "lstrip", false);
    t.rstrip = bool_member(source, a, path, "rstrip", false);
    t.single_word = bool_member(source, a, path, "single_word", false);
    t.normalized = bool_member(source, a, path, "normalized", !t.special);
    out.added.push_back(std::move(t));
  }
}

// Hugging Face does not take the ids of added_tokens from the file: it adds the tokens in order, giving a
// token whose content is already in the vocabulary that token's id, and any other the next free id after the
// model vocabulary. Files written by the library agree with this; for any other file, whale follows the
// library rather than the ids written there.
void assign_added_ids(const std::string& source, HfTokenizerJson& out) {
  const auto model_size = static_cast<int32_t>(out.vocab.size());
  std::unordered_map<std::string, int32_t> added_ids;
  int32_t max_added = -1;
  std::vector<AddedToken> kept;
  for (AddedToken& t : out.added) {
    if (added_ids.count(t.content)) continue;  // a repeated content keeps its first entry
    int32_t id;
    if (auto v = out.vocab.find(t.content); v != out.vocab.end()) {
      id = v->second;
    } else {
      id = max_added >= model_size ? max_added + 1 : model_size;
    }
    if (id != t.id) {
      log(LogLevel::Warn, "{}: added token \"{}\" has id {} in the file but {} as Hugging Face numbers it; using {}",
          source, t.content, t.id, id, id);
      t.id = id;
    }
    max_added = std::max(max_added, id);
    added_ids.emplace(t.content, id);
    out.vocab_size = std::max(out.vocab_size, static_cast<size_t>(id) + 1);
    kept.push_back(std::move(t));
  }
  out.added = std::move(kept);
}

}  // namespace

HfTokenizerJson parse_hf_tokenizer_json(std::string_view text, const std::string& source) {
  HfTokenizerJson out;
  TokenizerJsonReader reader(source, out);
  json::sax_parse(text.begin(), text.end(), &reader);
  const json& j = reader.root();
  if (!j.is_object()) fail("{}: expected a JSON object, got {}", source, j.type_name());
  const json* model = member(j, "model");
  if (!model) fail("{}: model: missing", source);
  parse_model(source, *model, out);
  if (!reader.saw_vocab()) fail("{}: model.vocab: expected an object of token -> id", source);
  if (!reader.saw_merges()) fail("{}: model.merges: expected an array", source);
  for (const auto& entry : out.vocab) {
    out.vocab_size = std::max(out.vocab_size, static_cast<size_t>(entry.second) + 1);
  }
  // Ids are dense in every real vocabulary; a few gaps are tolerated, but an id far beyond the number of tokens
  // would only make tables sized by the largest id huge.
  if (out.vocab_size > 2 * out.vocab.size() + 1024) {
    fail("{}: model.vocab: largest id is {} but there are only {} tokens", source, out.vocab_size - 1,
         out.vocab.size());
  }
  if (const json* added = member(j, "added_tokens")) parse_added_tokens(source, *added, out);
  assign_added_ids(source, out);
  if (const json* n = member(j, "normalizer")) parse_normalizer(source, *n, "normalizer", out);

  const json* pre = member(j, "pre_tokenizer");
  PreState state;
  if (pre) parse_pre_tokenizer(source, *pre, "pre_tokenizer", state, out);
  if (!state.byte_level) {
    fail("{}: pre_tokenizer: no ByteLevel step; whale reads byte-level BPE tokenizers from tokenizer.json", source);
  }
  if (const json* dec = member(j, "decoder")) {
    std::string type = type_of(source, *dec, "decoder");
    if (type != "ByteLevel") fail("{}: decoder.type: expected ByteLevel, got \"{}\"", source, type);
  }
  if (const json* post = member(j, "post_processor")) parse_post_processor(source, *post, "post_processor", out);
  if (out.vocab_size == 0) fail("{}: model.vocab: empty", source);
  return out;
}

HfTokenizerConfig parse_hf_tokenizer_config(std::string_view text, const std::string& source) {
  json j = parse_json(text, source);
  if (!j.is_object()) fail("{}: expected a JSON object, got {}", source, j.type_name());
  HfTokenizerConfig out;
  auto token_field = [&](const char* key, std::optional<std::string>& value) {
    const json* v = member(j, key);
    if (!v) return;
    if (v->is_string()) {
      value = v->get<std::string>();
    } else if (v->is_object() && member(*v, "content") && (*v)["content"].is_string()) {
      value = (*v)["content"].get<std::string>();
    } else {
      fail("{}: {}: expected a string or an object with \"content\", got {}", source, key, v->type_name());
    }
  };
  token_field("bos_token", out.bos_token);
  token_field("eos_token", out.eos_token);
  token_field("pad_token", out.pad_token);
  token_field("unk_token", out.unk_token);
  if (member(j, "add_bos_token")) out.add_bos_token = bool_member(source, j, "", "add_bos_token", false);
  if (member(j, "add_eos_token")) out.add_eos_token = bool_member(source, j, "", "add_eos_token", false);
  if (const json* t = member(j, "chat_template")) {
    if (t->is_string()) {
      out.chat_template = t->get<std::string>();
    } else if (t->is_array()) {
      // Several named templates: [{"name": "default", "template": "..."}, ...].
      for (const json& entry : *t) {
        const json* name = entry.is_object() ? member(entry, "name") : nullptr;
        const json* body = entry.is_object() ? member(entry, "template") : nullptr;
        if (name && body && *name == "default" && body->is_string()) out.chat_template = body->get<std::string>();
      }
    } else {
      fail("{}: chat_template: expected a string or a list of named templates", source);
    }
  }
  return out;
}

}  // namespace whale::tok

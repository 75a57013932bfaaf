// `whale tokenize` (text on stdin -> JSON ids) and `whale detokenize` (JSON ids on stdin -> text). With
// --json-lines both work on many documents in one process: one JSON string (tokenize) or one JSON array of ids
// (detokenize) per input line, one JSON result per output line.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "formats/gguf.h"
#include "tokenizer/gguf_vocab.h"
#include "tokenizer/tokenizer.h"

namespace whale::cli {
namespace {

using nlohmann::json;

std::string read_stdin() {
  std::string text;
  char buffer[1 << 16];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), stdin)) > 0) text.append(buffer, n);
  if (std::ferror(stdin)) fail("stdin: read error");
  return text;
}

void write_stdout(std::string_view text) {
  if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size()) fail("stdout: write error");
}

std::string ids_to_json(const std::vector<int32_t>& ids) {
  std::string out = "[";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(ids[i]);
  }
  out += ']';
  return out;
}

// Lines of `text`, without their "\n" (and a "\r" before it); a final line without "\n" counts too.
std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    start = end + 1;
  }
  return lines;
}

json parse_line(std::string_view line, size_t number, const char* expected) {
  try {
    return json::parse(line);
  } catch (const json::exception& e) {
    fail("stdin line {}: expected {}: {}", number, expected, e.what());
  }
}

std::vector<int32_t> ids_from_json(const json& value, const Tokenizer& tokenizer, const std::string& where) {
  if (!value.is_array()) fail("{}: expected a JSON array of token ids, got {}", where, value.type_name());
  std::vector<int32_t> ids;
  ids.reserve(value.size());
  for (size_t i = 0; i < value.size(); ++i) {
    const json& v = value[i];
    if (!v.is_number_integer()) fail("{}[{}]: expected an integer token id, got {}", where, i, v.dump());
    int64_t id = v.get<int64_t>();
    if (id < 0 || id >= tokenizer.vocab_size()) {
      fail("{}[{}]: token id {} is out of range: the vocabulary has ids 0..{}", where, i, id,
           tokenizer.vocab_size() - 1);
    }
    ids.push_back(static_cast<int32_t>(id));
  }
  return ids;
}

// Writes the tokenizer of a Hugging Face tokenizer.json (or folder) as a GGUF file holding only the vocabulary,
// like llama.cpp's ggml-vocab-*.gguf files: what `whale convert` writes for the tokenizer, without weights.
void export_vocab_gguf(const std::string& model, const std::string& out_path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path json_path = model;
  if (fs::is_directory(json_path, ec)) json_path /= "tokenizer.json";
  if (!fs::exists(json_path, ec)) fail("{}: no such file (--export-gguf reads a tokenizer.json)", json_path.string());
  fs::path config_path = json_path.parent_path() / "tokenizer_config.json";
  std::string config = fs::exists(config_path, ec) ? read_text_file(config_path.string()) : std::string();

  gguf::Writer writer;
  gguf::Metadata& md = writer.metadata();
  // llama.cpp reads the hyperparameters of the architecture even when it loads only the vocabulary; these
  // placeholders satisfy it and describe no real model.
  md.set_string("general.architecture", "llama");
  md.set_string("general.name", "vocabulary of " + json_path.string());
  md.set_uint32("llama.context_length", 4096);
  md.set_uint32("llama.embedding_length", 64);
  md.set_uint32("llama.block_count", 1);
  md.set_uint32("llama.feed_forward_length", 128);
  md.set_uint32("llama.attention.head_count", 1);
  md.set_float32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  add_tokenizer_to_gguf(read_text_file(json_path.string()), config, md);
  writer.write(out_path);
}

void run_tokenize(const std::string& model, bool add_special, bool json_lines) {
  Tokenizer tokenizer = Tokenizer::from_path(model);
  std::string input = read_stdin();
  if (!json_lines) {
    write_stdout(ids_to_json(tokenizer.encode(input, add_special)) + "\n");
    return;
  }
  std::vector<std::string_view> lines = lines_of(input);
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    json line = parse_line(lines[i], i + 1, "a JSON string");
    if (!line.is_string()) fail("stdin line {}: expected a JSON string, got {}", i + 1, line.type_name());
    try {
      out += ids_to_json(tokenizer.encode(line.get_ref<const std::string&>(), add_special));
    } catch (const Error& e) {
      fail("stdin line {}: {}", i + 1, e.what());
    }
    out += '\n';
  }
  write_stdout(out);
}

void run_detokenize(const std::string& model, bool skip_special, bool json_lines) {
  Tokenizer tokenizer = Tokenizer::from_path(model);
  std::string input = read_stdin();
  if (!json_lines) {
    json value;
    try {
      value = json::parse(input);
    } catch (const json::exception& e) {
      fail("stdin: expected a JSON array of token ids: {}", e.what());
    }
    write_stdout(tokenizer.decode(ids_from_json(value, tokenizer, "stdin"), skip_special));
    return;
  }
  std::vector<std::string_view> lines = lines_of(input);
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    json line = parse_line(lines[i], i + 1, "a JSON array of token ids");
    std::vector<int32_t> ids = ids_from_json(line, tokenizer, fmt::format("stdin line {}", i + 1));
    out += json(tokenizer.decode(ids, skip_special)).dump();
    out += '\n';
  }
  write_stdout(out);
}

}  // namespace

void add_tokenize_commands(CLI::App& app) {
  struct Options {
    std::string model;
    bool add_special = false;
    bool skip_special = false;
    bool json_lines = false;
    std::string export_gguf;
  };
  auto options = std::make_shared<Options>();

  CLI::App* tokenize = app.add_subcommand("tokenize", "Text on stdin -> one JSON array of token ids on stdout");
  tokenize->add_option("-m,--model", options->model,
                       "Model: a .gguf file, a Hugging Face folder, or a tokenizer.json")
      ->required();
  tokenize->add_flag("--add-special", options->add_special,
                     "Add BOS/EOS as the model's tokenizer configuration asks (default: none)");
  tokenize->add_flag("--json-lines", options->json_lines,
                     "Each stdin line is a JSON string; print one JSON array of ids per line");
  tokenize->add_option("--export-gguf", options->export_gguf,
                       "Instead of tokenizing: write the tokenizer of a tokenizer.json as a vocabulary-only GGUF "
                       "file (llama.cpp's tokenizer.ggml.* keys) to this path");
  tokenize->callback([options] {
    if (!options->export_gguf.empty()) {
      export_vocab_gguf(options->model, options->export_gguf);
      return;
    }
    run_tokenize(options->model, options->add_special, options->json_lines);
  });

  CLI::App* detokenize = app.add_subcommand("detokenize", "JSON array of token ids on stdin -> text on stdout");
  detokenize->add_option("-m,--model", options->model,
                         "Model: a .gguf file, a Hugging Face folder, or a tokenizer.json")
      ->required();
  detokenize->add_flag("--skip-special", options->skip_special, "Leave out special tokens (BOS, EOS, ...)");
  detokenize->add_flag("--json-lines", options->json_lines,
                       "Each stdin line is a JSON array of ids; print one JSON string per line");
  detokenize->callback([options] { run_detokenize(options->model, options->skip_special, options->json_lines); });
}

}  // namespace whale::cli

// `whale template`: renders a model's chat template for OpenAI-style messages and prints the prompt. The
// template and the bos/eos token strings come from tokenizer_config.json (a file, or a folder holding one,
// where chat_template.jinja takes precedence), or from a GGUF file (tokenizer.chat_template and the
// vocabulary); --template uses another template file. With --json-lines it renders many conversations in
// one process: one JSON object per stdin line, one JSON result per output line.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>

#include "chat/chat_template.h"
#include "cli/commands.h"
#include "core/error.h"
#include "formats/model_source.h"

namespace whale::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::ordered_json;

struct TemplateSource {
  std::string source;
  std::string name;  // prefixes template error messages
  std::string bos_token;
  std::string eos_token;
};

std::string read_file(const std::string& path) {
  if (path == "-") {
    std::string text;
    char buffer[1 << 16];
    size_t n;
    while ((n = std::fread(buffer, 1, sizeof(buffer), stdin)) > 0) text.append(buffer, n);
    if (std::ferror(stdin)) fail("stdin: read error");
    return text;
  }
  std::error_code ec;
  if (fs::is_directory(path, ec)) fail("{}: is a folder, expected a file", path);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open: {}", path, std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) fail("{}: read error", path);
  return text.str();
}

ordered_json parse_json(const std::string& text, const std::string& what) {
  try {
    return ordered_json::parse(text);
  } catch (const ordered_json::exception& e) {
    fail("{}: invalid JSON: {}", what, e.what());
  }
}

// bos_token / eos_token in tokenizer_config.json: a string, an AddedToken object {"content": ...}, or null.
std::string special_token(const ordered_json& config, const char* key, const std::string& path) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object()) {
    auto content = it->find("content");
    if (content != it->end() && content->is_string()) return content->get<std::string>();
  }
  fail("{}: {} must be a string or an object with a string \"content\", got {}", path, key, it->dump());
}

// chat_template in tokenizer_config.json: a string, or a list of {"name", "template"} (the one named
// "default" is used, else the first).
std::optional<std::string> config_template(const ordered_json& config, const std::string& path) {
  auto it = config.find("chat_template");
  if (it == config.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_array() && !it->empty()) {
    const ordered_json* chosen = nullptr;
    for (const auto& entry : *it) {
      if (!entry.is_object() || !entry.contains("template") || !entry["template"].is_string()) {
        fail("{}: chat_template entries must be objects with a string \"template\"", path);
      }
      if (chosen == nullptr || entry.value("name", "") == "default") chosen = &entry;
      if (entry.value("name", "") == "default") break;
    }
    return (*chosen)["template"].get<std::string>();
  }
  fail("{}: chat_template must be a string or a list of named templates, got {}", path, it->type_name());
}

TemplateSource from_tokenizer_config(const std::string& config_path, const std::string& template_file) {
  ordered_json config = parse_json(read_file(config_path), config_path);
  if (!config.is_object()) fail("{}: expected a JSON object", config_path);
  TemplateSource out;
  out.bos_token = special_token(config, "bos_token", config_path);
  out.eos_token = special_token(config, "eos_token", config_path);
  std::error_code ec;
  if (!template_file.empty() && fs::is_regular_file(template_file, ec)) {
    out.source = read_file(template_file);
    out.name = template_file;
    return out;
  }
  std::optional<std::string> source = config_template(config, config_path);
  if (!source) fail("{}: no chat_template (pass one with --template FILE.jinja)", config_path);
  out.source = std::move(*source);
  out.name = config_path + " chat_template";
  return out;
}

TemplateSource from_gguf(const std::string& path) {
  ModelSource model = ModelSource::open(path);
  TemplateSource out;
  if (model.chat_template()) out.source = *model.chat_template();
  out.name = path + " tokenizer.chat_template";
  const gguf::Metadata& metadata = model.metadata();
  auto token = [&](const char* key) -> std::string {
    std::optional<int64_t> id = metadata.find_int(key);
    if (!id || !metadata.has("tokenizer.ggml.tokens")) return "";
    const gguf::ArrayValue& tokens = metadata.find("tokenizer.ggml.tokens")->as_array(path + ": tokenizer.ggml.tokens");
    if (*id < 0 || static_cast<uint64_t>(*id) >= tokens.items.size()) {
      fail("{}: {} = {} is outside the vocabulary of {} tokens", path, key, *id, tokens.items.size());
    }
    return tokens.items[static_cast<size_t>(*id)].as_string(path + ": tokenizer.ggml.tokens");
  };
  out.bos_token = token("tokenizer.ggml.bos_token_id");
  out.eos_token = token("tokenizer.ggml.eos_token_id");
  return out;
}

bool is_gguf_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  return in.read(magic, 4) && std::memcmp(magic, "GGUF", 4) == 0;
}

// -m PATH: a .gguf file, a tokenizer_config.json (or a tokenizer.json beside one), or a folder holding one.
TemplateSource load_model_template(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    fs::path folder(path);
    std::string config = (folder / "tokenizer_config.json").string();
    std::string jinja = (folder / "chat_template.jinja").string();
    if (fs::is_regular_file(config, ec)) return from_tokenizer_config(config, jinja);
    if (fs::is_regular_file(jinja, ec)) return TemplateSource{read_file(jinja), jinja, "", ""};
    fail("{}: the folder has no tokenizer_config.json or chat_template.jinja", path);
  }
  if (!fs::is_regular_file(path, ec)) fail("{}: no such file or folder", path);
  if (is_gguf_file(path)) return from_gguf(path);
  fs::path file(path);
  if (file.filename() == "tokenizer.json") {
    std::string config = (file.parent_path() / "tokenizer_config.json").string();
    if (!fs::is_regular_file(config, ec)) fail("{}: no tokenizer_config.json beside it", path);
    return from_tokenizer_config(config, (file.parent_path() / "chat_template.jinja").string());
  }
  if (file.extension() == ".json") return from_tokenizer_config(path, "");
  fail("{}: expected a .gguf file, a tokenizer_config.json, or a folder holding one", path);
}

struct Options {
  std::string model;
  std::string messages_file;
  std::string template_file;
  std::string tools_file;
  std::string kwargs;
  std::string bos_token, eos_token;
  bool bos_given = false, eos_given = false;
  bool no_generation_prompt = false;
  bool json_lines = false;
};

ChatTemplate load_template(const Options& options) {
  TemplateSource source;
  if (!options.model.empty()) source = load_model_template(options.model);
  if (!options.template_file.empty()) {
    source.source = read_file(options.template_file);
    source.name = options.template_file;
  } else if (options.model.empty()) {
    fail("template: give a model with -m PATH or a template with --template FILE.jinja");
  } else if (source.source.empty()) {
    fail("{}: the model has no chat template (pass one with --template FILE.jinja)", options.model);
  }
  if (options.bos_given) source.bos_token = options.bos_token;
  if (options.eos_given) source.eos_token = options.eos_token;
  return ChatTemplate(std::move(source.source), std::move(source.bos_token), std::move(source.eos_token),
                      std::move(source.name));
}

void write_stdout(std::string_view text) {
  if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size()) fail("stdout: write error");
}

// One conversation per stdin line: {"messages": [...], "tools": [...], "add_generation_prompt": bool,
// "kwargs": {...}}; prints the prompt as a JSON string, or {"error": "..."} when that case fails.
void run_json_lines(const ChatTemplate& chat, const Options& options, const ordered_json& default_tools,
                    const ordered_json& default_kwargs) {
  std::string input = read_file("-");
  std::string out;
  size_t number = 0;
  for (size_t start = 0; start < input.size();) {
    size_t end = input.find('\n', start);
    if (end == std::string::npos) end = input.size();
    std::string line = input.substr(start, end - start);
    start = end + 1;
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::string where = fmt::format("stdin line {}", number);
    ordered_json request = parse_json(line, where);
    if (!request.is_object()) fail("{}: expected a JSON object with \"messages\"", where);
    try {
      bool generation_prompt = request.value("add_generation_prompt", !options.no_generation_prompt);
      ordered_json tools = request.contains("tools") ? request["tools"] : default_tools;
      ordered_json kwargs = request.contains("kwargs") ? request["kwargs"] : default_kwargs;
      if (!request.contains("messages")) fail("{}: missing \"messages\"", where);
      out += ordered_json(chat.apply(request["messages"], generation_prompt, tools, kwargs)).dump();
    } catch (const Error& e) {
      out += ordered_json{{"error", e.what()}}.dump();
    } catch (const ordered_json::exception& e) {
      out += ordered_json{{"error", fmt::format("{}: {}", where, e.what())}}.dump();
    }
    out += '\n';
  }
  write_stdout(out);
}

void run_template(const Options& options) {
  ordered_json tools = nullptr;
  if (!options.tools_file.empty()) {
    tools = parse_json(read_file(options.tools_file), options.tools_file);
    if (!tools.is_array()) fail("{}: tools must be a JSON array, got {}", options.tools_file, tools.type_name());
  }
  ordered_json kwargs = ordered_json::object();
  if (!options.kwargs.empty()) {
    kwargs = parse_json(options.kwargs, "--kwargs");
    if (!kwargs.is_object()) fail("--kwargs: expected a JSON object, got {}", kwargs.type_name());
  }
  ChatTemplate chat = load_template(options);
  if (options.json_lines) {
    run_json_lines(chat, options, tools, kwargs);
    return;
  }
  if (options.messages_file.empty()) fail("template: --messages FILE.json is required (or --json-lines)");
  ordered_json messages = parse_json(read_file(options.messages_file), options.messages_file);
  if (!messages.is_array()) {
    fail("{}: messages must be a JSON array of {{\"role\", \"content\"}} objects, got {}", options.messages_file,
         messages.type_name());
  }
  write_stdout(chat.apply(messages, !options.no_generation_prompt, tools, kwargs));
}

}  // namespace

void add_template_command(CLI::App& app) {
  auto options = std::make_shared<Options>();
  CLI::App* cmd =
      app.add_subcommand("template", "Render the chat template for OpenAI-style messages and print the prompt");
  cmd->add_option("-m,--model", options->model,
                  "Model: a .gguf file, a Hugging Face folder, or a tokenizer_config.json");
  cmd->add_option("--messages", options->messages_file, "JSON file with an array of messages (- for stdin)");
  cmd->add_flag("--no-generation-prompt", options->no_generation_prompt,
                "Do not end with the assistant's turn opening (add_generation_prompt=false)");
  cmd->add_option("--template", options->template_file, "Use this Jinja template file instead of the model's");
  cmd->add_option("--tools", options->tools_file, "JSON file with an array of tool schemas");
  cmd->add_option("--kwargs", options->kwargs,
                  "JSON object of extra template variables, e.g. '{\"enable_thinking\": false}'");
  cmd->add_option("--bos-token", options->bos_token, "Override the bos_token string")
      ->each([options](const std::string&) { options->bos_given = true; });
  cmd->add_option("--eos-token", options->eos_token, "Override the eos_token string")
      ->each([options](const std::string&) { options->eos_given = true; });
  cmd->add_flag("--json-lines", options->json_lines,
                "Render one conversation per stdin line ({\"messages\", \"tools\", \"add_generation_prompt\", "
                "\"kwargs\"}); print one JSON string (or {\"error\": ...}) per line");
  cmd->callback([options] { run_template(*options); });
}

}  // namespace whale::cli

// `whale run` (one prompt, one answer) and `whale chat` (interactive, multi-turn). Both apply the model's chat
// template (unless --raw), generate with the sampler settings from the flags, and stream the answer: on a
// terminal the reasoning is printed dimmed and the answer plainly; --json prints one object at the end.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/error.h"
#include "runtime/chat_session.h"
#include "runtime/loaded_model.h"
#include "runtime/process_memory.h"
#include "runtime/session.h"

namespace whale::cli {
namespace {

using ordered_json = nlohmann::ordered_json;

struct RunOptions {
  std::string model;
  std::string prompt;
  std::string prompt_tokens;  // JSON array of ids (tests): bypasses the tokenizer and the template
  std::string system;
  int64_t max_tokens = 4096;
  SamplerOptions sampling;
  int threads = 0;
  int64_t ctx = 0;
  int64_t batch = 256;
  bool raw = false;
  bool json = false;
  bool think = true;
  bool check_memory = true;
  bool map_weights = false;
  std::vector<std::string> stop;
  std::string logits_out;
};

void add_common_options(CLI::App* cmd, RunOptions& o) {
  o.sampling.temperature = 0.6f;  // DeepSeek's recommended settings for R1 and its distills
  o.sampling.top_p = 0.95f;
  cmd->add_option("-m,--model", o.model, "Model: a .gguf file or a Hugging Face folder")->required();
  cmd->add_option("-n,--max-tokens", o.max_tokens, "Most tokens to generate (-1: until the context is full)")
      ->capture_default_str();
  cmd->add_option("--temp", o.sampling.temperature, "Temperature (0: greedy)")->capture_default_str();
  cmd->add_option("--top-p", o.sampling.top_p, "Nucleus sampling mass (1: off)")->capture_default_str();
  cmd->add_option("--top-k", o.sampling.top_k, "Keep the K most likely tokens (0: off)")->capture_default_str();
  cmd->add_option("--min-p", o.sampling.min_p, "Drop tokens below min-p times the top probability (0: off)");
  cmd->add_option("--repeat-penalty", o.sampling.repetition_penalty, "Repetition penalty (1: off)");
  cmd->add_option("--presence-penalty", o.sampling.presence_penalty, "Presence penalty (0: off)");
  cmd->add_option("--frequency-penalty", o.sampling.frequency_penalty, "Frequency penalty (0: off)");
  cmd->add_option("--seed", o.sampling.seed, "Random seed (same seed, same output)")->capture_default_str();
  cmd->add_option("-t,--threads", o.threads, "Threads (0: all cores)")->capture_default_str();
  cmd->add_option("-c,--ctx", o.ctx, "Context size in tokens (0: the model's, capped by memory)")
      ->capture_default_str();
  cmd->add_option("--batch", o.batch, "Prompt tokens per forward step")
      ->check(CLI::Range(1, 8192))
      ->capture_default_str();
  cmd->add_option("--system", o.system, "System prompt");
  cmd->add_option("--stop", o.stop, "Stop string (repeatable)");
  cmd->add_flag("--no-think{false}", o.think, "Ask the template to skip reasoning (where it has a switch)");
  cmd->add_flag("--no-memory-check{false}", o.check_memory,
                "Load even when the weights and KV cache exceed the available memory");
  cmd->add_flag("--mmap", o.map_weights,
                "Use the weights from the file's memory map rather than a copy in huge pages (slower decode)");
}

// Streams deltas to the terminal: reasoning dimmed on a tty; elsewhere the model's own <think> markup.
class TerminalPrinter {
 public:
  TerminalPrinter() : tty_(isatty(STDOUT_FILENO) != 0) {}
  void operator()(const ChatDelta& d) {
    if (!d.reasoning.empty()) {
      if (!in_reasoning_) std::fputs(tty_ ? "\033[2m" : "<think>\n", stdout);
      in_reasoning_ = true;
      std::fwrite(d.reasoning.data(), 1, d.reasoning.size(), stdout);
    }
    if (!d.content.empty()) {
      close_reasoning();
      std::fwrite(d.content.data(), 1, d.content.size(), stdout);
    }
    std::fflush(stdout);
  }
  void finish() {
    close_reasoning();
    std::fputc('\n', stdout);
    std::fflush(stdout);
  }

 private:
  void close_reasoning() {
    if (!in_reasoning_) return;
    std::fputs(tty_ ? "\033[0m\n" : "\n</think>\n\n", stdout);
    in_reasoning_ = false;
  }
  bool tty_;
  bool in_reasoning_ = false;
};

ordered_json timings_json(const Timings& t) {
  return ordered_json{{"prompt_tokens", t.prompt_tokens},
                      {"cached_tokens", t.cached_tokens},
                      {"prompt_ms", t.prompt_ms},
                      {"prompt_tokens_per_second", t.prompt_tokens_per_second()},
                      {"generated_tokens", t.generated_tokens},
                      {"generate_ms", t.generate_ms},
                      {"generated_tokens_per_second", t.generated_tokens_per_second()}};
}

void write_logits(const std::string& path, std::span<const float> logits) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(logits.data()), static_cast<std::streamsize>(logits.size_bytes()));
  if (!out) fail("--logits-out {}: write failed", path);
}

struct Engine {
  std::unique_ptr<ThreadPool> pool;
  LoadedModel loaded;
  std::unique_ptr<Session> session;
};

Engine start(const RunOptions& o) {
  validate_sampler_options(o.sampling);
  Engine e;
  e.pool = std::make_unique<ThreadPool>(o.threads);
  LoadModelOptions load;
  load.pool = e.pool.get();
  load.max_batch_tokens = o.batch;
  load.map_weights = o.map_weights;
  e.loaded = load_model_from_path(o.model, load);
  const int64_t ctx = choose_context_size(*e.loaded.model, o.ctx);
  if (o.check_memory) {
    MemoryNeed need{e.loaded.source->tensor_bytes(),
                    static_cast<uint64_t>(ctx) * e.loaded.model->kv_bytes_per_token(),
                    fmt::format("{} tokens", ctx)};
    check_memory_fits(o.model, need, e.loaded.available_before_load);
  }
  e.session = std::make_unique<Session>(*e.loaded.model, e.loaded.tokenizer, ctx);
  return e;
}

std::vector<int32_t> parse_token_list(const std::string& text) {
  ordered_json j;
  try {
    j = ordered_json::parse(text);
  } catch (const std::exception& ex) {
    fail("--prompt-tokens: expected a JSON array of token ids: {}", ex.what());
  }
  if (!j.is_array()) fail("--prompt-tokens: expected a JSON array of token ids");
  std::vector<int32_t> ids;
  for (const auto& v : j) {
    if (!v.is_number_integer()) fail("--prompt-tokens: expected integers, got {}", v.dump());
    ids.push_back(v.get<int32_t>());
  }
  return ids;
}

void run_once(const RunOptions& o) {
  Engine e = start(o);
  GenerationOptions gen;
  gen.max_tokens = o.max_tokens;
  gen.sampling = o.sampling;
  gen.stop = o.stop;
  ChatSession chat(*e.session, e.loaded, ChatSessionOptions{o.raw || !o.prompt_tokens.empty(), o.system});
  if (!o.think) chat.set_thinking(false);
  std::vector<int32_t> prompt = o.prompt_tokens.empty() ? chat.prompt_for(o.prompt) : parse_token_list(o.prompt_tokens);
  if (!o.logits_out.empty()) {
    write_logits(o.logits_out, e.session->prefill(prompt));
  }
  TerminalPrinter printer;
  ChatTurn turn = chat.generate(prompt, gen, o.json ? ChatCallback() : ChatCallback(std::ref(printer)));
  if (o.json) {
    const int64_t kv_bytes = e.session->context_size() * static_cast<int64_t>(e.loaded.model->kv_bytes_per_token());
    ordered_json j{{"reasoning", turn.reasoning},
                   {"content", turn.content},
                   {"finish_reason", std::string(finish_reason_name(turn.result.finish))},
                   {"prompt_tokens", prompt},
                   {"tokens", turn.result.tokens},
                   {"timings", timings_json(turn.result.timings)},
                   {"memory", {{"context_size", e.session->context_size()},
                               {"kv_cache_bytes", kv_bytes},
                               {"model_file_bytes", e.loaded.source->file_bytes()},
                               {"peak_rss_bytes", peak_rss_bytes()}}}};
    std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else {
    printer.finish();
    const Timings& t = turn.result.timings;
    if (isatty(STDERR_FILENO)) {
      std::fprintf(stderr, "[prompt %lld tokens, %.1f tok/s; generated %lld tokens, %.1f tok/s]\n",
                   static_cast<long long>(t.prompt_tokens), t.prompt_tokens_per_second(),
                   static_cast<long long>(t.generated_tokens), t.generated_tokens_per_second());
    }
  }
}

void run_chat(const RunOptions& o) {
  Engine e = start(o);
  GenerationOptions gen;
  gen.max_tokens = o.max_tokens;
  gen.sampling = o.sampling;
  gen.stop = o.stop;
  ChatSession chat(*e.session, e.loaded, ChatSessionOptions{o.raw, o.system});
  if (!o.think) chat.set_thinking(false);
  const bool tty = isatty(STDIN_FILENO) != 0;
  if (tty) std::fprintf(stderr, "whale chat: /reset clears the conversation, /think on|off, /exit quits\n");
  std::string line;
  for (;;) {
    if (tty) {
      std::fputs("> ", stdout);
      std::fflush(stdout);
    }
    if (!std::getline(std::cin, line)) break;
    if (line.empty()) continue;
    if (line == "/exit" || line == "/quit") break;
    if (line == "/reset") {
      chat.reset();
      std::fprintf(stderr, "(conversation cleared)\n");
      continue;
    }
    if (line.rfind("/think", 0) == 0) {
      const std::string arg = line.size() > 7 ? line.substr(7) : "";
      if (arg != "on" && arg != "off") {
        std::fprintf(stderr, "usage: /think on|off\n");
      } else if (!chat.can_switch_thinking()) {
        std::fprintf(stderr, "this model's chat template has no switch for reasoning\n");
      } else {
        chat.set_thinking(arg == "on");
        std::fprintf(stderr, "(reasoning %s)\n", arg.c_str());
      }
      continue;
    }
    TerminalPrinter printer;
    try {
      chat.send(line, gen, std::ref(printer));
      printer.finish();
    } catch (const Error& err) {
      printer.finish();
      std::fprintf(stderr, "whale: error: %s\n", err.what());
    }
  }
}

}  // namespace

void add_run_commands(CLI::App& app) {
  auto run = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand("run", "Answer one prompt (applies the chat template unless --raw)");
  add_common_options(cmd, *run);
  cmd->add_option("-p,--prompt", run->prompt, "The prompt (the user message, or raw text with --raw)");
  cmd->add_option("--prompt-tokens", run->prompt_tokens, "The prompt as a JSON array of token ids (implies --raw)");
  cmd->add_flag("--raw", run->raw, "Feed the prompt as it is, without the chat template");
  cmd->add_flag("--json", run->json, "Print {reasoning, content, tokens, timings} as JSON when done");
  cmd->add_option("--logits-out", run->logits_out, "Write the logits after the prompt (float32, vocab values)");
  cmd->callback([run] {
    if (run->prompt.empty() && run->prompt_tokens.empty()) fail("run: give a prompt with -p TEXT");
    run_once(*run);
  });

  auto chat = std::make_shared<RunOptions>();
  CLI::App* chat_cmd = app.add_subcommand("chat", "Interactive multi-turn chat (/reset, /think on|off, /exit)");
  add_common_options(chat_cmd, *chat);
  chat_cmd->add_flag("--raw", chat->raw, "No chat template: each line continues the raw text");
  chat_cmd->callback([chat] { run_chat(*chat); });
}

}  // namespace whale::cli

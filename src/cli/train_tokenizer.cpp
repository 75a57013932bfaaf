// `whale train-tokenizer`: trains the byte-level BPE of the built-in tasks and writes DIR/tokenizer.json and
// DIR/tokenizer_config.json (with the DeepSeek-R1 chat template, or --chat-template FILE), the folder
// `whale train --tokenizer` and `whale mkmodel --tokenizer` read.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/commands.h"
#include "core/error.h"
#include "train/bpe_trainer.h"
#include "train/chat_format.h"

namespace whale::cli {
namespace {

namespace fs = std::filesystem;

struct TrainTokenizerOptions {
  std::string tasks = "all";
  int32_t vocab = 512;
  std::string out;
  int64_t problems = 2000;
  uint64_t seed = 0;
  std::string chat_template;
};

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  if (!out) fail("{}: cannot open for writing", path.string());
  out << text;
  out.close();
  if (!out) fail("{}: write failed", path.string());
}

void run_train_tokenizer(const TrainTokenizerOptions& o) {
  std::vector<train::Task> tasks = train::parse_task_list(o.tasks);
  std::string chat_template = train::r1_chat_template();
  if (!o.chat_template.empty()) {
    std::ifstream in(o.chat_template, std::ios::binary);
    if (!in) fail("--chat-template: {}: cannot open", o.chat_template);
    std::ostringstream text;
    text << in.rdbuf();
    chat_template = text.str();
    // Parse it now so a broken template fails here, not at training time.
    ChatTemplate check(chat_template, "", "", o.chat_template);
  }
  train::TrainedTokenizer t = train::train_bpe(train::task_corpus(tasks, o.problems, o.seed), o.vocab, chat_template);
  std::error_code ec;
  fs::create_directories(o.out, ec);
  if (ec || !fs::is_directory(o.out)) fail("--out: {}: cannot create the folder", o.out);
  write_file(fs::path(o.out) / "tokenizer.json", t.tokenizer_json);
  write_file(fs::path(o.out) / "tokenizer_config.json", t.tokenizer_config_json);
  Tokenizer tok = Tokenizer::from_hf_json(t.tokenizer_json, t.tokenizer_config_json);
  std::printf("wrote %s/tokenizer.json and tokenizer_config.json: %d tokens\n", o.out.c_str(), tok.vocab_size());
}

}  // namespace

void add_train_tokenizer_command(CLI::App& app) {
  auto options = std::make_shared<TrainTokenizerOptions>();
  CLI::App* cmd = app.add_subcommand("train-tokenizer", "Train a byte-level BPE tokenizer on the built-in task corpus");
  cmd->add_option("--task", options->tasks, "all, or a comma-separated list of addition, subtraction, multiplication, "
                                            "countdown, linear")
      ->capture_default_str();
  cmd->add_option("--vocab", options->vocab, "Vocabulary size: 256 bytes + merges + 7 added tokens (fewer merges "
                                             "when the corpus runs out of repeated pairs)")
      ->check(CLI::Range(263, 1 << 20))
      ->capture_default_str();
  cmd->add_option("--out", options->out, "Output folder (tokenizer.json, tokenizer_config.json)")->required();
  cmd->add_option("--problems", options->problems, "Training problems per task in the corpus")
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}))
      ->capture_default_str();
  cmd->add_option("--seed", options->seed, "Corpus seed")->capture_default_str();
  cmd->add_option("--chat-template", options->chat_template,
                  "Jinja chat template file for tokenizer_config.json (default: DeepSeek-R1's)");
  cmd->callback([options] { run_train_tokenizer(*options); });
}

}  // namespace whale::cli

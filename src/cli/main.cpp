// whale: the command-line entry point. Parses the subcommand and turns errors into messages and exit codes:
// 0 success, 1 a runtime error (bad file, bad input), 2 a usage error (bad flags).
#include <cstdio>
#include <exception>

#include "cli/commands.h"
#include "core/error.h"

int main(int argc, char** argv) {
  CLI::App app{"whale: run, serve and train DeepSeek-R1-family reasoning models on your own machine"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "whale 0.1.0");
  whale::cli::add_info_command(app);
  whale::cli::add_tokenize_commands(app);
  whale::cli::add_template_command(app);
  whale::cli::add_convert_command(app);
  whale::cli::add_run_commands(app);
  whale::cli::add_mkmodel_command(app);
  whale::cli::add_serve_command(app);
  whale::cli::add_bench_command(app);
  whale::cli::add_quantize_command(app);
  whale::cli::add_train_command(app);
  whale::cli::add_train_tokenizer_command(app);
  whale::cli::add_eval_command(app);
  whale::cli::add_grpo_command(app);
  whale::cli::add_distill_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  } catch (const whale::Error& e) {
    std::fprintf(stderr, "whale: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "whale: error: %s\n", e.what());
    return 1;
  }
  return 0;
}

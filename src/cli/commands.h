// The subcommands of `whale`. Each lives in its own file and registers itself on the top-level app; the
// callback it installs runs the command and may throw whale::Error, which main() reports.
#pragma once

#include <CLI/CLI.hpp>

namespace whale::cli {

void add_info_command(CLI::App& app);
void add_tokenize_commands(CLI::App& app);  // tokenize, detokenize
void add_template_command(CLI::App& app);
void add_convert_command(CLI::App& app);
void add_run_commands(CLI::App& app);      // run, chat
void add_mkmodel_command(CLI::App& app);
void add_serve_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_quantize_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_train_tokenizer_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_grpo_command(CLI::App& app);
void add_distill_command(CLI::App& app);

}  // namespace whale::cli

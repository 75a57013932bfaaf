// `whale run` (being written).
#include "cli/commands.h"

namespace whale::cli {

void add_run_commands(CLI::App& app) { (void)app; }

}  // namespace whale::cli

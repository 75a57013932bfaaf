// `whale serve` (being written).
#include "cli/commands.h"

namespace whale::cli {

void add_serve_command(CLI::App& app) { (void)app; }

}  // namespace whale::cli

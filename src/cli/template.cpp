// `whale template` (being written).
#include "cli/commands.h"

namespace whale::cli {

void add_template_command(CLI::App& app) { (void)app; }

}  // namespace whale::cli

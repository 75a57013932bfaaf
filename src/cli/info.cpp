// `whale info` (being written).
#include "cli/commands.h"

namespace whale::cli {

void add_info_command(CLI::App& app) { (void)app; }

}  // namespace whale::cli

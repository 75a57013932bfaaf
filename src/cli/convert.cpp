// `whale convert` (being written).
#include "cli/commands.h"

namespace whale::cli {

void add_convert_command(CLI::App& app) { (void)app; }

}  // namespace whale::cli

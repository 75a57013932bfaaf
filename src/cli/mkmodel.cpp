// `whale mkmodel` (being written).
#include "cli/commands.h"

namespace whale::cli {

void add_mkmodel_command(CLI::App& app) { (void)app; }

}  // namespace whale::cli

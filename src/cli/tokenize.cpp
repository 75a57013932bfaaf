// `whale tokenize` (being written).
#include "cli/commands.h"

namespace whale::cli {

void add_tokenize_commands(CLI::App& app) { (void)app; }

}  // namespace whale::cli

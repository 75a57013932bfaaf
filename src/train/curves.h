// Training curves a person can open: a CSV of every column and one standalone SVG line chart per column
// (x = the first column, usually the step), with axes, tick labels and a title.
#pragma once

#include <string>
#include <vector>

namespace whale::train {

// Writes PREFIX.csv and PREFIX-<column>.svg for every column after the first. Rows must have one value per
// column. Throws whale::Error when a file cannot be written.
void write_curves(const std::string& path_prefix, const std::vector<std::string>& columns,
                  const std::vector<std::vector<double>>& rows);

// The SVG text of one chart (for tests).
std::string svg_line_chart(const std::string& title, const std::string& x_label, const std::vector<double>& xs,
                           const std::vector<double>& ys);

}  // namespace whale::train

// Tests of the curve files: the CSV holds the values, each SVG is well-formed XML (checked with a small
// tag-balance parser) with axes, tick labels and the data polyline inside the plot area.
#include "train/curves.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

namespace whale::train {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Tags balance (every open tag closed in order, self-closing ones allowed), attributes quoted, one root.
bool well_formed_xml(const std::string& xml, std::string& root) {
  std::vector<std::string> stack;
  std::regex tag(R"(<(/?)([a-zA-Z][a-zA-Z0-9]*)((?:\s+[a-zA-Z:][a-zA-Z0-9:-]*="[^"<]*")*)\s*(/?)>)");
  size_t pos = 0;
  int roots = 0;
  while ((pos = xml.find('<', pos)) != std::string::npos) {
    std::smatch m;
    std::string rest = xml.substr(pos);
    if (!std::regex_search(rest, m, tag, std::regex_constants::match_continuous)) return false;
    if (m[1] == "/") {
      if (stack.empty() || stack.back() != m[2]) return false;
      stack.pop_back();
    } else {
      if (stack.empty()) ++roots, root = m[2];
      if (m[4] != "/") stack.push_back(m[2]);
    }
    pos += static_cast<size_t>(m.length(0));
  }
  // Every '&' starts one of the five predefined entities.
  for (size_t amp = xml.find('&'); amp != std::string::npos; amp = xml.find('&', amp + 1)) {
    if (!std::regex_search(xml.substr(amp, 7), std::regex("^&(lt|gt|amp|quot|apos);"))) return false;
  }
  return stack.empty() && roots == 1;
}

TEST(Curves, WritesCsvAndOneSvgPerColumn) {
  std::string dir = (std::filesystem::temp_directory_path() / "whale-curves-test").string();
  std::filesystem::create_directories(dir);
  std::string prefix = dir + "/run";
  std::vector<std::vector<double>> rows;
  for (int step = 0; step < 50; ++step) rows.push_back({double(step), 3.0 / (1 + step), step % 10 == 0 ? 0.1 * step : NAN});
  write_curves(prefix, {"step", "loss", "accuracy"}, rows);
  std::string csv = read_file(prefix + ".csv");
  std::istringstream lines(csv);
  std::string line;
  std::getline(lines, line);
  EXPECT_EQ(line, "step,loss,accuracy");
  std::getline(lines, line);
  EXPECT_EQ(line, "0,3,0");
  std::getline(lines, line);
  EXPECT_EQ(line, "1,1.5,");  // a missing value is an empty field
  std::getline(lines, line);
  EXPECT_EQ(line, "2,1,");
  for (const char* column : {"loss", "accuracy"}) {
    std::string svg = read_file(fmt::format("{}-{}.svg", prefix, column));
    std::string root;
    ASSERT_TRUE(well_formed_xml(svg, root)) << column;
    EXPECT_EQ(root, "svg");
    EXPECT_NE(svg.find(fmt::format(">{}</text>", column)), std::string::npos);
    EXPECT_NE(svg.find(">step</text>"), std::string::npos);
    EXPECT_NE(svg.find("<polyline"), std::string::npos);
  }
  std::filesystem::remove_all(dir);
}

TEST(Curves, TicksAndPointsLieOnTheAxes) {
  std::vector<double> xs = {0, 100, 200}, ys = {0.5, 0.25, 1.0};
  std::string svg = svg_line_chart("reward <mean>", "step", xs, ys);
  std::string root;
  ASSERT_TRUE(well_formed_xml(svg, root));
  EXPECT_NE(svg.find(">reward &lt;mean&gt;</text>"), std::string::npos);
  // Nice ticks: x 0..200 by 50, y 0.2..1 by 0.2.
  for (const char* label : {">0<", ">50<", ">200<", ">0.2<", ">0.4<", ">1.0<"}) {
    EXPECT_NE(svg.find(label), std::string::npos) << label;
  }
  // Polyline points are inside the plot rectangle (70..620 x 40..350), first at the left edge.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(svg, m, std::regex(R"re(points="([^"]*)")re")));
  std::istringstream pts(m[1].str());
  std::string pt;
  int count = 0;
  while (pts >> pt) {
    double x = std::stod(pt.substr(0, pt.find(','))), y = std::stod(pt.substr(pt.find(',') + 1));
    EXPECT_GE(x, 70 - 1e-9);
    EXPECT_LE(x, 620 + 1e-9);
    EXPECT_GE(y, 40 - 1e-9);
    EXPECT_LE(y, 350 + 1e-9);
    if (count == 0) {
      EXPECT_NEAR(x, 70, 1e-9);
    }
    ++count;
  }
  EXPECT_EQ(count, 3);
}

}  // namespace
}  // namespace whale::train

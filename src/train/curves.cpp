// Training curves as files a person opens directly: a CSV and hand-written SVG line charts (no plotting
// library): axes with "nice" tick values (1, 2 or 5 times a power of ten), tick labels, axis labels, a title
// and the polyline of the data. Non-finite values (a step without an evaluation) are left out of the line.
#include "train/curves.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>

#include "core/error.h"

namespace whale::train {
namespace {

constexpr double kWidth = 640, kHeight = 400;
constexpr double kLeft = 70, kRight = 20, kTop = 40, kBottom = 50;

std::string xml_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

// Tick step: 1, 2 or 5 times a power of ten giving about `target` intervals over `span`.
double nice_step(double span, int target) {
  double raw = span / target;
  double power = std::pow(10.0, std::floor(std::log10(raw)));
  double f = raw / power;
  double nice = f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10;
  return nice * power;
}

std::string format_tick(double v, double step) {
  if (std::fabs(v) < step * 1e-9) v = 0;
  int decimals = step >= 1 ? 0 : static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
  if (std::fabs(v) >= 1e6 || (v != 0 && std::fabs(v) < 1e-4)) return fmt::format("{:.3g}", v);
  return fmt::format("{:.{}f}", v, std::min(decimals, 6));
}

struct Axis {
  double lo, hi, step;
};

Axis make_axis(double lo, double hi) {
  if (!(hi > lo)) {
    double pad = std::fabs(lo) > 0 ? std::fabs(lo) * 0.1 : 1.0;
    lo -= pad;
    hi += pad;
  }
  double step = nice_step(hi - lo, 5);
  return {std::floor(lo / step + 1e-9) * step, std::ceil(hi / step - 1e-9) * step, step};
}

int64_t tick_count(const Axis& axis) { return std::llround((axis.hi - axis.lo) / axis.step); }

std::string csv_number(double v) {
  if (!std::isfinite(v)) return "";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{}", static_cast<int64_t>(v));
  return fmt::format("{:.6g}", v);
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  if (!out) fail("{}: cannot open for writing", path);
  out << text;
  out.close();
  if (!out) fail("{}: write failed", path);
}

}  // namespace

std::string svg_line_chart(const std::string& title, const std::string& x_label, const std::vector<double>& xs,
                           const std::vector<double>& ys) {
  WHALE_ASSERT(xs.size() == ys.size());
  double x_lo = INFINITY, x_hi = -INFINITY, y_lo = INFINITY, y_hi = -INFINITY;
  for (size_t i = 0; i < xs.size(); ++i) {
    if (!std::isfinite(xs[i]) || !std::isfinite(ys[i])) continue;
    x_lo = std::min(x_lo, xs[i]), x_hi = std::max(x_hi, xs[i]);
    y_lo = std::min(y_lo, ys[i]), y_hi = std::max(y_hi, ys[i]);
  }
  if (!std::isfinite(x_lo)) x_lo = 0, x_hi = 1, y_lo = 0, y_hi = 1;  // no data: empty axes
  Axis ax = make_axis(x_lo, x_hi), ay = make_axis(y_lo, y_hi);
  const double plot_w = kWidth - kLeft - kRight, plot_h = kHeight - kTop - kBottom;
  auto px = [&](double x) { return kLeft + (x - ax.lo) / (ax.hi - ax.lo) * plot_w; };
  auto py = [&](double y) { return kTop + plot_h - (y - ay.lo) / (ay.hi - ay.lo) * plot_h; };

  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect width=\"{0}\" height=\"{1}\" fill=\"white\"/>\n"
      "<text x=\"{2}\" y=\"24\" text-anchor=\"middle\" font-size=\"16\">{3}</text>\n",
      kWidth, kHeight, kWidth / 2, xml_escape(title));
  // Grid and ticks.
  for (int64_t i = 0; i <= tick_count(ax); ++i) {
    double v = ax.lo + static_cast<double>(i) * ax.step;
    double x = px(v);
    svg += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" stroke=\"#e0e0e0\"/>\n", x, kTop,
                       kTop + plot_h);
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", x, kTop + plot_h + 18,
                       format_tick(v, ax.step));
  }
  for (int64_t i = 0; i <= tick_count(ay); ++i) {
    double v = ay.lo + static_cast<double>(i) * ay.step;
    double y = py(v);
    svg += fmt::format("<line x1=\"{0}\" y1=\"{1:.1f}\" x2=\"{2}\" y2=\"{1:.1f}\" stroke=\"#e0e0e0\"/>\n", kLeft, y,
                       kLeft + plot_w);
    svg += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n", kLeft - 6, y + 4,
                       format_tick(v, ay.step));
  }
  // Axes and their labels.
  svg += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"black\"/>\n", kLeft, kTop, kTop + plot_h);
  svg += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"black\"/>\n", kLeft, kTop + plot_h,
                     kLeft + plot_w);
  svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", kLeft + plot_w / 2, kHeight - 10,
                     xml_escape(x_label));
  svg += fmt::format("<text x=\"16\" y=\"{0}\" text-anchor=\"middle\" transform=\"rotate(-90 16 {0})\">{1}</text>\n",
                     kTop + plot_h / 2, xml_escape(title));
  // The data.
  std::string points;
  for (size_t i = 0; i < xs.size(); ++i) {
    if (!std::isfinite(xs[i]) || !std::isfinite(ys[i])) continue;
    points += fmt::format("{}{:.2f},{:.2f}", points.empty() ? "" : " ", px(xs[i]), py(ys[i]));
  }
  svg += fmt::format("<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"{}\"/>\n", points);
  svg += "</svg>\n";
  return svg;
}

void write_curves(const std::string& path_prefix, const std::vector<std::string>& columns,
                  const std::vector<std::vector<double>>& rows) {
  WHALE_ASSERT(!columns.empty());
  std::string csv;
  for (size_t c = 0; c < columns.size(); ++c) csv += fmt::format("{}{}", c ? "," : "", columns[c]);
  csv += "\n";
  for (const std::vector<double>& row : rows) {
    WHALE_ASSERT(row.size() == columns.size());
    for (size_t c = 0; c < row.size(); ++c) csv += fmt::format("{}{}", c ? "," : "", csv_number(row[c]));
    csv += "\n";
  }
  write_text(fmt::format("{}.csv", path_prefix), csv);
  std::vector<double> xs;
  for (const std::vector<double>& row : rows) xs.push_back(row[0]);
  for (size_t c = 1; c < columns.size(); ++c) {
    std::vector<double> ys;
    for (const std::vector<double>& row : rows) ys.push_back(row[c]);
    write_text(fmt::format("{}-{}.svg", path_prefix, columns[c]), svg_line_chart(columns[c], columns[0], xs, ys));
  }
}

}  // namespace whale::train

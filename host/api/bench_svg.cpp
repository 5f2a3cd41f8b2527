// BenchReport::to_svg (include/etp/bench.h): the chart of `etp bench`, a self-contained SVG 1.1 document.
//
// Layout: a grouped horizontal bar chart, one group per model (in the order models first appear in the results) and
// one bar per (configuration, thread count): the bar is the median steady-run time, the whisker spans p10..p90.
// Each group has its own linear time axis starting at 0, because models routinely differ by orders of magnitude (a
// 4 us "add" next to a 2 ms CNN); on one shared axis the fast models would be invisible, and a log axis is hard to
// read at a glance. Colours follow the configuration name across groups (Okabe-Ito, colour-blind friendly) and are
// explained by the legend at the top. Without font metrics, text widths are estimated generously.
#include "etp/bench.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace etp {
namespace {

constexpr double kWidth = 900;
constexpr double kMargin = 16;
constexpr double kCharWidth = 0.6;  // average advance of a glyph in em; DejaVu Sans is wider than Arial
constexpr double kLabelFont = 12, kSmallFont = 11, kModelFont = 13, kTitleFont = 18;
constexpr double kRow = 22, kBar = 14;  // a bar's row and the bar's thickness
constexpr size_t kMaxLabelChars = 44, kMaxLegendChars = 40;
constexpr size_t kErrorChars = 60;  // shown, then an ellipsis

// Okabe-Ito without black, which would hide the whisker; the yellow bars get an outline like every bar.
const char* const kPalette[] = {"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442"};
constexpr size_t kPaletteSize = sizeof(kPalette) / sizeof(kPalette[0]);

const char* const kMicro = "\xC2\xB5";         // U+00B5 MICRO SIGN
const char* const kDot = " \xC2\xB7 ";         // U+00B7 MIDDLE DOT, between spaces
const char* const kCross = "\xE2\x9C\x97";     // U+2717 BALLOT X
const char* const kEllipsis = "\xE2\x80\xA6";  // U+2026 HORIZONTAL ELLIPSIS

// ----- Text ----------------------------------------------------------------------------------------------------------

// Decodes UTF-8 into characters XML can carry: malformed bytes become U+FFFD, control characters spaces; runs of
// white space collapse into one and the ends are trimmed, so a multi-line error message reads as one line.
std::u32string clean(const std::string& text) {
  static const char32_t kMin[] = {0, 0x80, 0x800, 0x10000};  // the smallest character of each sequence length
  std::u32string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    char32_t c = 0xFFFD;
    size_t length = 1;
    if (lead < 0x80) {
      c = lead;
    } else {
      const size_t extra = lead >= 0xF0 && lead <= 0xF4   ? 3
                           : lead >= 0xE0 && lead <= 0xEF ? 2
                           : lead >= 0xC2 && lead <= 0xDF ? 1
                                                          : 0;
      char32_t value = lead & (extra == 3 ? 0x07u : extra == 2 ? 0x0Fu : 0x1Fu);
      size_t k = 1;
      for (; extra > 0 && k <= extra && i + k < text.size(); ++k) {
        const auto next = static_cast<unsigned char>(text[i + k]);
        if ((next & 0xC0u) != 0x80u) break;
        value = (value << 6) | (next & 0x3Fu);
      }
      if (extra > 0 && k == extra + 1 && value >= kMin[extra] && value <= 0x10FFFF &&
          (value < 0xD800 || value > 0xDFFF)) {
        c = value;
        length = k;
      }
    }
    if (c < 0x20 || (c >= 0x7F && c < 0xA0) || c == 0xFFFE || c == 0xFFFF) c = ' ';
    if (c != ' ' || (!out.empty() && out.back() != ' ')) out.push_back(c);
    i += length;
  }
  if (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string encode(const std::u32string& text) {
  std::string out;
  out.reserve(text.size());
  for (const char32_t c : text) {
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else if (c < 0x800) {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
      out += static_cast<char>(0xE0 | (c >> 12));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (c & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (c >> 18));
      out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  return out;
}

// `text` cleaned and cut to at most `max_chars` characters, ending in an ellipsis when cut.
std::string clip(const std::string& text, size_t max_chars) {
  std::u32string chars = clean(text);
  if (chars.size() > max_chars && max_chars > 0) {
    chars.resize(max_chars - 1);
    while (!chars.empty() && chars.back() == ' ') chars.pop_back();
    return encode(chars) + kEllipsis;
  }
  return encode(chars);
}

// Characters of `text` as shown, and an estimate of their width in pixels.
size_t char_count(const std::string& text) { return clean(text).size(); }
double text_width(const std::string& text, double font_size) { return char_count(text) * font_size * kCharWidth; }

// `text` cleaned and escaped for XML character data and attribute values.
std::string escape(const std::string& text) {
  std::string out;
  for (const char c : encode(clean(text))) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
  return out;
}

// ----- Numbers -------------------------------------------------------------------------------------------------------

// `value` with `decimals` digits after the point, independent of the C locale (SVG wants '.').
std::string svg_fixed(double value, int decimals) {
  if (!std::isfinite(value)) value = 0;
  const double scale = std::pow(10.0, decimals);
  const double rounded = std::min(std::round(std::fabs(value) * scale), 9e15);
  const auto digits = static_cast<uint64_t>(rounded), unit = static_cast<uint64_t>(scale);
  std::string out = value < 0 && digits != 0 ? "-" : "";
  out += std::to_string(digits / unit);
  if (decimals > 0) {
    const std::string fraction = std::to_string(digits % unit);
    out += "." + std::string(static_cast<size_t>(decimals) - fraction.size(), '0') + fraction;
  }
  return out;
}

// `text` (from fixed) without trailing zeros after the point, nor a lone point.
std::string trim_zeros(std::string text) {
  if (text.find('.') == std::string::npos) return text;
  while (text.back() == '0') text.pop_back();
  if (text.back() == '.') text.pop_back();
  return text;
}

// A coordinate or length in pixels.
std::string px(double value) { return trim_zeros(svg_fixed(value, 1)); }

struct Unit {
  const char* suffix;
  double per_ms;
};

// The unit a time reads best in: us below 1 ms, ms below 1000 ms, else s (after rounding to 3 digits).
Unit unit_for(double ms) {
  static const std::string kMicros = std::string(kMicro) + "s";
  if (ms < 0.9995) return {kMicros.c_str(), 1000};
  if (ms < 999.5) return {"ms", 1};
  return {"s", 0.001};
}

// A time with 3 significant digits and its unit, e.g. "1.23 ms", "4.10 us", "312 ms".
std::string format_time(double ms) {
  if (!std::isfinite(ms)) return "n/a";
  if (ms <= 0) return "0 ms";
  const Unit unit = unit_for(ms);
  const double value = ms * unit.per_ms;
  const int decimals = value >= 99.95 ? 0 : value >= 9.995 ? 1 : value >= 0.9995 ? 2 : 3;
  return svg_fixed(value, decimals) + " " + unit.suffix;
}

// A linear axis from 0 to `intervals` * `step`, where step is 1, 2 or 5 times a power of ten: the smallest such step
// that covers the data in at most 4 intervals, which always takes at least 2 (3 to 5 ticks).
struct Axis {
  double step = 1;
  int intervals = 1;
  double max() const { return step * intervals; }
};

Axis nice_axis(double max_ms) {
  if (!std::isfinite(max_ms) || max_ms <= 0) max_ms = 0.001;
  const double start = std::pow(10.0, std::floor(std::log10(max_ms / 4)));
  for (int decade = 0; decade < 3; ++decade) {
    for (const double mantissa : {1.0, 2.0, 5.0}) {
      const double step = mantissa * start * std::pow(10.0, decade);
      const double intervals = std::ceil(max_ms / step * (1 - 1e-9));
      if (intervals <= 4) return {step, std::max(1, static_cast<int>(intervals))};
    }
  }
  return {max_ms / 4, 4};  // not reached
}

// The label of tick `i`, all ticks in the unit of the axis' end: "0", "250 us", "1.5 ms".
std::string tick_label(const Axis& axis, int i) {
  if (i == 0) return "0";
  const Unit unit = unit_for(axis.max());
  const double step = axis.step * unit.per_ms;
  const int decimals = std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
  return trim_zeros(svg_fixed(step * i, decimals)) + " " + unit.suffix;
}

// ----- Chart parts ---------------------------------------------------------------------------------------------------

std::string bar_label(const BenchResult& result) {
  std::string label = result.config;
  if (result.threads > 0) {
    label += kDot + std::to_string(result.threads) + (result.threads == 1 ? " thread" : " threads");
  }
  return label;
}

std::string noisy_note(const BenchResult& result) {
  const double cv = result.stats.robust_cv * 100;
  return std::isfinite(cv) && cv > 0 ? "noisy (spread " + svg_fixed(cv, cv < 10 ? 1 : 0) + "%)" : "noisy";
}

std::string mismatch_note() { return std::string(kCross) + " outputs differ"; }
bool mismatched(const BenchResult& result) { return result.error.empty() && !result.outputs_match; }

// The text right of a bar: its median, then the markers; and an estimate of its width.
double annotation_width(const BenchResult& result) {
  if (!result.error.empty()) return 0;
  double width = text_width(format_time(result.stats.median), kSmallFont);
  if (mismatched(result)) width += 8 + text_width(mismatch_note(), kSmallFont);
  if (result.noisy) width += 8 + text_width(noisy_note(result), kSmallFont);
  return width;
}

std::string text(double x, double y, const std::string& content, const std::string& attributes = "") {
  return "<text x=\"" + px(x) + "\" y=\"" + px(y) + "\"" + (attributes.empty() ? "" : " " + attributes) + ">" +
         content + "</text>\n";
}

std::string line(double x1, double y1, double x2, double y2, const std::string& attributes) {
  return "<line x1=\"" + px(x1) + "\" y1=\"" + px(y1) + "\" x2=\"" + px(x2) + "\" y2=\"" + px(y2) + "\" " + attributes +
         "/>\n";
}

std::string document(double height, const std::string& body) {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
         "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"" +
         px(kWidth) + "\" height=\"" + px(height) + "\" viewBox=\"0 0 " + px(kWidth) + " " + px(height) +
         "\" font-family=\"sans-serif\" font-size=\"" + px(kLabelFont) +
         "\">\n"
         "<title>etp bench</title>\n"
         "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n" +
         body + "</svg>\n";
}

struct Group {
  std::string model;
  std::vector<const BenchResult*> rows;
  bool has_axis = false;  // some result has a time
  Axis axis;
};

}  // namespace

std::string BenchReport::to_svg() const {
  const double title_y = kMargin + kTitleFont;
  std::string body = text(kMargin, title_y, "etp bench", "font-size=\"" + px(kTitleFont) + "\" font-weight=\"bold\"");

  std::vector<std::string> facts;
  if (!clean(machine.cpu).empty()) facts.push_back(machine.cpu);
  if (machine.logical_cores > 0) facts.push_back(std::to_string(machine.logical_cores) + " cores");
  if (!clean(started).empty()) facts.push_back("started " + started);
  std::string subtitle;
  for (const std::string& fact : facts) subtitle += (subtitle.empty() ? "" : kDot) + fact;
  const double subtitle_y = title_y + 20;
  if (!subtitle.empty()) body += text(kMargin, subtitle_y, escape(clip(subtitle, 130)), "fill=\"#555555\"");

  if (results.empty()) {
    body += text(kMargin, subtitle_y + 26, "no results", "font-size=\"14\" fill=\"#555555\"");
    return document(subtitle_y + 26 + kMargin, body);
  }

  // Groups and colours in the order of first appearance.
  std::vector<Group> groups;
  std::map<std::string, size_t> group_of, colour_of;
  std::vector<std::string> configs;
  for (const BenchResult& result : results) {
    const auto group = group_of.emplace(result.model, groups.size());
    if (group.second) groups.push_back({result.model, {}, false, {}});
    groups[group.first->second].rows.push_back(&result);
    if (colour_of.emplace(result.config, configs.size()).second) configs.push_back(result.config);
  }
  for (Group& group : groups) {
    double max_ms = 0;
    for (const BenchResult* result : group.rows) {
      if (!result->error.empty()) continue;
      group.has_axis = true;
      for (const double ms : {result->stats.median, result->stats.p10, result->stats.p90}) {
        if (std::isfinite(ms)) max_ms = std::max(max_ms, ms);
      }
    }
    group.axis = nice_axis(max_ms);
  }

  // Columns: bar labels (right-aligned), then the plot, as wide as the value and markers right of each bar allow.
  double label_width = 90;
  for (const BenchResult& result : results) {
    label_width = std::max(label_width, text_width(clip(bar_label(result), kMaxLabelChars), kLabelFont));
  }
  const double plot_left = kMargin + label_width + 10, right = kWidth - kMargin;
  double plot_width = right - 30 - plot_left;  // half the last tick label
  for (const Group& group : groups) {
    for (const BenchResult* result : group.rows) {
      if (!result->error.empty()) continue;
      const BenchStats& stats = result->stats;
      double end_ms = 0;
      for (const double ms : {stats.median, stats.p10, stats.p90}) {
        if (std::isfinite(ms)) end_ms = std::max(end_ms, ms);
      }
      const double fraction = std::min(end_ms / group.axis.max(), 1.0);
      const double room = right - plot_left - 6 - annotation_width(*result);
      if (fraction > 0) plot_width = std::min(plot_width, room / fraction);
    }
  }
  plot_width = std::max(plot_width, 200.0);
  const double plot_right = plot_left + plot_width;

  // Legend: a swatch and the configuration name per colour, wrapping onto more rows when needed.
  double y = subtitle_y + 14;
  double x = kMargin;
  for (size_t i = 0; i < configs.size(); ++i) {
    const std::string name = clip(configs[i], kMaxLegendChars);
    const double width = 12 + 6 + text_width(name, kLabelFont) + 18;
    if (x > kMargin && x + width > kWidth - kMargin) {
      x = kMargin;
      y += 20;
    }
    body += "<rect x=\"" + px(x) + "\" y=\"" + px(y) + "\" width=\"12\" height=\"12\" fill=\"" +
            kPalette[i % kPaletteSize] + "\" stroke=\"#000000\" stroke-opacity=\"0.3\"/>\n";
    body += text(x + 18, y + 10.5, escape(name));
    x += width;
  }
  y += 12 + 18;
  body += text(kMargin, y,
               std::string("Bar: median steady-run time") + kDot + "whisker: p10\xE2\x80\x93p90" + kDot +
                   "each model has its own time axis",
               "font-size=\"" + px(kSmallFont) + "\" fill=\"#777777\"");
  y += 12;

  for (const Group& group : groups) {
    y += 14;
    body += text(kMargin, y + kModelFont, escape(clip(group.model, 100)),
                 "font-size=\"" + px(kModelFont) + "\" font-weight=\"bold\"");
    y += kModelFont + 8;
    const double bars_top = y, bars_bottom = y + kRow * group.rows.size();
    const Axis& axis = group.axis;
    const auto to_x = [&](double ms) {
      return plot_left + std::min(std::max(std::isfinite(ms) ? ms : 0.0, 0.0), axis.max()) / axis.max() * plot_width;
    };
    if (group.has_axis) {
      for (int i = 0; i <= axis.intervals; ++i) {
        const double tick_x = plot_left + plot_width * i / axis.intervals;
        body += line(tick_x, bars_top, tick_x, bars_bottom, i == 0 ? "stroke=\"#888888\"" : "stroke=\"#e4e4e4\"");
      }
    }
    for (size_t row = 0; row < group.rows.size(); ++row) {
      const BenchResult& result = *group.rows[row];
      const double top = bars_top + kRow * row, middle = top + kRow / 2, baseline = middle + 4;
      const std::string label = bar_label(result);
      body += "<g>\n";
      body += text(plot_left - 8, baseline, escape(clip(label, kMaxLabelChars)), "text-anchor=\"end\"");
      if (!result.error.empty()) {
        body += "<title>" + escape(clip(result.model + kDot + label + ": " + result.error, 600)) + "</title>\n";
        body += text(plot_left + 4, baseline, escape("error: " + clip(result.error, kErrorChars + 1)),
                     "fill=\"#888888\" font-style=\"italic\"");
        body += "</g>\n";
        continue;
      }
      const BenchStats& stats = result.stats;
      std::string tooltip = result.model + kDot + label + ": median " + format_time(stats.median) + " (p10 " +
                            format_time(stats.p10) + ", p90 " + format_time(stats.p90) + ", " +
                            std::to_string(stats.count) + " runs)";
      if (mismatched(result)) tooltip += kDot + std::string("outputs differ: ") + result.match_detail;
      body += "<title>" + escape(clip(tooltip, 600)) + "</title>\n";

      const double bar_end = to_x(stats.median);
      double end = bar_end;
      if (std::isfinite(stats.median) && stats.median > 0) {
        body += "<rect x=\"" + px(plot_left) + "\" y=\"" + px(middle - kBar / 2) + "\" width=\"" +
                px(std::max(bar_end - plot_left, 1.0)) + "\" height=\"" + px(kBar) + "\" fill=\"" +
                kPalette[colour_of[result.config] % kPaletteSize] + "\" stroke=\"#000000\" stroke-opacity=\"0.3\"/>\n";
        end = std::max(bar_end, plot_left + 1);
      }
      if (stats.count > 0 && std::isfinite(stats.p10) && std::isfinite(stats.p90)) {
        const double low = to_x(std::min(stats.p10, stats.p90)), high = to_x(std::max(stats.p10, stats.p90));
        const std::string path = "M" + px(low) + " " + px(middle) + "H" + px(high) + "M" + px(low) + " " +
                                 px(middle - 5) + "V" + px(middle + 5) + "M" + px(high) + " " + px(middle - 5) + "V" +
                                 px(middle + 5);
        // A white halo first, so the whisker shows on any bar colour.
        body +=
            "<path d=\"" + path + "\" fill=\"none\" stroke=\"#ffffff\" stroke-opacity=\"0.8\" stroke-width=\"3.5\"/>\n";
        body += "<path d=\"" + path + "\" fill=\"none\" stroke=\"#222222\" stroke-width=\"1.5\"/>\n";
        end = std::max(end, high);
      }
      std::string value = escape(format_time(stats.median));
      if (mismatched(result)) {
        value += "<tspan dx=\"8\" fill=\"#cc0000\" font-weight=\"bold\">" + escape(mismatch_note()) + "</tspan>";
      }
      if (result.noisy) {
        value += "<tspan dx=\"8\" fill=\"#8a6d00\" font-style=\"italic\">" + escape(noisy_note(result)) + "</tspan>";
      }
      body += text(end + 6, baseline, value, "font-size=\"" + px(kSmallFont) + "\" fill=\"#222222\"");
      body += "</g>\n";
    }
    y = bars_bottom;
    if (group.has_axis) {
      body += line(plot_left, y, plot_right, y, "stroke=\"#888888\"");
      for (int i = 0; i <= axis.intervals; ++i) {
        const double tick_x = plot_left + plot_width * i / axis.intervals;
        body += line(tick_x, y, tick_x, y + 4, "stroke=\"#888888\"");
        body += text(tick_x, y + 16, escape(tick_label(axis, i)),
                     "font-size=\"" + px(kSmallFont - 1) + "\" fill=\"#555555\" text-anchor=\"middle\"");
      }
      y += 20;
    }
  }
  return document(y + kMargin, body);
}

}  // namespace etp

// Statistics, the machine description, and the bench report's text, Markdown, CSV and JSON
// renderings and baseline comparison (include/etp/bench.h). The SVG chart is bench_svg.cpp.
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include <nlohmann/json.hpp>

#include "api/api_internal.h"
#include "core/error.h"
#include "etp/bench.h"

namespace etp {
namespace {

using nlohmann::json;

// A time in milliseconds with three significant digits and no exponent.
std::string ms_text(double ms) {
  if (!std::isfinite(ms)) return "-";
  char text[32];
  const double a = std::fabs(ms);
  if (a >= 100) {
    std::snprintf(text, sizeof(text), "%.0f", ms);
  } else if (a >= 10) {
    std::snprintf(text, sizeof(text), "%.1f", ms);
  } else if (a >= 1) {
    std::snprintf(text, sizeof(text), "%.2f", ms);
  } else if (a >= 0.001) {
    std::snprintf(text, sizeof(text), "%.4f", ms);
  } else {
    std::snprintf(text, sizeof(text), "%.6f", ms);
  }
  return text;
}

std::string fixed(double v, int decimals) {
  char text[48];
  std::snprintf(text, sizeof(text), "%.*f", decimals, v);
  return text;
}

std::string threads_text(int threads) { return threads > 0 ? std::to_string(threads) : "default"; }

std::string label(const BenchResult& r) {
  const std::string threads = r.threads == 1  ? ", 1 thread"
                              : r.threads > 1 ? ", " + std::to_string(r.threads) + " threads"
                                              : "";
  return r.model + " [" + r.config + threads + "]";
}

// The columns of the results table, shared by text, Markdown and (as raw numbers) CSV.
const std::vector<std::string> kColumns = {"model",  "config", "threads",  "load ms", "first ms", "median ms", "min ms",
                                           "p90 ms", "p99 ms", "spread %", "runs/s",  "+RSS MiB", "outputs"};

std::vector<std::string> row(const BenchResult& r) {
  if (!r.error.empty())
    return {r.model, r.config, threads_text(r.threads), "", "", "", "", "", "", "", "", "", "ERROR"};
  return {r.model,
          r.config,
          threads_text(r.threads),
          ms_text(r.load_ms),
          ms_text(r.first_run_ms),
          ms_text(r.stats.median),
          ms_text(r.stats.min),
          ms_text(r.stats.p90),
          ms_text(r.stats.p99),
          fixed(r.stats.robust_cv * 100, 1) + (r.noisy ? " noisy" : ""),
          r.runs_per_s >= 100 ? fixed(r.runs_per_s, 0) : fixed(r.runs_per_s, 1),
          fixed(r.rss_added_mib, 1),
          r.outputs_match ? "match" : "DIFFER"};
}

// Columns padded to their widest cell; the first `left` columns align left, the rest right.
std::string aligned(const std::vector<std::vector<std::string>>& rows, size_t left) {
  std::vector<size_t> width;
  for (const auto& r : rows) {
    width.resize(std::max(width.size(), r.size()));
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  std::string out;
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      const std::string pad(width[i] - r[i].size(), ' ');
      line += (i ? "  " : "") + (i < left ? r[i] + pad : pad + r[i]);
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string markdown_table(const std::vector<std::vector<std::string>>& rows, size_t left) {
  std::string out;
  for (size_t r = 0; r < rows.size(); ++r) {
    out += "|";
    for (const std::string& cell : rows[r]) {
      std::string escaped;
      for (char c : cell) escaped += c == '|' ? std::string("\\|") : std::string(1, c);
      out += " " + escaped + " |";
    }
    out += "\n";
    if (r == 0) {
      out += "|";
      for (size_t i = 0; i < rows[r].size(); ++i) out += i < left ? " --- |" : " ---: |";
      out += "\n";
    }
  }
  return out;
}

std::string machine_line(const BenchReport& r) {
  const BenchMachine& m = r.machine;
  std::string isa;
  for (const std::string& e : m.isa) isa += (isa.empty() ? "" : " ") + e;
  return m.cpu + ", " + std::to_string(m.logical_cores) + " logical cores, " + std::to_string(m.memory_mib) +
         " MiB; ISA: " + (isa.empty() ? "-" : isa) + "; " + m.os + "; load average " + fixed(m.load_average, 2) +
         " at start";
}

std::string settings_line(const BenchReport& r) {
  return "warmup " + std::to_string(r.warmup) + ", then at least " + std::to_string(r.repetitions) + " runs and " +
         fixed(r.min_time_s, 2) +
         " s of execute time per result, in interleaved rounds of ~5 ms batches of back-to-back runs";
}

std::vector<std::vector<std::string>> profile_rows(const BenchResult& r, size_t top) {
  std::vector<std::vector<std::string>> rows = {{"name", "kind", "plugin", "share", "ms/run", "instruction"}};
  for (size_t i = 0; i < r.profile.size() && i < top; ++i) {
    const ProfileEntry& p = r.profile[i];
    rows.push_back({p.name, p.kind, p.plugin, fixed(p.share * 100, 1) + "%", ms_text(p.ms_per_run),
                    std::to_string(p.instruction)});
  }
  return rows;
}

std::string profile_title(const BenchResult& r) {
  double covered = 0;
  for (const ProfileEntry& p : r.profile) covered += p.share;
  return "profile of " + label(r) + ": " + std::to_string(r.profile.size()) + " kernel and delegate instructions, " +
         fixed(covered * 100, 1) + "% of execute time; profiling overhead " + (r.profile_overhead >= 0 ? "+" : "") +
         fixed(r.profile_overhead * 100, 1) + "%";
}

std::vector<std::vector<std::string>> delta_rows(const BenchReport& report) {
  std::vector<std::vector<std::string>> rows = {
      {"model", "config", "threads", "baseline median ms", "median ms", "ratio", "verdict"}};
  for (const BenchDelta& d : report.deltas) {
    rows.push_back({d.model, d.config, threads_text(d.threads),
                    d.baseline_median_ms > 0 ? ms_text(d.baseline_median_ms) : "-",
                    d.median_ms > 0 ? ms_text(d.median_ms) : "-", d.ratio > 0 ? fixed(d.ratio, 3) : "-", d.verdict});
  }
  return rows;
}

std::string read_first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// result[key] as a number, or a kMalformed status naming it.
Status number(const json& result, const char* key, const std::string& where, double* out) {
  if (!result.contains(key) || !result[key].is_number()) {
    return Status(StatusCode::kMalformed, where + " has no number '" + key + "'");
  }
  *out = result[key].get<double>();
  return Status::success();
}

}  // namespace

BenchStats compute_stats(std::vector<double> samples) {
  BenchStats s;
  s.count = samples.size();
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  auto percentile = [&](double q) {  // linear between order statistics, as numpy's default
    const double pos = q * static_cast<double>(samples.size() - 1);
    const size_t lo = static_cast<size_t>(std::floor(pos));
    const size_t hi = std::min(lo + 1, samples.size() - 1);
    return samples[lo] + (samples[hi] - samples[lo]) * (pos - static_cast<double>(lo));
  };
  s.min = samples.front();
  s.max = samples.back();
  s.median = percentile(0.5);
  s.p10 = percentile(0.10);
  s.p90 = percentile(0.90);
  s.p99 = percentile(0.99);
  double sum = 0;
  for (double v : samples) sum += v;
  s.mean = sum / static_cast<double>(samples.size());
  double squares = 0;
  for (double v : samples) squares += (v - s.mean) * (v - s.mean);
  s.stddev = samples.size() > 1 ? std::sqrt(squares / static_cast<double>(samples.size() - 1)) : 0;
  s.cv = s.mean > 0 ? s.stddev / s.mean : 0;
  s.p25 = percentile(0.25);
  s.p75 = percentile(0.75);
  s.robust_cv = s.median > 0 ? (s.p75 - s.p25) / 1.349 / s.median : 0;
  return s;
}

namespace api {

BenchMachine describe_machine() {
  BenchMachine m;
  // x86 lists "flags", ARM "Features"; these are the extensions kernels dispatch on.
  static const std::set<std::string> kIsa = {"sse4_2",      "avx",         "avx2",       "fma",      "f16c",
                                             "avx512f",     "avx512bw",    "avx512dq",   "avx512vl", "avx512_vnni",
                                             "avx512_bf16", "avx512_fp16", "avx512vbmi", "avx_vnni", "amx_tile",
                                             "amx_bf16",    "amx_int8",    "asimd",      "asimddp",  "asimdhp",
                                             "i8mm",        "bf16",        "sve",        "sve2",     "sme"};
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  std::set<std::string> seen;
  while (std::getline(cpuinfo, line)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon);
    while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) key.pop_back();
    const std::string value = colon + 2 <= line.size() ? line.substr(colon + 2) : "";
    if (m.cpu.empty() && (key == "model name" || key == "Hardware")) m.cpu = value;
    if ((key == "flags" || key == "Features") && m.isa.empty()) {
      std::istringstream words(value);
      for (std::string w; words >> w;) {
        if (kIsa.count(w) && seen.insert(w).second) m.isa.push_back(w);
      }
    }
  }
  if (m.cpu.empty()) m.cpu = "unknown CPU";
  m.logical_cores = static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN));
  utsname u{};
  if (::uname(&u) == 0) m.os = std::string(u.sysname) + " " + u.release + " " + u.machine;
  m.load_average = std::atof(read_first_line("/proc/loadavg").c_str());
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0) m.memory_mib = static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) >> 20;
  return m;
}

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

}  // namespace api

bool BenchReport::ok() const {
  return !results.empty() && std::all_of(results.begin(), results.end(),
                                         [](const BenchResult& r) { return r.error.empty() && r.outputs_match; });
}

bool BenchReport::regressed() const {
  return std::any_of(deltas.begin(), deltas.end(), [](const BenchDelta& d) { return d.verdict == "regression"; });
}

std::string BenchReport::to_text() const {
  std::string out = "etp bench " + etp_version + ": " + source + " (" + started + ")\n";
  out += "machine: " + machine_line(*this) + "\n";
  out += "settings: " + settings_line(*this) + "; times are execute only, inputs copied in before each run\n\n";
  std::vector<std::vector<std::string>> rows = {kColumns};
  for (const BenchResult& r : results) rows.push_back(row(r));
  out += aligned(rows, 2);
  std::string notes;
  for (const BenchResult& r : results) {
    if (!r.error.empty()) {
      notes += "  " + label(r) + ": error: " + r.error + "\n";
    } else if (!r.outputs_match) {
      notes += "  " + label(r) + ": outputs differ: " + r.match_detail + "\n";
    } else if (r.noisy) {
      notes += "  " + label(r) + ": noisy (spread " + fixed(r.stats.robust_cv * 100, 1) + "% > " +
               fixed(noise_threshold * 100, 0) + "%); rerun on a quieter machine or with --min-time\n";
    }
  }
  if (!notes.empty()) out += "\n" + notes;
  for (const BenchResult& r : results) {
    if (r.profile.empty()) continue;
    out += "\n" + profile_title(r) + "\n";
    std::string table = aligned(profile_rows(r, 10), 3);
    for (size_t start = 0; start < table.size();) {
      const size_t end = table.find('\n', start);
      out += "  " + table.substr(start, end - start + 1);
      start = end + 1;
    }
    if (r.profile.size() > 10) out += "  (" + std::to_string(r.profile.size() - 10) + " more in --format json)\n";
  }
  if (!baseline.empty()) {
    out += "\nbaseline " + baseline + " (regression: median more than " + fixed(regression_threshold * 100, 0) +
           "% slower and beyond both runs' p10-p90 spread)\n";
    out += aligned(delta_rows(*this), 3);
  }
  return out;
}

std::string BenchReport::to_markdown() const {
  std::string out = "**etp bench " + etp_version + "** on `" + source + "` (" + started + ")\n\n";
  out += "Machine: " + machine_line(*this) + ".  \nSettings: " + settings_line(*this) + ".\n\n";
  std::vector<std::vector<std::string>> rows = {kColumns};
  for (const BenchResult& r : results) rows.push_back(row(r));
  out += markdown_table(rows, 3);
  for (const BenchResult& r : results) {
    if (!r.error.empty()) out += "\n- " + label(r) + ": error: " + r.error;
    if (r.error.empty() && !r.outputs_match) out += "\n- " + label(r) + ": outputs differ: " + r.match_detail;
  }
  for (const BenchResult& r : results) {
    if (!r.profile.empty()) out += "\n\n" + profile_title(r) + "\n\n" + markdown_table(profile_rows(r, 10), 3);
  }
  if (!baseline.empty()) out += "\n\nBaseline `" + baseline + "`:\n\n" + markdown_table(delta_rows(*this), 3);
  return out + "\n";
}

std::string BenchReport::to_csv() const {
  auto quote = [](const std::string& s) {
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string out = "\"";
    for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
  };
  std::string out =
      "model,config,threads,load_ms,first_run_ms,runs,min_ms,median_ms,mean_ms,p10_ms,p90_ms,p99_ms,max_ms,stddev_ms,"
      "cv,robust_cv,runs_per_s,rss_added_mib,anon_added_mib,peak_rss_mib,outputs_match,noisy,error\n";
  for (const BenchResult& r : results) {
    const BenchStats& s = r.stats;
    std::ostringstream line;
    line.precision(9);
    line << quote(r.model) << ',' << quote(r.config) << ',' << r.threads << ',' << r.load_ms << ',' << r.first_run_ms
         << ',' << s.count << ',' << s.min << ',' << s.median << ',' << s.mean << ',' << s.p10 << ',' << s.p90 << ','
         << s.p99 << ',' << s.max << ',' << s.stddev << ',' << s.cv << ',' << s.robust_cv << ',' << r.runs_per_s << ','
         << r.rss_added_mib << ',' << r.anon_added_mib << ',' << r.peak_rss_mib << ','
         << (r.outputs_match ? "true" : "false") << ',' << (r.noisy ? "true" : "false") << ',' << quote(r.error);
    out += line.str() + "\n";
  }
  return out;
}

std::string BenchReport::to_json() const {
  json doc;
  doc["etp_version"] = etp_version;
  doc["source"] = source;
  doc["started"] = started;
  doc["machine"] = {{"cpu", machine.cpu}, {"logical_cores", machine.logical_cores}, {"isa", machine.isa},
                    {"os", machine.os},   {"load_average", machine.load_average},   {"memory_mib", machine.memory_mib}};
  doc["settings"] = {{"warmup", warmup},
                     {"repetitions", repetitions},
                     {"min_time_s", min_time_s},
                     {"noise_threshold", noise_threshold},
                     {"timing", "execute only; interleaved rounds of ~5 ms batches of back-to-back runs"}};
  doc["files"] = json::array();
  for (const BenchFile& f : files) doc["files"].push_back({{"path", f.path}, {"sha256", f.sha256}});
  doc["plugins"] = json::array();
  for (const BenchPlugin& p : plugins) {
    doc["plugins"].push_back({{"name", p.name}, {"library", p.library}, {"version", p.version}, {"sha256", p.sha256}});
  }
  doc["results"] = json::array();
  for (const BenchResult& r : results) {
    const BenchStats& s = r.stats;
    json j = {{"model", r.model},
              {"config", r.config},
              {"threads", r.threads},
              {"inputs", r.inputs},
              {"load_ms", r.load_ms},
              {"first_run_ms", r.first_run_ms},
              {"runs", s.count},
              {"min_ms", s.min},
              {"median_ms", s.median},
              {"mean_ms", s.mean},
              {"p10_ms", s.p10},
              {"p90_ms", s.p90},
              {"p99_ms", s.p99},
              {"max_ms", s.max},
              {"stddev_ms", s.stddev},
              {"cv", s.cv},
              {"robust_cv", s.robust_cv},
              {"p25_ms", s.p25},
              {"p75_ms", s.p75},
              {"noisy", r.noisy},
              {"runs_per_s", r.runs_per_s},
              {"rss_added_mib", r.rss_added_mib},
              {"anon_added_mib", r.anon_added_mib},
              {"peak_rss_mib", r.peak_rss_mib},
              {"outputs_match", r.outputs_match},
              {"match_detail", r.match_detail}};
    if (!r.error.empty()) j["error"] = r.error;
    if (!r.profile.empty()) {
      j["profile_overhead"] = r.profile_overhead;
      j["profile"] = json::array();
      for (const ProfileEntry& p : r.profile) {
        j["profile"].push_back({{"instruction", p.instruction},
                                {"kind", p.kind},
                                {"name", p.name},
                                {"plugin", p.plugin},
                                {"ms_per_run", p.ms_per_run},
                                {"share", p.share}});
      }
    }
    doc["results"].push_back(std::move(j));
  }
  if (!baseline.empty()) {
    json deltas_json = json::array();
    for (const BenchDelta& d : deltas) {
      deltas_json.push_back({{"model", d.model},
                             {"config", d.config},
                             {"threads", d.threads},
                             {"baseline_median_ms", d.baseline_median_ms},
                             {"median_ms", d.median_ms},
                             {"ratio", d.ratio},
                             {"verdict", d.verdict}});
    }
    doc["baseline"] = {{"file", baseline}, {"threshold", regression_threshold}, {"deltas", std::move(deltas_json)}};
  }
  return doc.dump(2, ' ', false, json::error_handler_t::replace);
}

Status compare_with_baseline(BenchReport* report, const std::string& baseline_json, const std::string& baseline_name,
                             double threshold) {
  if (!(threshold >= 0)) return Status(StatusCode::kInvalidArgument, "the regression threshold must be at least 0");
  json doc = json::parse(baseline_json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("results") || !doc["results"].is_array()) {
    return Status(StatusCode::kMalformed, baseline_name + ": not an etp bench JSON document (no \"results\" array)");
  }
  struct Old {
    double median, p10, p90;
    bool error;
    bool used = false;
  };
  std::map<std::tuple<std::string, std::string, int>, Old> old;
  for (size_t i = 0; i < doc["results"].size(); ++i) {
    const json& r = doc["results"][i];
    const std::string where = baseline_name + ": results[" + std::to_string(i) + "]";
    if (!r.is_object() || !r.contains("model") || !r["model"].is_string() || !r.contains("config") ||
        !r["config"].is_string() || !r.contains("threads") || !r["threads"].is_number_integer()) {
      return Status(StatusCode::kMalformed, where + " lacks model, config or threads");
    }
    Old o{0, 0, 0, r.contains("error")};
    ETP_CHECK_OK(number(r, "median_ms", where, &o.median));
    ETP_CHECK_OK(number(r, "p10_ms", where, &o.p10));
    ETP_CHECK_OK(number(r, "p90_ms", where, &o.p90));
    old[{r["model"].get<std::string>(), r["config"].get<std::string>(), r["threads"].get<int>()}] = o;
  }
  report->deltas.clear();
  report->baseline = baseline_name;
  report->regression_threshold = threshold;
  for (const BenchResult& r : report->results) {
    BenchDelta d{r.model, r.config, r.threads, 0, r.error.empty() ? r.stats.median : 0, 0, "new"};
    auto it = old.find({r.model, r.config, r.threads});
    if (it != old.end()) {
      Old& o = it->second;
      o.used = true;
      d.baseline_median_ms = o.median;
      if (!r.error.empty() || o.error || o.median <= 0) {
        d.verdict = "error";
      } else {
        d.ratio = r.stats.median / o.median;
        const bool slower = d.ratio > 1 + threshold && r.stats.median > o.p90 && o.median < r.stats.p10;
        const bool faster = d.ratio < 1 / (1 + threshold) && r.stats.median < o.p10 && o.median > r.stats.p90;
        d.verdict = slower ? "regression" : faster ? "improvement" : "same";
      }
    }
    report->deltas.push_back(std::move(d));
  }
  for (const auto& [key, o] : old) {
    if (!o.used) {
      report->deltas.push_back({std::get<0>(key), std::get<1>(key), std::get<2>(key), o.median, 0, 0, "missing"});
    }
  }
  return Status::success();
}

}  // namespace etp

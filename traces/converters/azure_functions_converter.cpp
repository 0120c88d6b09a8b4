// Azure Functions 2019, the vHive invitro sample (1350_inv.csv: invocations
// per function per minute over one day; 1350_run.csv: each function's
// execution time percentiles in ms). Minute m's count of a function becomes
// that many arrivals placed uniformly at random in [60(m-1), 60m) s; each
// duration is drawn from the function's percentile curve, piecewise-linear
// between p0, p1, p25, p50, p75, p99 and p100. account = model = the
// function (its hash's first 16 hex digits): the sample collapsed owners
// into functions, so --accounts N is the way to get multi-function tenants.
//
// Memory: the count table (functions x minutes) and one minute of rows.
// Each minute draws from its own substream of the seed, so a --from-s /
// --to-s window is exactly the matching part of the whole day.

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <unordered_map>
#include <unordered_set>

#include "policies/input_error.hpp"
#include "traces/converters/converters.hpp"
#include "traces/converters/trace_sink.hpp"
#include "traces/csv_table.hpp"

namespace usher::traces {

using policies::input_error;
using policies::usec;

namespace {

constexpr std::array<double, 7> percentile_levels = {0, 0.01, 0.25, 0.5, 0.75, 0.99, 1};
constexpr const char* percentile_columns[] = {"percentile_Average_0",  "percentile_Average_1",
                                              "percentile_Average_25", "percentile_Average_50",
                                              "percentile_Average_75", "percentile_Average_99",
                                              "percentile_Average_100"};
constexpr usec minute = policies::seconds(60);

// 1350_inv.csv.gz -> 1350_run.csv (or .csv.gz), next to it.
std::string default_durations_file(const std::string& inv) {
  namespace fs = std::filesystem;
  fs::path p(inv);
  std::string name = p.filename().string();
  auto at = name.rfind("inv");
  if (at == std::string::npos) return {};
  name.replace(at, 3, "run");
  if (name.size() > 3 && name.compare(name.size() - 3, 3, ".gz") == 0) name.resize(name.size() - 3);
  for (const char* ext : {"", ".gz"}) {
    auto candidate = p.parent_path() / (name + ext);
    if (fs::exists(candidate)) return candidate.string();
  }
  return {};
}

struct function_curve {
  std::vector<std::pair<double, double>> points;  // (probability, ms)
};

std::unordered_map<std::string, function_curve> read_curves(const std::string& path) {
  csv_table in(path);
  const char* expected =
      "the durations file needs HashFunction and percentile_Average_{0,1,25,50,75,99,100}";
  int hash = in.require("HashFunction", expected);
  std::array<int, 7> cols;
  for (std::size_t i = 0; i < cols.size(); ++i)
    cols[i] = in.require(percentile_columns[i], expected);
  std::unordered_map<std::string, function_curve> curves;
  while (in.next()) {
    function_curve c;
    for (std::size_t i = 0; i < cols.size(); ++i) {
      double ms = in.number(cols[i], 0);
      if (!c.points.empty() && ms < c.points.back().second)
        in.fail(cols[i], "percentiles must not decrease");
      c.points.emplace_back(percentile_levels[i], ms);
    }
    curves[std::string(in.text(hash))] = std::move(c);
  }
  return curves;
}

struct invocation {
  usec at;
  std::uint32_t function;
  usec duration;
};

}  // namespace

convert_result convert_azure_functions(const convert_options& options) {
  check_cost_mode(options, {}, "azure-functions");
  convert_result result;
  std::string durations = options.durations_file.empty() ? default_durations_file(options.input)
                                                         : options.durations_file;
  if (durations.empty())
    throw input_error::in(
        options.input, "no durations file found next to it (1350_run.csv); pass --durations FILE");
  auto curves = read_curves(durations);

  // The count table, function by function.
  csv_table in(options.input);
  int hash =
      in.require("HashFunction", "azure-functions needs HashFunction and 1_minute, 2_minute, ...");
  std::vector<int> minute_cols;
  for (std::size_t i = 0;; ++i) {
    int c = in.find(std::to_string(i + 1) + "_minute");
    if (c < 0) break;
    minute_cols.push_back(c);
  }
  if (minute_cols.empty())
    throw input_error::at(
        options.input, 1, "column '1_minute'",
        "missing from the header (azure-functions needs 1_minute, 2_minute, ...)");
  std::vector<std::string> names;
  std::vector<const function_curve*> curve_of;
  std::vector<std::uint32_t> counts;  // [function * minutes + minute]
  while (in.next()) {
    std::string name(in.text(hash));
    auto it = curves.find(name);
    if (it == curves.end())
      in.fail(hash, "function " + policies::quoted(name) + " has no row in " + durations);
    curve_of.push_back(&it->second);
    names.push_back(std::move(name));
    for (int c : minute_cols) {
      auto n = in.count(c);
      if (n > 10'000'000) in.fail(c, "more than 10,000,000 invocations in a minute");
      counts.push_back(static_cast<std::uint32_t>(n));
      result.source_records += static_cast<std::uint64_t>(n);
    }
  }
  // Short names (16 hex digits) unless two functions share them.
  std::unordered_set<std::string> shorts;
  for (auto& n : names) shorts.insert(n.substr(0, 16));
  if (shorts.size() == names.size())
    for (auto& n : names) n.resize(std::min<std::size_t>(n.size(), 16));

  trace_sink sink(options, {}, true, result);
  std::vector<invocation> batch;
  const std::size_t minutes = minute_cols.size();
  for (std::size_t m = 0; m < minutes; ++m) {
    usec start = static_cast<usec>(m) * minute;
    if (sink.past(start)) break;
    if (start + minute <= options.from) continue;
    rng g(substream_seed(options.seed, stable_hash("azure-functions"), m));
    batch.clear();
    for (std::uint32_t f = 0; f < names.size(); ++f) {
      for (std::uint32_t k = counts[f * minutes + m]; k > 0; --k) {
        usec at = start + static_cast<usec>(uniform_below(g, minute));
        double ms = piecewise_linear_quantile(curve_of[f]->points, uniform01(g));
        batch.push_back({at, f, static_cast<usec>(std::llround(ms * 1000.0))});
      }
    }
    std::stable_sort(batch.begin(), batch.end(),
                     [](const invocation& a, const invocation& b) { return a.at < b.at; });
    for (auto& inv : batch) {
      trace_row row;
      row.at = inv.at;
      row.duration = inv.duration;
      row.account = row.model = names[inv.function];
      sink.write(row);
    }
  }
  sink.close();
  return result;
}

}  // namespace usher::traces

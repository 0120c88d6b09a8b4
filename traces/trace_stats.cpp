#include "traces/trace_stats.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <queue>
#include <unordered_map>

#include "policies/input_error.hpp"
#include "policies/wait_histogram.hpp"
#include "traces/csv_table.hpp"

namespace usher::traces {

using policies::format_seconds;
using policies::usec;

namespace {

// Duration quantiles exact to the millisecond for durations up to an hour
// (a count per millisecond, grown to the longest seen: at most 29 MB), and
// within 1.6 % beyond (policies::wait_histogram).
class duration_quantiles {
 public:
  void add(usec d) {
    auto ms = static_cast<std::size_t>(d / 1000);
    if (ms >= cap_ms) {
      long_.add(d);
    } else {
      if (ms >= counts_.size()) counts_.resize(ms + 1, 0);
      ++counts_[ms];
    }
    ++count_;
  }
  // The value of the ceil(q * count)-th smallest duration, to the millisecond.
  usec quantile(double q) const {
    if (count_ == 0) return 0;
    auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_)));
    rank = std::clamp<std::uint64_t>(rank, 1, count_);
    std::uint64_t seen = 0;
    for (std::size_t ms = 0; ms < counts_.size(); ++ms)
      if ((seen += counts_[ms]) >= rank) return static_cast<usec>(ms) * 1000;
    return long_.quantile(static_cast<double>(rank - seen) / static_cast<double>(long_.count()));
  }

 private:
  static constexpr std::size_t cap_ms = 3'600'000;
  std::vector<std::uint32_t> counts_;
  policies::wait_histogram long_;
  std::uint64_t count_ = 0;
};

}  // namespace

trace_stats compute_trace_stats(const std::string& path, std::size_t top) {
  csv_table in(path);
  const char* expected = "required: arrival_s, account, duration_s";
  int arrival = in.require("arrival_s", expected);
  int account = in.require("account", expected);
  int duration = in.require("duration_s", expected);
  int model = in.find("model");

  trace_stats s;
  std::unordered_map<std::string, std::uint64_t> per_account;
  std::unordered_map<std::string, std::uint64_t> per_model;
  std::priority_queue<usec, std::vector<usec>, std::greater<usec>> ends;
  duration_quantiles durations;
  usec total = 0, max = 0;
  while (in.next()) {
    usec at = in.seconds(arrival), d = in.seconds(duration);
    if (s.rows > 0 && at < s.last)
      in.fail(arrival, "rows must be sorted by arrival_s: " + format_seconds(at) + " comes after " +
                           format_seconds(s.last));
    auto name = in.text(account);
    if (name.empty()) in.fail(account, "must not be empty");
    if (s.rows == 0) s.first = at;
    s.last = at;
    ++s.rows;
    ++per_account[std::string(name)];
    if (auto m = in.text(model); !m.empty()) ++per_model[std::string(m)];
    durations.add(d);
    total += d;
    max = std::max(max, d);
    while (!ends.empty() && ends.top() <= at) ends.pop();  // releases first
    if (d > 0) ends.push(at + d);
    if (static_cast<std::int64_t>(ends.size()) > s.peak_concurrency) {
      s.peak_concurrency = static_cast<std::int64_t>(ends.size());
      s.peak_at = at;
    }
  }
  s.accounts = per_account.size();
  s.models = per_model.size();
  if (s.rows > 0) {
    s.duration_mean = total / static_cast<usec>(s.rows);
    s.duration_p50 = durations.quantile(0.5);
    s.duration_p90 = durations.quantile(0.9);
    s.duration_p99 = durations.quantile(0.99);
    s.duration_max = max;
  }
  for (auto& [name, n] : per_account) s.top.push_back({name, n});
  auto order = [](const trace_stats::account_count& a, const trace_stats::account_count& b) {
    return a.requests != b.requests ? a.requests > b.requests : a.account < b.account;
  };
  auto keep = std::min(top, s.top.size());
  std::partial_sort(s.top.begin(), s.top.begin() + static_cast<std::ptrdiff_t>(keep), s.top.end(),
                    order);
  s.top.resize(keep);
  return s;
}

namespace {

std::string fixed(double x, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, x);
  return buf;
}

// Durations to the millisecond: the percentiles are within 1.6 % anyway.
std::string ms(usec t) {
  return format_seconds((t + 500) / 1000 * 1000);
}

// Requests per second with three significant digits ("0.00607", "5.53", "1790").
std::string rate(double x) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.3g", x);
  return buf;
}

}  // namespace

std::string format_trace_stats(const trace_stats& s) {
  usec span = s.last - s.first;
  double span_s = static_cast<double>(span) / 1e6;
  std::string out;
  auto line = [&](const char* label, const std::string& value) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%-10s", label);
    out += buf + value + "\n";
  };
  line("rows", std::to_string(s.rows));
  line("span", format_seconds(s.first) + " .. " + format_seconds(s.last) + " s (" +
                   fixed(span_s / 3600, 2) + " h, " + fixed(span_s / 86400, 2) + " days)");
  line("accounts", std::to_string(s.accounts));
  line("models", std::to_string(s.models));
  line("rate", span > 0 ? rate(static_cast<double>(s.rows) / span_s) + " req/s" : "-");
  line("duration", "mean " + ms(s.duration_mean) + " s, p50 " + ms(s.duration_p50) + " s, p90 " +
                       ms(s.duration_p90) + " s, p99 " + ms(s.duration_p99) + " s, max " +
                       format_seconds(s.duration_max) + " s");
  line("peak", std::to_string(s.peak_concurrency) + " in flight with no limit, first at " +
                   format_seconds(s.peak_at) + " s");
  if (s.top.empty()) return out;
  out += "\ntop " + std::to_string(s.top.size()) + " accounts by requests\n";
  std::size_t width = 7;
  for (auto& a : s.top) width = std::max(width, a.account.size());
  char buf[512];
  std::snprintf(buf, sizeof(buf), "%-*s %10s %7s %10s\n", static_cast<int>(width), "account",
                "requests", "share", "req/s");
  out += buf;
  for (auto& a : s.top) {
    std::string share =
        fixed(100.0 * static_cast<double>(a.requests) / static_cast<double>(s.rows), 1) + " %";
    std::string r = span > 0 ? rate(static_cast<double>(a.requests) / span_s) : "-";
    std::snprintf(buf, sizeof(buf), "%-*s %10llu %7s %10s\n", static_cast<int>(width),
                  a.account.substr(0, 200).c_str(), static_cast<unsigned long long>(a.requests),
                  share.c_str(), r.c_str());
    out += buf;
  }
  return out;
}

}  // namespace usher::traces

// Generates the replay benchmark's traces (bench/bench_trace.hpp).

#include "bench/bench_trace.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <stdexcept>

namespace usher::bench {

namespace {

// Uniform in [0, 1) from the top 53 bits: the same on every platform.
double uniform(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

// Exponential with the given mean, in whole microseconds (inverse CDF).
std::int64_t exponential_us(std::mt19937_64& rng, double mean_s) {
  return std::llround(-mean_s * std::log1p(-uniform(rng)) * 1e6);
}

// "12.345678": whole seconds, then always six decimals (usher reads it exactly).
char* put_seconds(char* p, std::int64_t us) {
  p += std::sprintf(p, "%lld.%06lld", static_cast<long long>(us / 1000000),
                    static_cast<long long>(us % 1000000));
  return p;
}

}  // namespace

std::vector<trace_spec> standard_traces() {
  trace_spec streams{"streams-1m", 1'000'000, 1, 0.9, 0.9, 10, 10, 2};
  trace_spec mix{"mix-1m", 1'000'000, 1000, 0.2, 1.2, 10, 10, 3};
  trace_spec big = streams;
  big.name = "streams-10m";
  big.rows = 10'000'000;
  return {streams, mix, big};
}

std::string account_name(std::uint32_t index) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "a%04u", index);
  return buf;
}

trace_rows generate(const trace_spec& spec) {
  std::mt19937_64 rng(spec.seed);
  // Each account's arrival rate (per second) from its load; the trace is
  // their superposition: one Poisson stream of the total rate, each row
  // drawn to an account in proportion to its rate.
  std::vector<double> cumulative(spec.accounts);
  double total = 0;
  for (std::uint32_t a = 0; a < spec.accounts; ++a) {
    double load = spec.load_min + (spec.load_max - spec.load_min) * uniform(rng);
    total += load * spec.streams / spec.mean_duration_s;
    cumulative[a] = total;
  }
  trace_rows out;
  out.at.reserve(spec.rows);
  out.duration.reserve(spec.rows);
  out.account.reserve(spec.rows);
  std::int64_t at = 0;
  for (std::uint64_t i = 0; i < spec.rows; ++i) {
    at += exponential_us(rng, 1.0 / total);
    std::uint32_t account = 0;
    if (spec.accounts > 1) {
      double pick = uniform(rng) * total;
      account = static_cast<std::uint32_t>(
          std::upper_bound(cumulative.begin(), cumulative.end(), pick) - cumulative.begin());
      account = std::min(account, spec.accounts - 1);
    }
    out.at.push_back(at);
    out.duration.push_back(exponential_us(rng, spec.mean_duration_s));
    out.account.push_back(account);
  }
  return out;
}

void write_csv(const trace_rows& rows, const std::string& path) {
  std::string temp = path + ".tmp";
  std::FILE* f = std::fopen(temp.c_str(), "wb");
  if (f == nullptr) throw std::runtime_error(temp + ": cannot write");
  std::vector<std::string> names;
  std::string buf = "arrival_s,account,duration_s\n";
  char line[96];
  for (std::size_t i = 0; i < rows.size(); ++i) {
    while (names.size() <= rows.account[i]) names.push_back(account_name(static_cast<std::uint32_t>(names.size())));
    char* p = put_seconds(line, rows.at[i]);
    *p++ = ',';
    const std::string& name = names[rows.account[i]];
    p = std::copy(name.begin(), name.end(), p);
    *p++ = ',';
    p = put_seconds(p, rows.duration[i]);
    *p++ = '\n';
    buf.append(line, p);
    if (buf.size() >= (1 << 20) || i + 1 == rows.size()) {
      if (std::fwrite(buf.data(), 1, buf.size(), f) != buf.size()) {
        std::fclose(f);
        throw std::runtime_error(temp + ": write failed");
      }
      buf.clear();
    }
  }
  if (!buf.empty()) std::fwrite(buf.data(), 1, buf.size(), f);
  if (std::fclose(f) != 0) throw std::runtime_error(temp + ": write failed");
  std::filesystem::rename(temp, path);
}

}  // namespace usher::bench

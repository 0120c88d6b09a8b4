#pragma once
/// The traces of the replay benchmark (issue #2), generated deterministically
/// so every machine replays the same rows: a seeded std::mt19937_64 and our
/// own inverse-CDF exponential sampling (std::exponential_distribution is
/// implementation-defined, so it could differ between standard libraries).
///
/// Every trace is an open-loop Poisson stream of requests with exponential
/// durations (mean 10 s) against the streams family with 10 streams and a
/// queue of depth 5 per account; the load of an account is its arrival rate
/// times the mean duration over its 10 streams.
///
///   streams-1m   1,000,000 rows, one account at 90 % load
///   mix-1m       1,000,000 rows, 1,000 accounts with loads uniform in
///                [0.2, 1.2): the busier fifth of them queue, time out and
///                are refused, the rest mostly run at once
///   streams-10m  10,000,000 rows, as streams-1m (for memory)
///
/// Times are integer microseconds, as in usher; the CSV prints them with six
/// decimals, so the file and the in-memory arrays hold exactly the same rows.

#include <cstdint>
#include <string>
#include <vector>

namespace usher::bench {

/// One benchmark trace: what to generate.
struct trace_spec {
  std::string name;            ///< file stem: NAME.csv
  std::uint64_t rows = 0;
  std::uint32_t accounts = 1;
  double load_min = 0.9;       ///< each account's load, uniform in [load_min, load_max)
  double load_max = 0.9;       ///< (equal: every account the same)
  double mean_duration_s = 10;
  int streams = 10;            ///< per account (the plan's limit)
  std::uint64_t seed = 2;
};

/// The three traces above, by name.
std::vector<trace_spec> standard_traces();

/// The rows of a trace as plain arrays (structure of arrays), sorted by
/// arrival. The account of a row is an index; its name is account_name(i).
struct trace_rows {
  std::vector<std::int64_t> at;        ///< arrival, us
  std::vector<std::int64_t> duration;  ///< us
  std::vector<std::uint32_t> account;
  std::size_t size() const { return at.size(); }
};

/// Generates the rows of `spec`. Deterministic: same spec, same rows.
trace_rows generate(const trace_spec& spec);

std::string account_name(std::uint32_t index);

/// Writes `rows` as CSV (arrival_s,account,duration_s) to `path`, through a
/// temporary file renamed at the end, so a killed run leaves no half file.
/// Throws std::runtime_error when the disk refuses.
void write_csv(const trace_rows& rows, const std::string& path);

}  // namespace usher::bench

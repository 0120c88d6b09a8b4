#pragma once
/// `usher trace stats`: what a trace holds before it is simulated. Reads an
/// usher trace CSV (docs/FORMATS.md; gzip too) in one pass: rows, span,
/// accounts, models, durations, the busiest accounts, and the peak
/// concurrency with no limit.
///
/// Peak concurrency: each row occupies [arrival, arrival + duration); at one
/// instant releases come before starts (DESIGN.md's order), so a request
/// ending at t and one starting at t never overlap, and a zero-duration row
/// occupies nothing. Duration quantiles are the ceil(q x rows)-th smallest
/// duration, cut to the millisecond (within 1.6 % past an hour). Memory
/// grows with accounts, rows in flight and the longest duration (a count per
/// millisecond up to an hour), not with the rows. Times are integer
/// microseconds.

#include <cstdint>
#include <string>
#include <vector>

#include "policies/time.hpp"

namespace usher::traces {

struct trace_stats {
  struct account_count {
    std::string account;
    std::uint64_t requests = 0;
  };

  std::uint64_t rows = 0;
  policies::usec first = 0, last = 0;  ///< first and last arrival
  std::uint64_t accounts = 0, models = 0;
  policies::usec duration_mean = 0, duration_p50 = 0, duration_p90 = 0, duration_p99 = 0,
                 duration_max = 0;
  std::int64_t peak_concurrency = 0;
  policies::usec peak_at = 0;      ///< first instant the peak was reached
  std::vector<account_count> top;  ///< by requests, most first; ties by name
};

/// Reads `path`. Throws policies::input_error naming file, line and column
/// when it is not an usher trace (the rules of traces/trace_reader: columns
/// arrival_s, account, duration_s; rows sorted by arrival_s).
trace_stats compute_trace_stats(const std::string& path, std::size_t top);

/// The readable table `usher trace stats` prints.
std::string format_trace_stats(const trace_stats& stats);

}  // namespace usher::traces

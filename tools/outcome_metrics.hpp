#pragma once
/// The numbers `compare`, `sweep` and `advise` put side by side, taken from
/// one summary.json entry (overall or one account; traces/summary.hpp):
/// rates of each status, waits, utilization and peak in flight. Every rate
/// is a share of the entry's requests: rate_200, rate_408, rate_429 and
/// rate_1008 count final statuses; rate_202 counts requests answered 202
/// first (queued), whatever they ended with; not_200_rate is 1 - rate_200
/// (every request that did not end in 200: 408, 429, 1008, 400, 499, 500).
/// Values are read from the summary's integer counts, so two runs that
/// print the same summary give the same row.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace usher::tools {

struct outcome_metrics {
  std::int64_t requests = 0;
  double rate_200 = 0, rate_202 = 0, rate_408 = 0, rate_429 = 0, rate_1008 = 0;
  double rate_other = 0;  ///< 400, 499, 500; in tables only (the five final rates add up to 1)
  double not_200_rate = 0;
  double wait_mean_s = 0, wait_p95_s = 0, wait_p99_s = 0;
  std::optional<double> utilization;  ///< none when the pool is not per account or unlimited
  std::int64_t peak_in_flight = 0;
  /// How long admitted requests held their units: their durations, or
  /// under a backend model what the load made of them (docs/PLANS.md).
  double hold_mean_s = 0;

  /// Reads one entry of summary.json ("overall" or accounts[NAME]).
  static outcome_metrics of(const nlohmann::json& entry);

  /// CSV column names, in the order of csv_fields().
  static const std::vector<std::string>& names();
  /// The values as CSV fields (decimal text, utilization empty when none).
  std::vector<std::string> csv_fields() const;
  /// Every field; doubles as JSON keeps them, so from_json(to_json()) is
  /// the same value, bit for bit (a sweep's journal relies on it).
  nlohmann::json to_json() const;
  /// Reads what to_json() wrote. Throws nlohmann::json's errors when a key is missing.
  static outcome_metrics from_json(const nlohmann::json& j);

  /// Fixed-width table cells: the final statuses in % (200, 408, 429,
  /// 1008, other: they add up to 100 %), then apart the share queued (202
  /// first), the three waits in s, utilization, peak and the mean hold in
  /// s; and the matching header.
  std::string table_cells() const;
  static std::string table_header();
};

/// Formats a number for CSV and tables: up to six decimals, no trailing
/// zeros ("0.25", "12"), so files compare byte for byte.
std::string decimal(double x);

/// "12.34%" of a share; "-" for none.
std::string percent(std::optional<double> share);

/// Joins CSV fields into one line (with \n), quoting fields that need it.
std::string csv_line(const std::vector<std::string>& fields);

}  // namespace usher::tools

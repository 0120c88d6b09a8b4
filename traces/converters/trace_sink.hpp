#pragma once
/// Where every converter's rows go: applies the options every format shares
/// (time window, rebase and time scale, account and model mapping, ids) and
/// writes usher's trace CSV (docs/FORMATS.md) through traces/csv_out.
///
/// Columns: id,arrival_s,account,model,duration_s, then cost, fail and
/// input_tokens,output_tokens when the converter asks for them (usher's
/// trace reader ignores the token columns; they show where a duration came
/// from). Ids count output rows from 1.
///
/// Accounts: `--account` fixes one; a source with accounts keeps them, or
/// with `--accounts N` maps each to one of N synthetic accounts by a Zipf
/// pick from a hash of (seed, name), so the mapping does not depend on which
/// rows a window keeps; a source without accounts draws one per source row
/// from a seeded Zipf stream, also before the window is applied.
///
/// Owned by one conversion; not thread-safe.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "traces/converters/convert_options.hpp"
#include "traces/csv_out.hpp"
#include "traces/random.hpp"

namespace usher::traces {

/// One request as a converter sees it, in source time.
struct trace_row {
  policies::usec at = 0;  ///< source time
  policies::usec duration = 0;
  std::string_view account;  ///< "" when the source has none
  std::string_view model;
  std::int64_t cost = -1;  ///< -1: none
  bool fail = false;
  std::int64_t input_tokens = -1, output_tokens = -1;  ///< -1: unknown
};

struct sink_columns {
  bool cost = false;
  bool fail = false;
  bool tokens = false;
};

class trace_sink {
 public:
  /// Opens options.output. `source_has_accounts` selects the account rule
  /// above. Adds a note to `result` when synthetic accounts are drawn.
  /// Throws input_error when the output cannot be written.
  trace_sink(const convert_options& options, sink_columns columns, bool source_has_accounts,
             convert_result& result);

  /// Writes `row` when its source time is in the window.
  /// REQUIRES: rows come in non-decreasing source time.
  void write(const trace_row& row);

  /// True when no later source time can be in the window: stop reading.
  [[nodiscard]] bool past(policies::usec source_time) const { return source_time >= options_.to; }

  /// Flushes and closes the output. Throws input_error on a failed write.
  void close();

 private:
  std::string_view account_of(std::string_view source_account);

  const convert_options& options_;
  sink_columns columns_;
  bool source_has_accounts_;
  convert_result& result_;
  csv_out out_;
  std::vector<std::string> synthetic_;  // synthetic account names
  std::unique_ptr<zipf_table> zipf_;
  rng draws_;                                              // per-row account draws
  std::unordered_map<std::string, std::uint32_t> bucket_;  // source account -> synthetic
  std::unordered_map<std::string, std::string> model_map_;
  policies::usec last_source_ = 0;
};

}  // namespace usher::traces

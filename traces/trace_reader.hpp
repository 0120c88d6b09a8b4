#pragma once
/// Reads a request trace (CSV with a header; docs/FORMATS.md) into arrivals.
///
/// Columns are found by name, in any order; extra columns are ignored.
/// Required: arrival_s, account, duration_s. Optional: id, key, model,
/// product, cost, kind, conn, fail, input_tokens, output_tokens (their sum is
/// the request's tokens), priority, node (cluster-sim's). Rows must be sorted by arrival_s. Every
/// problem is reported with file, line and column, and reading stops there.
/// The file may be gzip-compressed, and `-` reads standard input
/// (traces/gzip_source.hpp); a directory is refused with a message that says so.
///
/// The reader interns names (models the plan names first, so their ids match
/// the plan's tables), resolves each row's profile and cost through the plan,
/// and keeps each row's printable label until the writer takes it: memory
/// grows with rows in flight, not with the trace.

#include <deque>
#include <memory>
#include <optional>
#include <utility>
#include <string>
#include <string_view>
#include <vector>

#include "policies/plan.hpp"
#include "policies/records.hpp"
#include "traces/interner.hpp"

namespace io {
template <unsigned, class, class, class, class>
class CSVReader;
}

namespace usher::traces {

/// What outcomes.csv prints about a row besides its outcome.
struct row_label {
  std::string id;  ///< the trace's id, or empty (then the row number is used)
  std::uint32_t account = 0;
  std::uint32_t key = 0;
  std::uint32_t model = policies::no_id;
  policies::usec at = 0;
  std::string node;  ///< the member a cluster-sim row enters at; "": in turn (simulate ignores it)
  std::size_t line = 0;  ///< the row's line in the file (for errors found after reading)
};

/// The arrival times of the first and the last row of a plain trace file,
/// read from its header and the lines at its two ends alone (for progress
/// lines: how far a run has to go). Nothing for standard input, gzip, a
/// trace without rows, or end lines that do not read.
std::optional<std::pair<policies::usec, policies::usec>> arrival_span(const std::string& path);

class trace_reader {
 public:
  /// Opens `path` and reads its header. Throws policies::input_error. An
  /// empty path reads no rows (a run of generated accounts only).
  trace_reader(const std::string& path, std::shared_ptr<const policies::plan> plan);
  /// Reads one piece of a plain trace file held in memory: `header` (the
  /// file's header line), then `body` (whole lines of the file; the last may
  /// lack its '\n'), each line taken as from the file. Line numbers in
  /// errors count from the piece's header. For traces/loaded_trace, which
  /// reads a large file in pieces at once.
  trace_reader(const std::string& display_name, std::string_view header, std::string_view body,
               std::shared_ptr<const policies::plan> plan);
  ~trace_reader();

  /// Appends up to `max` rows to `out`. Returns false on bad input, with the
  /// message (file:line: column 'x': ...) in `error`. An empty append is the end.
  /// With `own_costs`, also appends each row's own `cost` (-1 when the row has
  /// none) in step with `out`: what traces/loaded_trace keeps so that another
  /// plan can resolve the row's cost again.
  bool read(std::vector<policies::arrival>& out, std::size_t max, std::string& error,
            std::vector<std::int64_t>* own_costs = nullptr);

  /// The label of the oldest row not yet taken.
  row_label take_label();

  /// Names that do not come from the trace (generated accounts, their
  /// models) get ids here, before reading, so ids stay deterministic.
  std::uint32_t intern_account(const std::string& name) { return accounts_.intern(name); }
  std::uint32_t intern_model(const std::string& name) { return models_.intern(name); }

  /// The plan's plug-in gates (outcomes.csv names the one that refused).
  const std::vector<policies::gate_spec>& gates() const { return plan_->gates(); }
  const interner& accounts() const { return accounts_; }
  const interner& keys() const { return keys_; }
  const interner& models() const { return models_; }
  const interner& products() const { return products_; }
  const interner& connections() const { return conns_; }
  std::uint64_t rows_read() const { return next_seq_; }
  /// Whether the header names a `priority` column (outcomes.csv then
  /// prints each row's).
  bool has_priority() const { return has_priority_; }

 private:
  template <class MakeBytes>
  void open(MakeBytes make_bytes);
  bool read_row(policies::arrival& a, std::string& error, std::int64_t& own_cost);

  struct csv;  // hides the CSV parser's template from includers
  std::unique_ptr<csv> in_;
  std::string path_;
  std::shared_ptr<const policies::plan> plan_;
  interner accounts_, keys_, models_, products_, conns_;
  std::vector<std::uint16_t> profile_by_account_;
  std::deque<row_label> labels_;
  std::uint64_t next_seq_ = 0;
  policies::usec last_at_ = 0;
  bool done_ = false;
  bool has_priority_ = false;
};

}  // namespace usher::traces

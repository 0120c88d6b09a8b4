#pragma once
/// A request trace read once into memory, to be replayed under many plans
/// (`usher sweep`, `usher advise`): parsing a large trace costs as much as
/// simulating it, so a what-if run of a hundred variants parses it once.
///
/// Rows are kept as the trace gives them, before any plan looks at them:
/// account, model, product and connection as interned ids (in order of first
/// appearance), times in integer microseconds, and the row's own `cost`
/// (-1 when the trace has none). A plan_view resolves what depends on the
/// plan (profile, cost, model ids) exactly as traces/trace_reader does for
/// that plan, so a replay from memory gives the outcomes of a replay from
/// the file, byte for byte. Labels (id, key) are not kept: runs from memory
/// write no outcomes.csv.
///
/// Immutable once loaded, so any number of threads may read it at once,
/// each through its own plan_view. Memory: about 48 bytes a row.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "policies/plan.hpp"
#include "policies/records.hpp"
#include "traces/interner.hpp"

namespace usher::traces {

class loaded_trace {
 public:
  /// One row as the trace gives it.
  struct row {
    policies::usec at = 0;
    policies::usec duration = 0;
    std::int64_t own_cost = -1;      ///< the trace's cost column, -1 when empty
    policies::id account = 0;
    policies::id model = policies::no_id;    ///< id in models()
    policies::id product = policies::no_id;
    std::uint32_t conn = 0;
    policies::kind what = policies::kind::request;
    bool fail = false;
  };

  /// Reads all of `path` (docs/FORMATS.md). Throws policies::input_error
  /// naming file, line and column, as trace_reader does.
  ///
  /// With `threads` > 1 a plain file is read in that many pieces at once,
  /// split at line boundaries, each by a trace_reader of its own; their
  /// names are then numbered in piece order, which is the order of first
  /// appearance in the file, so the result is the one of a serial read.
  /// Should a piece find bad input (or the pieces not join in arrival
  /// order), the file is read again serially, so that the error is the
  /// serial reader's: the first in the file, with its line. Standard input
  /// and gzip files are read serially.
  explicit loaded_trace(const std::string& path, std::size_t threads = 1);

  const std::string& path() const { return path_; }
  const std::vector<row>& rows() const { return rows_; }
  const interner& accounts() const { return accounts_; }
  const interner& models() const { return models_; }

  /// The rows as one plan sees them. Cheap to make (one pass over accounts
  /// and models); owned by one thread.
  class plan_view {
   public:
    /// REQUIRES: `trace` outlives the view. `first_accounts` and
    /// `first_models` are names a run gives ids before any trace row (a
    /// workload's generated accounts and their models, in that order), as
    /// trace_reader::intern_account and intern_model do before reading.
    plan_view(const loaded_trace& trace, std::shared_ptr<const policies::plan> plan,
              const std::vector<std::string>& first_accounts = {},
              const std::vector<std::string>& first_models = {});

    /// Ids and names as this run numbers them: first names, then the trace's.
    policies::id account_id(const std::string& name) { return accounts_.intern(name); }
    policies::id model_id(const std::string& name) { return models_.intern(name); }
    const interner& accounts() const { return accounts_; }

    /// Appends up to `max` rows to `out` as arrivals, profile and cost
    /// resolved through the plan. An empty append is the end.
    void read(std::vector<policies::arrival>& out, std::size_t max);

    /// Arrival time of the last row handed out (0 before any).
    policies::usec reached() const { return reached_; }

   private:
    const loaded_trace& trace_;
    std::shared_ptr<const policies::plan> plan_;
    interner accounts_, models_;           ///< this run's ids
    std::vector<policies::id> account_id_; ///< loaded account id -> this run's id
    std::vector<std::uint16_t> profile_by_account_;  ///< by this run's id
    std::vector<policies::id> model_id_;  ///< loaded model id -> this run's model id
    std::size_t next_ = 0;
    policies::usec reached_ = 0;
  };

 private:
  void read_serially();
  bool read_in_pieces(std::size_t threads);

  std::string path_;
  std::vector<row> rows_;
  interner accounts_, models_;
};

}  // namespace usher::traces

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
/// the file, byte for byte. Labels (id, key) are kept only when asked for:
/// sweeps write no outcomes.csv, `simulate --threads N` does
/// (tools/sharded_run.hpp).
///
/// Immutable once loaded, so any number of threads may read it at once,
/// each through its own plan_view. Memory: about 48 bytes a row (and the
/// labels, when kept: their ids and 12 bytes).

#include <cstdint>
#include <memory>
#include <new>
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
    policies::id key = policies::no_id;  ///< id in keys(); no_id when the row has none
    std::uint32_t tokens = 0;        ///< input_tokens + output_tokens
    std::uint32_t output_tokens = policies::no_output_tokens;
    policies::kind what = policies::kind::request;
    bool fail = false;
    std::int16_t priority = -1;      ///< the trace's priority column, -1 when empty
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
  ///
  /// With `labels`, each row's id and key are kept too (label_id, key_of).
  explicit loaded_trace(const std::string& path, std::size_t threads = 1, bool labels = false);

  const std::string& path() const { return path_; }

  /// The rows in trace order: memory the trace owns.
  class row_span {
   public:
    row_span(const row* data, std::size_t size) : data_(data), size_(size) {}
    const row* begin() const { return data_; }
    const row* end() const { return data_ + size_; }
    std::size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    const row& operator[](std::size_t i) const { return data_[i]; }
    const row& front() const { return data_[0]; }
    const row& back() const { return data_[size_ - 1]; }

   private:
    const row* data_;
    std::size_t size_;
  };
  row_span rows() const { return {rows_.get(), size_}; }
  const interner& accounts() const { return accounts_; }
  const interner& models() const { return models_; }
  /// Whether the trace's header names a `priority` column.
  bool has_priority() const { return has_priority_; }

  /// Row `i`'s id column (empty when the row has none), and its key's id in
  /// keys(). REQUIRES: read with `labels`.
  std::string_view label_id(std::size_t i) const;
  policies::id key_of(std::size_t i) const;
  const interner& keys() const { return keys_; }

  /// What one reader's rows were labelled with, in row order: ids end to
  /// end, keys by id in the reader's keys (in keys() once loaded).
  struct label_store {
    std::size_t first_row = 0;        ///< the row of the first label
    std::string ids;
    std::vector<std::size_t> id_end;  ///< label i's id ends here in `ids`
    std::vector<policies::id> key;
  };

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
    const interner& models() const { return models_; }
    /// This run's id of a model of the trace (an id in trace.models()).
    policies::id model_of(policies::id trace_model) const { return model_id_[trace_model]; }

    /// From now on read() hands out only rows whose account (by this
    /// view's id) is set in `accounts`; the others are skipped.
    void only(std::vector<bool> accounts) { only_ = std::move(accounts); }

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
    std::vector<bool> only_;               ///< empty: every account
    std::size_t next_ = 0;
    policies::usec reached_ = 0;
  };

 private:
  void read_serially(bool labels);
  bool read_in_pieces(std::size_t threads, bool labels);
  const label_store& labels_of(std::size_t i) const;

  // Rows live in memory allocated, not constructed, up front: the threads
  // that read the pieces each write their own part of it, so each page is
  // touched once, by the thread that fills it.
  static constexpr std::align_val_t huge_page{std::size_t{2} << 20};
  struct free_rows {
    void operator()(row* p) const { ::operator delete(p, huge_page); }
  };
  static std::unique_ptr<row, free_rows> allocate(std::size_t n);

  std::string path_;
  std::unique_ptr<row, free_rows> rows_;
  std::size_t size_ = 0;
  interner accounts_, models_, keys_;
  bool has_priority_ = false;
  std::vector<label_store> labels_;  ///< one per piece read, by first_row
};

}  // namespace usher::traces

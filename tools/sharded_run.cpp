#include "tools/sharded_run.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "actors/simulation.hpp"
#include "traces/csv_out.hpp"
#include "traces/loaded_trace.hpp"
#include "traces/outcome_writer.hpp"
#include "traces/summary.hpp"

namespace usher::tools {

namespace fs = std::filesystem;
using namespace policies;

namespace {

// Chunks passed in order from one producer thread (a shard) to one consumer
// thread (the writer), which gives each back once read: after the first
// few, the shard refills memory already in use instead of touching new
// pages (on this kind of virtual machine a first touch costs as much as
// formatting the row written there).
template <class Chunk>
class handover {
 public:
  /// `max_waiting`: full chunks the producer may be ahead; it waits beyond.
  explicit handover(std::size_t max_waiting) : max_waiting_(max_waiting) {}

  // -- producer --

  /// Hands `full` over and returns an empty chunk to fill next.
  Chunk pass(Chunk full) {
    std::unique_lock<std::mutex> lock(m_);
    room_.wait(lock, [&] { return aborted_ || waiting_.size() < max_waiting_; });
    if (!aborted_) waiting_.push_back(std::move(full));
    Chunk next;
    if (!spare_.empty()) {
      next = std::move(spare_.back());
      spare_.pop_back();
    }
    next.clear();
    lock.unlock();
    ready_.notify_one();
    return next;
  }
  /// Hands the last chunk over: nothing follows.
  void close(Chunk last) {
    {
      std::lock_guard<std::mutex> lock(m_);
      if (!aborted_ && !last.empty()) waiting_.push_back(std::move(last));
      closed_ = true;
    }
    ready_.notify_one();
  }

  // -- consumer --

  /// Replaces `c` (given back for reuse) with the next chunk. With `wait`,
  /// waits for one; false at the end (or, without `wait`, when none is ready).
  bool next(Chunk& c, bool wait) {
    std::unique_lock<std::mutex> lock(m_);
    if (wait) ready_.wait(lock, [&] { return closed_ || !waiting_.empty(); });
    if (waiting_.empty()) return false;
    if (c.capacity() > 256) spare_.push_back(std::move(c));
    c = std::move(waiting_.front());
    waiting_.pop_front();
    lock.unlock();
    room_.notify_one();
    return true;
  }
  /// Closed, and every chunk taken.
  bool finished() {
    std::lock_guard<std::mutex> lock(m_);
    return closed_ && waiting_.empty();
  }
  /// The consumer gives up: the producer no longer waits, and what it
  /// hands over is dropped.
  void abort() {
    {
      std::lock_guard<std::mutex> lock(m_);
      aborted_ = true;
      waiting_.clear();
    }
    room_.notify_one();
  }

 private:
  std::mutex m_;
  std::condition_variable ready_, room_;
  std::deque<Chunk> waiting_;
  std::vector<Chunk> spare_;
  std::size_t max_waiting_;
  bool closed_ = false;
  bool aborted_ = false;
};

constexpr std::size_t text_chunk = 1 << 18;     // bytes of formatted rows
constexpr std::size_t changes_chunk = 1 << 14;  // instant_changes

// The net change of a shard's in-flight count and units used at one
// instant, in time order. Within an instant a shard's count only falls
// (releases) and then only rises (starts), and so does the whole run's, so
// the run's peaks are reached at ends of instants: the shards' net changes,
// summed per instant, give them.
struct instant_change {
  usec at;
  std::int64_t in_flight;
  std::int64_t used;
};

// timeseries.csv rows of one shard, sorted by (start, account), and their keys.
struct series_chunk {
  std::string text;
  std::vector<std::pair<usec, id>> keys;
  void clear() {
    text.clear();
    keys.clear();
  }
  bool empty() const { return keys.empty(); }
  std::size_t capacity() const { return text.capacity(); }
};

// What passes from one shard to the writer.
struct shard_streams {
  handover<std::string> outcomes{8};  ///< per trace row: its fields after id, account, key
  handover<series_chunk> series{SIZE_MAX};
  handover<std::vector<instant_change>> changes{SIZE_MAX};
  actors::replay_result result;
  std::exception_ptr error;
};

// Replays the rows of the accounts dealt to shard `k` and passes what it
// decides to the writer as it goes.
void run_shard(std::size_t k, const traces::loaded_trace& trace,
               const std::vector<std::uint32_t>& shard_of, std::shared_ptr<const plan> the_plan,
               const simulation_request& request, std::vector<std::atomic<usec>>& reached,
               shard_streams& s) {
  traces::loaded_trace::plan_view view(trace, the_plan);
  std::vector<bool> mine(trace.accounts().size());
  for (std::size_t a = 0; a < mine.size(); ++a) mine[a] = shard_of[a] == k;
  view.only(std::move(mine));

  static const std::vector<std::string> no_clients;
  traces::csv_out outcomes, series;
  series_chunk series_keys;
  std::vector<instant_change> changes;
  changes.reserve(changes_chunk);
  auto record = [&](usec at, int d_in_flight, std::int64_t d_used) {
    if (changes.empty() || changes.back().at != at) {
      if (changes.size() >= changes_chunk) changes = s.changes.pass(std::move(changes));
      changes.push_back({at, 0, 0});
    }
    changes.back().in_flight += d_in_flight;
    changes.back().used += d_used;
  };
  actors::client_actor_config cfg;
  cfg.plan = the_plan;
  cfg.interval = request.interval;
  cfg.io.read = [&](std::vector<arrival>& rows, std::size_t max, std::string&) {
    view.read(rows, max);
    reached[k].store(view.reached(), std::memory_order_relaxed);
    if (request.reached) {
      usec least = view.reached();
      for (auto& r : reached) least = std::min(least, r.load(std::memory_order_relaxed));
      request.reached->store(least, std::memory_order_relaxed);
    }
    return true;
  };
  cfg.io.write_outcome = [&](const outcome& o) {
    traces::outcome_fields(outcomes, o, view.models(), the_plan->gates(), no_clients,
                           trace.has_priority());
    outcomes.end_row();
    if (outcomes.size() >= text_chunk)
      outcomes.adopt_text(s.outcomes.pass(outcomes.take_text()));
  };
  cfg.io.in_flight_change = record;
  cfg.io.write_series = [&](const interval_row& r) {
    traces::series_fields(series, r, trace.accounts(), request.interval);
    series.end_row();
    series_keys.keys.emplace_back(r.start, r.account);
    if (series.size() >= text_chunk) {
      series_keys.text = series.take_text();
      series_keys = s.series.pass(std::move(series_keys));
      series.adopt_text(std::move(series_keys.text));
    }
  };
  s.result = actors::run_replay(std::move(cfg), actors::clock_kind::virtual_clock, 1);
  if (!s.result.ok) throw std::runtime_error(s.result.error);
  s.outcomes.close(outcomes.take_text());
  series_keys.text = series.take_text();
  s.series.close(std::move(series_keys));
  s.changes.close(std::move(changes));
}

// The writer's side of one shard's streams: the chunk being read and where.
struct shard_reader {
  std::string outcomes;
  std::size_t outcome_at = 0;
  series_chunk series;
  std::size_t series_row = 0, series_at = 0;
  std::deque<std::vector<instant_change>> changes;  ///< taken, not yet summed
  std::vector<instant_change> spare;               ///< to give back
  std::size_t change_at = 0;                       ///< in changes.front()
};

// The next line of `text` from `pos` (without its '\n'); `pos` moves past it.
std::string_view next_line(const std::string& text, std::size_t& pos) {
  auto nl = text.find('\n', pos);
  std::string_view line(text.data() + pos, nl - pos);
  pos = nl + 1;
  return line;
}

// Merges the shards' streams as far as what has arrived allows (`all`:
// waits for everything): timeseries.csv rows by (start, account), and the
// in-flight changes by instant into the peaks.
class merger {
 public:
  merger(std::vector<shard_streams>& streams, std::vector<shard_reader>& readers,
         traces::csv_out& series)
      : streams_(streams), readers_(readers), series_(series) {}

  void advance(bool all) {
    merge_series(all);
    merge_changes(all);
  }
  std::int64_t peak_in_flight() const { return peak_in_flight_; }
  std::int64_t peak_used() const { return peak_used_; }

 private:
  // Whether shard k has a series row to offer (false: none yet, or done).
  bool series_head(std::size_t k, bool wait, bool& done) {
    auto& r = readers_[k];
    done = false;
    while (r.series_row >= r.series.keys.size()) {
      if (!streams_[k].series.next(r.series, wait)) {
        done = wait || streams_[k].series.finished();
        return false;
      }
      r.series_row = r.series_at = 0;
    }
    return true;
  }

  void merge_series(bool all) {
    for (;;) {
      std::size_t best = readers_.size();
      for (std::size_t k = 0; k < readers_.size(); ++k) {
        bool done = false;
        if (!series_head(k, all, done)) {
          if (done) continue;
          return;  // shard k may still send a row that goes first
        }
        auto& r = readers_[k];
        if (best == readers_.size() ||
            r.series.keys[r.series_row] < readers_[best].series.keys[readers_[best].series_row])
          best = k;
      }
      if (best == readers_.size()) return;
      auto& r = readers_[best];
      series_.fields(next_line(r.series.text, r.series_at));
      series_.end_row();
      ++r.series_row;
    }
  }

  // Takes what shard k has sent; true when its changes are all in.
  bool take_changes(std::size_t k, bool wait) {
    auto& r = readers_[k];
    for (;;) {
      std::vector<instant_change> c = std::move(r.spare);
      if (!streams_[k].changes.next(c, wait)) {
        r.spare = std::move(c);
        return wait || streams_[k].changes.finished();
      }
      r.changes.push_back(std::move(c));
    }
  }

  void merge_changes(bool all) {
    std::size_t n = readers_.size();
    // Instants before `through` are complete in every shard: a shard still
    // running has sent a later change, or is done.
    usec through = never;
    for (std::size_t k = 0; k < n; ++k) {
      bool done = take_changes(k, all);
      auto& r = readers_[k];
      if (!done) through = std::min(through, r.changes.empty() ? usec{0} : r.changes.back().back().at);
    }
    for (;;) {
      usec t = never;
      for (auto& r : readers_)
        if (!r.changes.empty()) t = std::min(t, r.changes.front()[r.change_at].at);
      if (t == never || t >= through) return;
      for (auto& r : readers_)
        while (!r.changes.empty() && r.changes.front()[r.change_at].at == t) {
          in_flight_ += r.changes.front()[r.change_at].in_flight;
          used_ += r.changes.front()[r.change_at].used;
          if (++r.change_at == r.changes.front().size()) {
            r.spare = std::move(r.changes.front());
            r.changes.pop_front();
            r.change_at = 0;
          }
        }
      peak_in_flight_ = std::max(peak_in_flight_, in_flight_);
      peak_used_ = std::max(peak_used_, used_);
    }
  }

  std::vector<shard_streams>& streams_;
  std::vector<shard_reader>& readers_;
  traces::csv_out& series_;
  std::int64_t in_flight_ = 0, used_ = 0, peak_in_flight_ = 0, peak_used_ = 0;
};

}  // namespace

std::vector<std::uint32_t> deal_accounts(const traces::loaded_trace& trace,
                                         std::shared_ptr<const plan> the_plan,
                                         std::size_t threads) {
  // Models with a provider-wide capacity or modelled servers (by this
  // plan's ids), and the accounts that send them anything: those decide
  // together.
  traces::loaded_trace::plan_view view(trace, the_plan);
  std::vector<bool> shared_model(trace.models().size());
  for (id m = 0; m < shared_model.size(); ++m)
    shared_model[m] = the_plan->model_capacity(view.model_of(m)) >= 0 ||
                      the_plan->backend(view.model_of(m)) != nullptr;
  bool shared_unnamed = the_plan->backend(no_id) != nullptr;  // rows without a model
  std::size_t accounts = trace.accounts().size();
  std::vector<std::uint64_t> rows(accounts + 1, 0);  // the last: the coupled group
  std::vector<bool> coupled(accounts, false);
  for (auto& r : trace.rows()) {
    ++rows[r.account];
    if (r.model != no_id ? shared_model[r.model] : shared_unnamed) coupled[r.account] = true;
  }
  // The units dealt: each free account alone, the coupled ones as one.
  std::vector<id> units;
  for (id a = 0; a < accounts; ++a)
    if (coupled[a]) rows[accounts] += rows[a];
    else units.push_back(a);
  if (rows[accounts] > 0) units.push_back(static_cast<id>(accounts));
  // Most rows first, each to the shard with fewest rows so far (the lowest
  // on a tie): same trace, same deal.
  std::stable_sort(units.begin(), units.end(), [&](id a, id b) { return rows[a] > rows[b]; });
  std::vector<std::uint64_t> load(std::max<std::size_t>(1, std::min(threads, units.size())), 0);
  std::vector<std::uint32_t> shard_of(accounts, 0), unit_shard(accounts + 1, 0);
  for (id u : units) {
    auto k = static_cast<std::uint32_t>(std::min_element(load.begin(), load.end()) - load.begin());
    unit_shard[u] = k;
    load[k] += rows[u];
  }
  for (id a = 0; a < accounts; ++a) shard_of[a] = unit_shard[coupled[a] ? accounts : a];
  return shard_of;
}

simulation_output run_sharded(const simulation_request& request,
                              std::shared_ptr<const plan> the_plan, const std::string& trace_path,
                              std::uint64_t seed) {
  traces::loaded_trace trace(trace_path, request.threads, /*labels=*/true);
  auto shard_of = deal_accounts(trace, the_plan, request.threads);
  std::size_t shards = shard_of.empty() ? 1 : *std::max_element(shard_of.begin(), shard_of.end()) + 1;
  if (!request.out_dir.empty()) fs::create_directories(request.out_dir);
  auto output = [&](const char* name) { return output_path(request.out_dir, name); };
  traces::csv_out outcomes(output("outcomes.csv")), series(output("timeseries.csv"));

  // Each shard's progress; the run's is the least of them.
  std::vector<std::atomic<usec>> reached(shards);
  for (auto& r : reached) r.store(0, std::memory_order_relaxed);
  std::vector<shard_streams> streams(shards);
  std::vector<std::thread> threads;
  auto stop_all = [&] {
    for (auto& s : streams) s.outcomes.abort();
    for (auto& t : threads) t.join();
    threads.clear();
  };
  std::vector<shard_reader> readers(shards);
  merger merge(streams, readers, series);
  try {
    for (std::size_t k = 0; k < shards; ++k)
      threads.emplace_back([&, k] {
        auto& s = streams[k];
        try {
          run_shard(k, trace, shard_of, the_plan, request, reached, s);
        } catch (...) {
          s.error = std::current_exception();
          s.outcomes.close({});
          s.series.close({});
          s.changes.close({});
        }
      });

    // outcomes.csv in trace order: each row's id, account and key, then
    // the next row of the shard that holds its account.
    traces::outcome_header(outcomes, false, trace.has_priority());
    traces::series_header(series);
    const auto& rows = trace.rows();
    bool failed = false;
    for (std::size_t i = 0; i < rows.size() && !failed; ++i) {
      auto k = shard_of[rows[i].account];
      auto& r = readers[k];
      if (r.outcome_at >= r.outcomes.size()) {
        if (!streams[k].outcomes.next(r.outcomes, true)) {
          failed = true;  // the shard failed: its error is thrown below
          break;
        }
        r.outcome_at = 0;
        merge.advance(false);
      }
      auto label = trace.label_id(i);
      if (label.empty())
        outcomes.field(static_cast<std::int64_t>(i + 1));
      else
        outcomes.field(label);
      outcomes.field(trace.accounts().name(rows[i].account));
      outcomes.field(trace.keys().name(trace.key_of(i)));
      outcomes.fields(next_line(r.outcomes, r.outcome_at));
      outcomes.end_row();
    }
    if (failed) stop_all();  // the other shards may wait for room
    for (auto& t : threads) t.join();
    threads.clear();
    for (auto& s : streams)
      if (s.error) std::rethrow_exception(s.error);
    if (failed) throw std::runtime_error("internal error: a shard ended before its rows");
    merge.advance(true);
    for (std::size_t k = 0; k < shards; ++k)
      if (readers[k].outcome_at < readers[k].outcomes.size() || !streams[k].outcomes.finished())
        throw std::runtime_error("internal error: a shard decided rows the trace does not hold");
    outcomes.close();
    series.close();
  } catch (...) {
    stop_all();
    throw;
  }

  traces::run_info run;
  run.trace = trace_path;
  run.plan = request.plan;
  run.seed = seed;
  run.rows = trace.rows().size();
  run.first_arrival = trace.rows().empty() ? 0 : trace.rows().front().at;
  run.interval = request.interval;
  run.peak_in_flight = merge.peak_in_flight();
  run.peak_used = merge.peak_used();
  std::vector<std::pair<std::string, usage_totals>> accounts;
  for (auto& s : streams) {
    run.end = std::max(run.end, s.result.end);
    for (auto& [a, totals] : s.result.accounts) accounts.emplace_back(trace.accounts().name(a), totals);
  }
  simulation_output result;
  result.summary = traces::make_summary(*the_plan, run, accounts);
  if (!request.out_dir.empty()) write_summary(output("summary.json"), result.summary);
  return result;
}

}  // namespace usher::tools

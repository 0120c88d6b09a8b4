#pragma once
/// The discrete-event loop of one account actor in a simulation: the engine
/// for its accounts, an agenda of releases (an admitted request holds its
/// slot for its trace duration), the queue deadlines, and the arrivals the
/// client has handed over. Plain C++ (no CAF), so it is unit-tested alone and
/// the actor around it only turns messages into calls.
///
/// Events run in (time, class, sequence) order, classes as in
/// policies/time.hpp: releases, then queue admissions, then timeouts, then
/// arrivals. run_until(limit) runs every event strictly before `limit`; the
/// caller guarantees that no arrival before `limit` is still to come (the
/// client's horizon), which is what lets a whole batch run in one call and
/// still give exactly the outcomes of one-event-at-a-time processing.
///
/// Not thread-safe; owned by one actor.

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <queue>
#include <vector>

#include "policies/engine.hpp"
#include "policies/records.hpp"
#include "policies/usage_meter.hpp"

namespace usher::actors {

namespace detail {

using policies::arrival;
using policies::outcome;

class replay_shard {
 public:
  /// `interval` is the time-series step.
  replay_shard(std::shared_ptr<const policies::plan> p, policies::usec interval);

  /// Hands over arrivals. REQUIRES: sorted by (at, seq), none earlier than
  /// an arrival handed over before.
  void add(const std::vector<arrival>& batch);

  /// Runs every event strictly before `limit`.
  void run_until(policies::usec limit);

  /// The time of the earliest event still to run, or policies::never.
  policies::usec next_event_time();

  /// Outcomes decided and interval rows closed since the last take.
  std::vector<outcome> take_outcomes();
  std::vector<policies::interval_row> take_series();

  /// Runs everything left and closes every meter at the last event's time.
  void finish();

  /// Per-account totals, after finish(): (account id, totals), by id.
  std::vector<std::pair<policies::id, policies::usage_totals>> totals() const;

  /// The time of the last event run.
  policies::usec last_event() const { return last_event_; }

  /// Every time-series row of an interval that ends at or before this time
  /// has been emitted: later rows are for later intervals only.
  policies::usec series_complete_to() const { return swept_to_; }

 private:
  struct release_event {
    policies::usec at;
    std::uint64_t seq;
    policies::engine::lease held;
    bool operator>(const release_event& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };
  struct waiting_info {
    policies::usec duration;
    bool fail;
  };

  void run_events(policies::usec limit);
  policies::usage_meter& meter(policies::id account, std::uint16_t profile);
  void start(const policies::request& r, policies::usec now, policies::usec arrived_at,
             policies::usec duration, bool fail, bool was_queued,
             const policies::engine::lease& held);
  void note_queue(policies::id account, policies::usec now);

  std::shared_ptr<const policies::plan> plan_;
  policies::engine engine_;
  policies::usec interval_;
  std::priority_queue<release_event, std::vector<release_event>, std::greater<>> agenda_;
  std::deque<arrival> arrivals_;
  std::vector<waiting_info> waiting_;        ///< by tag
  std::vector<std::uint64_t> free_tags_;
  std::vector<std::optional<policies::usage_meter>> meters_;  ///< by account id
  std::vector<outcome> outcomes_;
  std::vector<policies::interval_row> series_;
  std::vector<policies::engine::admission> admitted_;  ///< scratch
  std::vector<policies::engine::timeout> timed_out_;   ///< scratch
  policies::usec last_event_ = 0;
  policies::usec swept_to_ = 0;
};

}  // namespace detail
}  // namespace usher::actors

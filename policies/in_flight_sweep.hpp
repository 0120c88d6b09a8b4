#pragma once
/// The combined number of requests in flight (and pool units used) of many
/// accounts over time, from their outcomes: what summary.json calls
/// peak_in_flight and peak_used. Outcomes are added in (arrival, seq) order;
/// since nothing added later can start before its arrival, every change
/// before the latest arrival is final and applied at once. At one instant
/// releases come before starts (a unit freed at t can be taken at t), so a
/// request ending at t and one starting at t never count together.
///
/// The replay's client actor sweeps one run this way; `simulate --threads N`
/// sweeps each shard and merges the shards' changes (tools/sharded_run.cpp),
/// which gives the same peaks since a peak is only ever reached at the end
/// of an instant.

#include <algorithm>
#include <cstdint>
#include <functional>
#include <queue>
#include <vector>

#include "policies/records.hpp"

namespace usher::policies {

/// Whether an outcome of this kind holds pool units while it runs.
inline bool holds_pool_units(kind k) {
  return k == kind::request || k == kind::ws_request || k == kind::session;
}

class in_flight_sweep {
 public:
  /// Counts `o` from its start to its end, if it holds pool units.
  void add(const outcome& o) {
    if (o.start >= 0 && holds_pool_units(o.what) && o.end >= o.start) {
      events_.push(event{o.start, +1, o.cost});
      events_.push(event{o.end, -1, o.cost});
    }
  }

  /// Applies every change before `t` (`never`: all of them), in time order,
  /// releases before starts at one instant; `on_change(at, in_flight_delta,
  /// used_delta)` sees each one.
  template <class OnChange>
  void advance(usec t, OnChange&& on_change) {
    while (!events_.empty() && events_.top().at < t) {
      event ev = events_.top();
      events_.pop();
      in_flight_ += ev.delta;
      used_ += ev.delta * ev.cost;
      peak_in_flight_ = std::max(peak_in_flight_, in_flight_);
      peak_used_ = std::max(peak_used_, used_);
      on_change(ev.at, ev.delta, ev.delta * ev.cost);
    }
  }
  void advance(usec t) {
    advance(t, [](usec, int, std::int64_t) {});
  }

  std::int64_t peak_in_flight() const { return peak_in_flight_; }
  std::int64_t peak_used() const { return peak_used_; }

 private:
  struct event {
    usec at;
    int delta;  // -1 before +1 at one instant: a release frees before a start
    std::int64_t cost;
    bool operator>(const event& o) const { return at != o.at ? at > o.at : delta > o.delta; }
  };
  std::priority_queue<event, std::vector<event>, std::greater<>> events_;
  std::int64_t in_flight_ = 0;
  std::int64_t used_ = 0;
  std::int64_t peak_in_flight_ = 0;
  std::int64_t peak_used_ = 0;
};

}  // namespace usher::policies

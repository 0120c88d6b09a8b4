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
#include <vector>

#include "policies/monotone_queue.hpp"
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
      events_.push(key_of(o.start, +1), o.cost);
      events_.push(key_of(o.end, -1), o.cost);
    }
  }

  /// Applies every change before `t` (`never`: all of them), in time order,
  /// releases before starts at one instant; `on_change(at, in_flight_delta,
  /// used_delta)` sees each one.
  template <class OnChange>
  void advance(usec t, OnChange&& on_change) {
    // The keys pushed later are of outcomes arriving at or after `t`, so
    // none is below a key popped here: monotone_queue's fast case.
    while (!events_.empty() && events_.top_key() < key_of(t, -1)) {
      auto key = events_.top_key();
      std::int64_t cost = events_.top();
      events_.pop();
      usec at = static_cast<usec>(key >> 1);
      int delta = (key & 1) ? +1 : -1;
      in_flight_ += delta;
      used_ += delta * cost;
      peak_in_flight_ = std::max(peak_in_flight_, in_flight_);
      peak_used_ = std::max(peak_used_, used_);
      on_change(at, delta, delta * cost);
    }
  }
  void advance(usec t) {
    advance(t, [](usec, int, std::int64_t) {});
  }

  std::int64_t peak_in_flight() const { return peak_in_flight_; }
  std::int64_t peak_used() const { return peak_used_; }

 private:
  // Time, then a release (0) before a start (1) at one instant: a unit freed
  // at t can be taken at t. Times are not negative.
  static std::uint64_t key_of(usec at, int delta) {
    return (static_cast<std::uint64_t>(at) << 1) | (delta > 0 ? 1u : 0u);
  }

  monotone_queue<std::int64_t> events_;
  std::int64_t in_flight_ = 0;
  std::int64_t used_ = 0;
  std::int64_t peak_in_flight_ = 0;
  std::int64_t peak_used_ = 0;
};

}  // namespace usher::policies

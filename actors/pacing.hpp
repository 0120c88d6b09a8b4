#pragma once
/// How actors map trace time onto their clock: the one place the two clocks
/// differ (as ns-3's realtime simulator and SimPy's rt environment differ from
/// their plain versions only in waiting for the wall clock).
///
/// - batched: an actor runs every event up to the client's horizon at once,
///   without looking at the clock. Only meaningful in virtual time (simulate).
/// - clocked: an actor runs an event only once its clock has reached it, and
///   sleeps with one delayed_send for its next event. Under CAF's virtual
///   clock this is the one-message-per-event reference; under the real
///   scheduler it is a live replay, `time_scale` trace seconds per second.
///
/// Either way, outcomes are those of the same event order, because no actor
/// ever runs past the client's horizon.

#include <caf/actor_clock.hpp>
#include <cmath>

#include "policies/time.hpp"

namespace usher::actors {

struct pacing {
  bool clocked = false;
  double time_scale = 1.0;               ///< trace seconds per clock second
  caf::actor_clock::time_point epoch{};  ///< the clock's time at trace time 0

  /// Trace time now, by `clock`.
  policies::usec trace_now(const caf::actor_clock& clock) const {
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(clock.now() - epoch).count();
    return static_cast<policies::usec>(std::floor(static_cast<double>(ns) / 1000.0 * time_scale));
  }

  /// How long the clock must run from trace time `now` until trace time `at`.
  caf::timespan delay(policies::usec now, policies::usec at) const {
    double us = static_cast<double>(at - now) / time_scale;
    return std::chrono::duration_cast<caf::timespan>(
        std::chrono::nanoseconds(static_cast<std::int64_t>(std::ceil(us * 1000.0))));
  }
};

}  // namespace usher::actors

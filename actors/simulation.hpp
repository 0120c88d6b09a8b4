#pragma once
/// Runs a replay to the end: the client actor and its account actors under
/// one of the two clocks. The drivers are the only code that knows which
/// clock is in use; the behaviours are the same.
///
/// - virtual_clock: CAF's test coordinator, single-threaded, and its virtual
///   clock advanced by this driver to the next timer whenever the system is
///   idle. Deterministic. With batched pacing no timer is ever needed; with
///   clocked pacing every event is a timer (the reference mode).
/// - real_clock: CAF's work-stealing scheduler with `threads` workers and the
///   steady clock. With batched pacing it is a parallel simulation (output
///   identical to virtual_clock, since every actor runs up to horizons only);
///   with clocked pacing it is a live replay, scaled by pace.time_scale.

#include "actors/client_actor.hpp"

namespace usher::actors {

enum class clock_kind { virtual_clock, real_clock };

/// Runs the replay described by `cfg` and returns its result (also handed to
/// cfg.io.done when set). cfg.pace.epoch is set here.
replay_result run_replay(client_actor_config cfg, clock_kind clock, std::size_t threads = 1);

}  // namespace usher::actors

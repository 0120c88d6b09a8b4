#pragma once
/// The client actor: replays a trace open loop into the account actors and
/// collects what they decide, in the order of the trace.
///
/// Rows come from a reader callback in chunks, already sorted by arrival. In
/// batched pacing the client keeps a few batches in flight per account actor
/// (back-pressure: memory grows with what is in flight, not with the trace);
/// in clocked pacing it sends each instant's rows when its clock reaches
/// them. Each batch carries the horizon (the next row's arrival), so account
/// actors never run past what the client has promised.
///
/// Generated accounts (client models: SDKs, conversations, batch jobs) run
/// inside the account actors; for them the client advances the horizon in
/// slices of simulated time, so outcomes flow back as the run goes.
///
/// Outcomes arrive out of order and leave ordered by (arrival, seq) once
/// every account actor has decided everything before them (trace rows thus
/// leave in trace order); time-series rows leave sorted by (interval,
/// account) once every account actor has run past their interval. The
/// totals, the combined peak in flight and the end time are handed to `done`
/// when the replay ends.

#include <functional>
#include <string>
#include <vector>

#include "actors/detail/replay_shard.hpp"
#include "actors/messages.hpp"
#include "actors/pacing.hpp"
#include "policies/plan.hpp"

namespace usher::actors {

/// The result of a replay.
struct replay_result {
  bool ok = true;
  std::string error;  ///< what stopped it, with file and line, when !ok
  std::vector<std::pair<policies::id, policies::usage_totals>> accounts;  ///< by id
  std::vector<std::pair<std::uint32_t, clients::client_stats>> clients;   ///< by index
  std::int64_t peak_in_flight = 0;  ///< all accounts together, at one instant
  std::int64_t peak_used = 0;
  policies::usec end = 0;           ///< time of the last event
};

/// Where rows come from and where results go. Called only from the client
/// actor, one call at a time.
struct replay_io {
  /// Appends the next rows (at most `max`) to `out`. Returns false on bad
  /// input, with the message in `error`; an empty append means the end.
  std::function<bool(std::vector<policies::arrival>& out, std::size_t max, std::string& error)>
      read;
  /// Receives every outcome, ordered by (arrival, seq).
  std::function<void(const policies::outcome&)> write_outcome;
  /// Receives time-series rows sorted by (start, account).
  std::function<void(const policies::interval_row&)> write_series;
  /// Receives the result once, at the end.
  std::function<void(replay_result)> done;
  /// When set, receives every change of the combined in-flight count (and
  /// units used), in time order, as the peaks are swept
  /// (policies/in_flight_sweep.hpp): what `simulate --threads N` merges
  /// across shards.
  std::function<void(policies::usec at, int in_flight, std::int64_t used)> in_flight_change;
};

struct client_actor_config {
  std::shared_ptr<const policies::plan> plan;
  policies::usec interval = policies::seconds(60);
  std::uint32_t shards = 1;          ///< account actors to spread accounts over
  std::size_t chunk_rows = 4096;     ///< rows per batch (batched pacing)
  std::size_t batches_in_flight = 2; ///< per account actor (batched pacing)
  pacing pace;
  replay_io io;
  /// Client models of generated accounts, and when they stop starting new
  /// requests; the horizon then advances `slice` at a time.
  std::vector<generated_account> generated;
  policies::usec generate_until = 0;
  policies::usec slice = policies::seconds(60);
};

/// Spawns a client actor; it starts replaying on start_atom.
client_actor spawn_client_actor(caf::actor_system& sys, client_actor_config cfg);

}  // namespace usher::actors

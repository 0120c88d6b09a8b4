#pragma once
/// The admission actor of a live node (`usher serve`): owns one
/// policies::engine for the accounts it is given (accounts that share a gate,
/// such as a model capacity shared by all accounts, must live in one actor,
/// as in the simulator) and turns admission messages into engine calls. It
/// decides nothing itself: every 200, 408, 429 and 1008 is the engine's.
///
/// Time: read only through `self->clock().now()`, as integer microseconds
/// since the node's epoch, never decreasing. At each message the actor first
/// brings the engine up to `now` in the order of policies/time.hpp: releases
/// (leases whose TTL ran out), then queue admissions, then queue timeouts,
/// then the message's own arrival or release. It keeps ONE delayed_send timer
/// at a time, for its next deadline (the engine's next queue timeout or the
/// earliest lease TTL), so idle it costs nothing.
///
/// Leases: an admitted request holds a lease, named by a random UUID, until
/// its holder releases it, or its TTL (renewed by the holder) runs out, or,
/// for leases held by a WebSocket connection, the edge releases it when the
/// connection closes. Waiters are held as response promises: answered on
/// admission, 408, 429, 499 (the client left: cancel_request) or 503 (the
/// node stops), never dropped.
///
/// Draining (drain_atom, docs/SERVE.md "Stopping and draining"): every
/// queued request leaves its queue, its waiter and every ticket poller are
/// answered 503 with Retry-After, and new admissions get 503; releases and
/// renewals go on until the node stops.
///
/// In a cluster, the node's cluster actor (actors/cluster/cluster_node.hpp)
/// activates the actor when the node owns its accounts, moves their leases
/// out and in on a handoff (hand_off_atom, group_activate) and makes it
/// resign when the node is voted out; before every admission and renewal
/// the actor checks the node's grant window (cluster/grant_window.hpp).
/// With replicas = 1 it describes each lease it grants or renews, for the
/// cluster actor to copy to the backup before the client hears of it.
///
/// Owned state is private to the actor; callers talk to it only through the
/// messages of actors/messages.hpp ("live node").

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "actors/cluster/grant_window.hpp"
#include "actors/messages.hpp"
#include "policies/plan.hpp"
#include "policies/time.hpp"

namespace usher::actors {

/// Spawn arguments.
struct admission_actor_config {
  std::shared_ptr<const policies::plan> plan;
  std::vector<std::string> accounts;     ///< the accounts it owns, by name
  policies::usec lease_ttl = policies::seconds(30);
  caf::actor_clock::time_point epoch{};  ///< the node's epoch, on the actor clock
  std::int64_t epoch_unix_ms = 0;        ///< the same instant in Unix epoch milliseconds
  std::size_t max_names_per_account = 64;  ///< distinct models and products an account uses at once
  policies::usec recovery = 0;  ///< recover leases (live_ledger) until this node time; 0: off
  /// In a cluster (docs/CLUSTER.md): the node's grant window. The actor then
  /// grants nothing until its cluster actor activates it (group_activate),
  /// and only while the window is open at the generation it was activated
  /// at. nullptr: a node alone, always granting.
  std::shared_ptr<const cluster::grant_window> window;
  /// In a cluster with replicas = 1: every grant and renewal answered 200
  /// carries the lease as the backup copies it (admit_reply::replica,
  /// lease_reply::replica), and replica_atom answers a copy of every lease.
  bool replicate = false;
  /// Seeds the lease and ticket ids; 0: from the system's random device.
  /// `usher cluster-sim` sets it so that a seed replays byte for byte.
  std::uint64_t seed = 0;
};

/// Spawns an admission actor.
admission_actor spawn_admission_actor(caf::actor_system& sys, admission_actor_config cfg);

}  // namespace usher::actors

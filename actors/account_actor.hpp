#pragma once
/// The account actor: owns the pools, queues and gates of a set of accounts
/// (every account that shares a gate with another lives in the same actor, so
/// a charge across gates stays one local, all-or-nothing step) and turns
/// messages into calls on its replay shard.
///
/// Protocol: the client sends arrival_batch messages with a horizon; the actor
/// runs events up to it (batched) or up to its clock (clocked), answers each
/// batch with one outcome_batch, pushes further outcome_batches when ticks
/// decide something, and on finish_atom reports final totals and quits.

#include <memory>

#include "actors/detail/replay_shard.hpp"
#include "actors/messages.hpp"
#include "actors/pacing.hpp"
#include "policies/plan.hpp"

namespace usher::actors {

/// Spawn arguments.
struct account_actor_config {
  std::shared_ptr<const policies::plan> plan;
  policies::usec interval = policies::seconds(60);  ///< time-series step
  std::uint32_t shard = 0;                          ///< this actor's index
  pacing pace;
  std::vector<generated_account> clients;           ///< client models it hosts
};

/// Spawns an account actor that reports to `client`.
account_actor spawn_account_actor(caf::actor_system& sys, account_actor_config cfg,
                                  client_actor client);

}  // namespace usher::actors

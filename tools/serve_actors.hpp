#pragma once
/// The admission actors of a running node (`usher serve`), by account: how a
/// config's accounts are split over actors at start, and how a reloaded
/// config (SIGHUP; docs/SERVE.md, "Reloading") maps onto them.
///
/// Accounts that share a gate (a model capacity of their plan) share an
/// actor; every other account gets its own, so accounts run in parallel. A
/// reload keeps every actor and what it holds: an account keeps its actor
/// (its leases, queue places and tickets stay where they are), new accounts
/// get new actors or join their group's, removed accounts keep their actor
/// (and their leases until released) but no key leads to them any more. A
/// reload that would move an account between actors (into or out of a group
/// that shares a gate) is refused: that needs a restart.

#include <deque>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "actors/admission_actor.hpp"
#include "actors/cluster/cluster_node.hpp"
#include "actors/http/edge.hpp"
#include "tools/serve_config.hpp"

namespace usher::tools {

class serve_actors {
 public:
  /// Spawns the actors of `node`. `recovery` as node.recovery (start only).
  /// `window`: the node's grant window in a cluster (admission_actor_config),
  /// nullptr for a node alone. `seed`: the actors' lease ids come from it
  /// (admission_actor_config::seed; 0: random).
  serve_actors(caf::actor_system& sys, const node_config& node, caf::actor_clock::time_point epoch,
               std::int64_t epoch_unix_ms,
               std::shared_ptr<const actors::cluster::grant_window> window = nullptr,
               std::uint64_t seed = 0);

  /// The account groups with their actors: the same keys on every node with
  /// the same config (docs/CLUSTER.md, "Placement").
  std::vector<actors::cluster::served_group> placement_groups(const node_config& node) const;

  /// Keys of `node` -> the actors of its accounts.
  std::unordered_map<std::string, actors::http::account_route> keys(const node_config& node) const;
  const std::vector<actors::admission_actor>& all() const { return all_; }

  /// Applies `next` (read and checked already): "" when done, else why it
  /// needs a restart (then nothing was changed).
  std::string reload(const node_config& next);

  /// Accounts that share an actor (and a placement key in a cluster).
  struct group {
    std::shared_ptr<const policies::plan> plan;
    std::vector<std::string> accounts;
    std::string key;  ///< its placement key (actors/cluster/placement.hpp)
  };
  static std::vector<group> groups_of(const node_config& node);

 private:
  actors::admission_actor spawn(const group& g, policies::usec recovery);

  caf::actor_system& sys_;
  caf::actor_clock::time_point epoch_;
  std::int64_t epoch_unix_ms_;
  policies::usec lease_ttl_;
  std::size_t max_names_;
  std::shared_ptr<const actors::cluster::grant_window> window_;
  std::uint64_t seed_;
  bool replicate_;  ///< a cluster with replicas = 1 (admission_actor_config::replicate)
  std::vector<actors::admission_actor> all_;
  std::map<std::string, actors::admission_actor> actor_of_;               ///< by account
  std::map<actors::admission_actor, std::vector<std::string>> members_;  ///< accounts it holds
};

/// The [node] settings `next` changes from `now`, by key: a reload does not
/// apply them ("" when none differs).
std::string node_changes(const node_config& now, const node_config& next);

/// Why a cluster member may not reload from `now` to `next` ("" when it
/// may): its [cluster] section changed, or its account groups did
/// (docs/CLUSTER.md, "Configuration changes").
std::string cluster_reload_refusal(const node_config& now, const node_config& next);

/// The configs a cluster member's reloads read, each applied when the
/// member's cluster actor switches to its limits with the other members
/// (docs/CLUSTER.md, "Configuration changes"): serve's SIGHUP and
/// cluster-sim's `reload` fault. It keeps the two newest: the actor may
/// switch to the one before while a newer reload replaces it.
class cluster_reloads {
 public:
  explicit cluster_reloads(std::string applied = "") : applied_(std::move(applied)) {}
  /// A reload read `next`. False when its limits are the ones applied
  /// (the cluster actor, told so, withdraws its proposal; what was read
  /// stays, should the actor have switched to it meanwhile).
  bool read(const node_config& next);
  /// The cluster actor switched to `digest`: the config read with it, to
  /// apply now (older ones are dropped); nullopt when none was read.
  std::optional<node_config> switched(const std::string& digest);
  const std::string& applied() const { return applied_; }

 private:
  std::string applied_;
  std::deque<node_config> read_;  ///< newest last
};

}  // namespace usher::tools

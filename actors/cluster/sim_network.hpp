#pragma once
/// The network between the cluster actors of `usher cluster-sim`
/// (docs/CLUSTER-SIM.md): every member runs in one process under CAF's
/// virtual clock, and what one member's cluster actor sends another goes
/// through a link actor, one per ordered pair, that does to it what a
/// network may: delay it (uniform between a minimum and a maximum, drawn per
/// message, so messages in flight overtake each other), hold it (a
/// partition: nothing crosses between the sides until it heals, then what
/// was sent meanwhile arrives, as TCP delivers it once its retransmissions
/// get through), or lose it (a drop probability: what TCP never does within
/// a connection, to test what the protocol does if it happens). A member
/// that crashes takes its links down, which
/// the members holding them see as the lost connection they would see over
/// CAF networking (a down message); a restarted member is reached again over
/// new links. The cluster actor reaches a link through
/// cluster_node_config::link, its only seam: the protocol code is the
/// serve's, line for line.
///
/// What a link carries is the message as sent; a request's answer crosses
/// back over the same link and suffers what the way back does (a delay drawn
/// for it, a partition, a drop), so a grant can reach its asker late. A
/// request or answer lost is never answered, as over a dead connection,
/// until its asker counts the member down. Everything is driven by the
/// virtual clock and one seeded generator: a seed replays exactly.

#include <caf/all.hpp>
#include <cstdint>
#include <map>
#include <vector>

#include "policies/random.hpp"
#include "policies/time.hpp"

namespace usher::actors::cluster {

class sim_network {
 public:
  sim_network(caf::actor_system& sys, std::size_t members, std::uint64_t seed);
  ~sim_network();
  sim_network(const sim_network&) = delete;
  sim_network& operator=(const sim_network&) = delete;

  /// Member m runs `node` (its cluster actor) from now on.
  void started(std::uint32_t m, caf::actor node);
  /// Member m is gone: its links go down (their messages in flight are lost).
  void crashed(std::uint32_t m);
  /// The link from `from` to `to`, or an invalid handle while `to` is down
  /// (for cluster_node_config::link).
  caf::actor link(std::uint32_t from, std::uint32_t to);

  /// Messages take between `min` and `max` (uniform) from now on.
  void set_delay(policies::usec min, policies::usec max);
  /// Each message is lost with this probability from now on.
  void set_drop(double probability);
  /// Cuts the members into sides (side[m]: any number; members on different
  /// sides do not hear each other) until heal(key). Partitions may overlap:
  /// two members hear each other while no partition parts them.
  void partition(std::size_t key, std::vector<int> side);
  void heal(std::size_t key);

  /// What a message sent now from `from` to `to` suffers. For the link actors.
  struct fate_of {
    enum class kind : std::uint8_t { arrives, held, lost } what;
    policies::usec delay = 0;  ///< arrives: after this long
  };
  fate_of fate(std::uint32_t from, std::uint32_t to);
  const caf::actor& node(std::uint32_t m) const { return nodes_[m]; }

  /// Messages lost so far (dropped, or in flight on a link that went down).
  std::uint64_t lost() const { return lost_; }

 private:
  caf::actor_system& sys_;
  std::vector<caf::actor> nodes_;               ///< invalid while down
  std::vector<std::vector<caf::actor>> links_;  ///< [from][to]
  std::map<std::size_t, std::vector<int>> partitions_;  ///< by key: each member's side
  policies::usec delay_min_ = 0, delay_max_ = 0;
  double drop_ = 0;
  policies::rng rng_;
  std::uint64_t lost_ = 0;
};

}  // namespace usher::actors::cluster

#pragma once
/// The cluster actor of a node (docs/CLUSTER.md): one per `usher serve`
/// with a [cluster] section, published on the node's CAF port. It
///   - beats: every heartbeat it sends its view (cluster_view's beat) to
///     every peer over CAF networking (the middleman, BASP), and takes in
///     theirs; it connects to each peer and monitors it (a lost connection
///     fails the requests forwarded to it at once; a hung peer is caught by
///     its silence);
///   - routes: the edge sends every account request here; the request goes
///     to the local admission actor when this node holds the account's
///     group, else to the owner's cluster actor (forward_atom), which hands
///     it to its own admission actor, or answers 503 when it does not hold
///     the group (no second hop: views differ only for a moment);
///   - moves groups: it carries out what cluster_view decides (activate,
///     hand off to the new owner, resign) on the admission actors, and
///     keeps the node's grant window (grant_window.hpp) current.
/// A forwarded request whose peer goes down or goes silent is answered 503
/// (owner_down) right then: a CAF request to a dead node never fails by
/// itself. Nothing here decides an admission: the owner's ledger does.

#include <caf/all.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "actors/cluster/cluster_config.hpp"
#include "actors/cluster/cluster_view.hpp"
#include "actors/cluster/grant_window.hpp"
#include "actors/messages.hpp"

namespace usher::actors::cluster {

/// What a node's cluster actor counts, for /metrics (read from any thread).
struct cluster_stats {
  std::atomic<std::int64_t> members_up{0};
  std::atomic<std::int64_t> members_joining{0};
  std::atomic<std::int64_t> members_down{0};
  std::atomic<std::int64_t> generation{0};
  std::atomic<bool> majority{false};              ///< may grant now
  std::atomic<std::int64_t> forwarded{0};         ///< requests sent to an owner elsewhere
  std::atomic<std::int64_t> forwarded_failed{0};  ///< of those, answered 503 (owner down)
  /// Of those, grants that came back too late to be kept (answered 503, released).
  std::atomic<std::int64_t> grants_too_late{0};
  std::atomic<std::int64_t> received{0};          ///< requests taken from other members
  std::atomic<std::int64_t> takeovers{0};         ///< groups taken over from a member out
  /// Of those, started from this node's copy (replicas = 1): no recovery.
  std::atomic<std::int64_t> takeovers_from_copy{0};
  /// replicas = 1: answers held until the backup had their change, and
  /// those answered 503 instead (the group left this node meanwhile).
  std::atomic<std::int64_t> replica_waits{0};
  std::atomic<std::int64_t> replica_failed{0};
  /// Messages that carried changes of copies to backups (a sync, the
  /// grants and renewals of one instant, its releases, an image).
  std::atomic<std::int64_t> replica_messages{0};
  std::atomic<std::int64_t> handoffs_out{0};
  std::atomic<std::int64_t> handoffs_in{0};
  std::atomic<std::int64_t> groups_held{0};
  std::atomic<std::int64_t> groups_in_hand{-1};  ///< held or being handed off; -1: not known yet
};

/// An account group as placement sees it (placement.hpp) and the local
/// admission actor that serves it.
struct served_group {
  std::string key;  ///< "account:NAME", or "plan:SPEC" for accounts sharing a gate
  std::vector<std::string> accounts;
  admission_actor actor;
};

struct cluster_node_config {
  cluster_config cluster;
  /// The same keys on every member, in any order (the wire names a group
  /// by its key's hash); a reload that adds accounts adds groups (on_limits).
  std::vector<served_group> groups;
  std::shared_ptr<grant_window> window;
  std::shared_ptr<cluster_stats> stats;
  policies::usec lease_ttl = policies::seconds(30);  ///< a takeover's recovery window
  /// A group started fresh recovers until then (node time; the node's
  /// `recovery`): the whole cluster may have restarted while clients held
  /// leases, as a node alone may.
  policies::usec start_recovery_until = 0;
  /// A group started fresh (no holder known: docs/CLUSTER.md) recovers this
  /// long from its start too: a process cannot tell a cluster's first start
  /// from a member it has not heard since it started, which may have granted
  /// until failure_timeout ago. serve: `recovery` + failure_timeout (0 when
  /// recovery is off).
  policies::usec fresh_recovery = 0;
  caf::actor_clock::time_point epoch{};  ///< the node's epoch (admission_actor_config's)
  /// Says what changed (a member up or down, a takeover, a refused peer);
  /// `error`: the operator should look. Called on the actor's thread.
  std::function<void(bool error, const std::string&)> log;
  /// Told when the node switches to the limits it was given by
  /// propose_limits_atom, with every member up (cluster_view, "Limits"):
  /// apply them now, and return the account groups they have (their
  /// actors spawned already): groups of accounts the reload added join the
  /// ones this node decides, and accounts added to a group sharing a gate
  /// route to it. Empty: nothing was applied. Called on the actor's thread.
  std::function<std::vector<served_group>(const std::string& digest)> on_limits;

  // -- the seams of `usher cluster-sim` (docs/CLUSTER-SIM.md); unset in serve --

  /// Random per process start (beat::incarnation); 0: from the random device.
  std::uint64_t incarnation = 0;
  /// How this node reaches member m. Unset: over CAF networking (the
  /// middleman connects to m's listen address). Set: the actor that carries
  /// messages to m (a simulated network: actors/cluster/sim_network.hpp), or
  /// an invalid handle when m cannot be reached now. Either way the handle is
  /// monitored: its down message is a lost connection.
  std::function<caf::actor(std::uint32_t member)> link;
  /// Told whenever the node starts or stops holding a group (its placement
  /// key; at the node's `generation`). Called on the actor's thread.
  std::function<void(const std::string& group, bool holds, std::uint64_t generation)> on_hold;
};

/// GET /v1/cluster: this node's view.
struct cluster_member_status {
  std::string name;
  std::string address;
  std::string state;  ///< up, joining (heard, not yet counted), down
};
struct cluster_status {
  std::string node;
  std::int64_t epoch = 0;  ///< this node's generation
  bool majority = false;
  std::vector<cluster_member_status> members;
  std::vector<std::pair<std::string, std::string>> owners;  ///< account -> member; "" none
  std::string limits;       ///< the limits digest applied
  std::string limits_next;  ///< read by a reload, applied with the others; "" none
  std::vector<std::string> limits_waiting;  ///< members up that have not read limits_next yet
};

/// Edge -> cluster actor: answer cluster_status.
using cluster_status_atom = caf::atom_constant<caf::atom("cl_status")>;
/// serve -> cluster actor when the node drains: hand every account group to
/// the other members (cluster_view::leave); cluster_stats::groups_in_hand
/// says when that is done.
using leave_atom = caf::atom_constant<caf::atom("cl_leave")>;
/// serve -> cluster actor after a reload (SIGHUP) read other limits: switch
/// to this limits digest together with every member up (on_limits says when).
using propose_limits_atom = caf::atom_constant<caf::atom("cl_limits")>;

/// Spawns the cluster actor; publish it on the node's CAF port with
/// publish_cluster_node().
caf::actor spawn_cluster_node(caf::actor_system& sys, cluster_node_config cfg);

/// Publishes `node` at cfg.cluster's listen address. Returns "" or why not.
std::string publish_cluster_node(caf::actor_system& sys, const caf::actor& node,
                                 const cluster_config& cfg);

/// The cluster's wire protocol: changed whenever a message between members
/// changes (a field, their order or their meaning). CAF's handshake compares
/// it (middleman.app-identifiers), so a member connects only to members of
/// the same protocol: one of another build is refused and counted down,
/// never misread (docs/CLUSTER.md, "Upgrading").
constexpr const char* cluster_protocol = "usher-cluster-2";

/// Registers the cluster's message types and its wire protocol (also call
/// add_message_types()).
void add_cluster_message_types(caf::actor_system_config& cfg);

// -- between members ---------------------------------------------------------

/// A handoff: the state of `group` from member `from` at its generation.
struct handoff_msg {
  group_id group = 0;
  std::uint32_t from = 0;
  std::uint64_t from_gen = 0;
  std::uint64_t to_gen = 0;  ///< the receiver's generation as the sender knew it
  /// The same in every copy: the sender sends it again until it hears the
  /// group held (a handoff lost with a connection would leave the group to
  /// nobody), and the receiver takes one copy (cluster_view::accept_handoff).
  handoff_id id;
  handed_over moved;
  /// The sender was still recovering the group (after a takeover or its
  /// start) for this long: the receiver goes on recovering until then, since
  /// leases granted before the takeover may still run that nobody has
  /// renewed here yet (0: not recovering).
  std::int64_t recover_left_us = 0;
};

/// replicas = 1 (docs/CLUSTER.md, "Replicas"): what a group's holder tells
/// the member that keeps its copy (its backup). A copy starts with a sync
/// (every lease, `seq` 0) and goes on with one message per change; a holder
/// starts a new copy (a new `copy` id) when it takes another backup or a
/// change was not acknowledged in time. Messages may arrive out of order: a
/// lease's newer change wins over an older one. Each is acknowledged
/// (replica_ack); the holder tells a client of a grant or a renewal only
/// once its change is acknowledged, so a complete copy has every lease
/// a client may use.
struct replica_msg {
  /// image: each account's state beyond its leases (live_ledger::accounts_now),
  /// sent each heartbeat once the copy is synced; the backup keeps the newest.
  enum op : std::uint8_t { sync, upsert, remove, drop, image };
  std::uint8_t what = sync;
  group_id group = 0;
  std::uint32_t from = 0;
  std::uint64_t from_gen = 0;
  std::uint64_t to_gen = 0;  ///< the backup's generation as the holder knows it
  std::uint64_t copy = 0;    ///< the holder's id of this copy
  std::uint64_t seq = 0;     ///< 0: the sync; then one per change
  /// sync: every lease; upsert: the lease as it stands now; remove: its
  /// account and name.
  std::vector<moved_lease> leases;
  /// sync: the holder still recovers this long (0: not recovering).
  std::int64_t recover_left_us = 0;
  /// image: the accounts' state, its times counted from when it was taken.
  std::vector<moved_account> accounts;
};

/// The backup has taken in a replica_msg.
struct replica_ack {
  group_id group = 0;  ///< as the replica_msg said it
  std::uint32_t from = 0;  ///< the backup
  std::uint64_t copy = 0;
  std::uint64_t seq = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, replica_msg& x) {
  return f(caf::meta::type_name("replica_msg"), x.what, x.group, x.from, x.from_gen, x.to_gen, x.copy,
           x.seq, x.leases, x.recover_left_us, x.accounts);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, replica_ack& x) {
  return f(caf::meta::type_name("replica_ack"), x.group, x.from, x.copy, x.seq);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, group_note& x) {
  return f(caf::meta::type_name("group_note"), x.group, x.member, x.seq, x.gen);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, taken_note& x) {
  return f(caf::meta::type_name("taken_note"), x.group, x.from, x.id.incarnation, x.id.seq);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, beat& x) {
  return f(caf::meta::type_name("beat"), x.from, x.incarnation, x.seq, x.gens, x.over, x.acks,
           wire_bytes{x.heard}, x.held, x.handing, x.lost, x.claims, x.promises, x.handed, x.taken, x.digest,
           x.next_digest, x.leaving);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, handoff_msg& x) {
  return f(caf::meta::type_name("handoff_msg"), x.group, x.from, x.from_gen, x.to_gen, x.id.incarnation,
           x.id.seq, x.moved, x.recover_left_us);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_member_status& x) {
  return f(caf::meta::type_name("cluster_member_status"), x.name, x.address, x.state);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_status& x) {
  return f(caf::meta::type_name("cluster_status"), x.node, x.epoch, x.majority, x.members,
           x.owners, x.limits, x.limits_next, x.limits_waiting);
}

}  // namespace usher::actors::cluster

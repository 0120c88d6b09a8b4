#pragma once
/// One node's view of the cluster (docs/CLUSTER.md, "The protocol"): who is
/// up, whether this node may grant now, and which account groups it holds.
/// Plain C++ with no clock and no network: the cluster actor
/// (actors/cluster/cluster_node.hpp) feeds it the beats it receives and the
/// time, sends the beats it makes and carries out the actions it asks for,
/// so the protocol is tested alone, with several views wired together under
/// a fake clock (tests/actors/cluster/cluster_view_test.cpp).
///
/// Generations. Every member has a generation, starting at 0. A node that
/// reaches a majority and hears nothing from a member for failure_timeout
/// suspects it and votes it out by raising its generation (a node without a
/// majority does not vote: cut off, or resumed after a pause, it cannot tell
/// its peers' silence from its own); generations spread by gossip (every beat
/// carries the sender's view of all of them, merged by maximum). A member
/// that learns its own generation was raised has been voted out: it gives
/// up every group it holds (resign) and rejoins at the new generation. A
/// member is out for good ("decided") once a majority has raised it.
///
/// Grant validity (a lease on the right to grant, as leader leases do): a
/// node may grant only until `valid_until()`: V = failure_timeout -
/// heartbeat after the send time of the newest beat that enough peers
/// answered (answered: the peer heard it while it counted this node as up at
/// its generation; enough: with the node itself, a majority). A peer counts
/// a member as up for at least failure_timeout after the member's last beat,
/// and V is shorter, so a member's validity from a peer's answer ends before
/// that peer can vote it out. Any majority that votes a member out therefore
/// includes a peer whose answers no longer keep it valid: once a member is
/// decided out, it grants nothing, whether it crashed, hangs (SIGSTOP) or is
/// cut off. A vote counts only once the voter's own last answer to the member
/// can keep it valid no longer (V after the voter heard it last): a node that
/// raises a member by gossip while it still answered it moments ago has not
/// voted yet (beat::over). Nothing here waits on wall-clock agreement between machines,
/// only on their clocks running at the same rate.
///
/// Groups and tokens. An account group (an account, or the accounts that
/// share a gate: placement.hpp) is granted for by the one node that holds
/// its token. Tokens move by handoff (the holder stops, sends its state, the
/// receiver starts), so at most one node holds one; they are created only
///   - fresh, by the group's home (its owner when every member is up) at
///     generation 0, when no member was ever seen to hold it;
///   - by takeover, when the group's last holder is decided out or gave it
///     up (resigned): the new owner starts it in a recovery window (the
///     holder's leases are unknown) unless the holder never could have
///     granted (a member no one ever heard).
/// Either way the node first claims the group in its beats and starts it
/// only once a majority promised it (a member promises a group to one
/// claimer at a time, and only while no one it hears holds the group), so
/// two members whose views differ cannot both start one.
/// Beats list the groups each node holds (or is handing off) and those it
/// gave up, so a new owner knows when no one else can hold a group.
///
/// Limits. Members whose limits digests differ never count each other up.
/// A reload (SIGHUP) proposes new limits (propose_limits): the member says
/// them in its beats beside those it applies, and two members match while
/// one's applied digest is the other's applied or proposed one. A member
/// switches (action switch_limits) once it and every member it counts up
/// say the new digest, applied or proposed, and it has a majority: so the
/// cluster switches together, within a few heartbeats of the last member's
/// reload, and no member is counted down for it. Accounts are decided by
/// their owner alone, so each account goes from the old limits to the new
/// ones once, when its owner switches.
///
/// Owner. The owner a node wants for a group is the placement owner among
/// the members it counts as up (itself included while valid). Views differ
/// for a moment after a change; that costs only waiting (a forward to a node
/// that does not hold the group gets 503), never a second holder.

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "policies/time.hpp"

namespace usher::actors::cluster {

/// A group on the wire: a 64-bit hash of its placement key (group_id_of),
/// the same on every member whatever the order of its config, so that
/// members whose configs list other accounts (a reload that adds some, read
/// by one member before another) never mistake one group for another. Inside
/// a view (cluster_view::receive keeps peers' beats so) a group is its index.
using group_id = std::uint64_t;

/// A group and a member: a promise (`seq`: the member's generation) or a
/// finished handoff (`seq`: the receiver's beat that listed the group;
/// `gen`: the receiver's generation it took the group at).
struct group_note {
  group_id group = 0;
  std::uint32_t member = 0;
  std::uint64_t seq = 0;
  std::uint64_t gen = 0;
};

/// Names one handoff, the same in each of its sends: the sender's process
/// (incarnation) and its count of handoffs. A receiver takes a handoff of a
/// group once, and never one older than the last it took from that sender.
struct handoff_id {
  std::uint64_t incarnation = 0;
  std::uint64_t seq = 0;
};

/// A handoff its receiver took lately (accept_handoff): the group, the
/// member that sent it, and its id. The sender ends the handoff on it as on
/// the receiver's listing of the group: a receiver that hands the group on
/// at once lists it in one beat or two, which may all be lost.
struct taken_note {
  group_id group = 0;
  std::uint32_t from = 0;
  handoff_id id;
};

/// What a member tells every other each heartbeat. Also the answer to one:
/// every beat acknowledges the last beat received from each member.
struct beat {
  std::uint32_t from = 0;          ///< the sender's index in the peers list
  std::uint64_t incarnation = 0;   ///< random per process start: a restart is seen at once
  std::uint64_t seq = 0;           ///< the sender's beat number, from 1
  std::vector<std::uint64_t> gens; ///< the sender's view of every member's generation
  std::vector<std::uint64_t> acks; ///< per member: its last beat the sender heard while it
                                   ///< counted it up; 0: none
  std::vector<std::uint64_t> over;  ///< per member: generations below this are over for the
                                   ///< sender: raised, and no answer it gave keeps them valid
  std::vector<std::uint8_t> heard; ///< per member: 1 if the sender ever heard it
  std::vector<group_id> held;      ///< groups the sender holds or is handing off
  /// Of those, the ones it is handing off, and to whom (`seq` unused): the
  /// member a group is handed to does not count the sender as its holder.
  std::vector<group_note> handing;
  std::vector<group_id> lost;      ///< groups the sender gave up without a handoff
  std::vector<group_id> claims;        ///< groups the sender would start (needs promises)
  std::vector<group_note> promises;    ///< claims the sender backs: one member per group
  std::vector<group_note> handed;      ///< handoffs the sender finished lately
  std::vector<taken_note> taken;       ///< handoffs the sender took lately
  std::string digest;              ///< the limits digest (cluster_config) the sender applies
  /// The limits the sender has read and switches to with the others (a
  /// reload: propose_limits()); "" none.
  std::string next_digest;
  bool leaving = false;            ///< the sender drains: it hands everything off
};

enum class member_state : std::uint8_t { up, joining, down };
const char* to_string(member_state s);

class cluster_view {
 public:
  struct settings {
    std::vector<std::string> names;   ///< every member, in the config's order
    std::uint32_t self = 0;
    policies::usec heartbeat = policies::seconds(1) / 2;
    policies::usec failure_timeout = policies::seconds(2);
    std::vector<std::string> groups;  ///< placement keys (placement.hpp), the same on every node
    std::string digest;
  };

  /// What the node must do (decide()).
  struct action {
    enum class kind : std::uint8_t {
      activate_fresh,       ///< start granting for `group` with empty state
      activate_recovering,  ///< start granting for `group` after a recovery window
      activate_replicated,  ///< start granting for `group` from this node's copy of it (replicas = 1)
      hand_off,             ///< stop `group`, send its state to member `to` (handoff `id`)
      resign,               ///< stop every group it held (listed in `groups`); voted out
      switch_limits,        ///< apply the proposed limits (limits_digest() is theirs now)
    };
    kind what;
    std::uint32_t group = 0;
    std::uint32_t to = 0;
    std::vector<std::uint32_t> groups;
    handoff_id id;  ///< hand_off: the same in every copy sent (handoffs_due())
    std::uint64_t to_gen = 0;  ///< hand_off: the receiver's generation it is meant for
  };

  cluster_view(settings s, std::uint64_t incarnation, policies::usec now);

  /// The beat to send every peer now (one per heartbeat).
  [[nodiscard]] beat next_beat(policies::usec now);

  /// Takes in a peer's beat. Returns false (and ignores it) when its digest
  /// differs: that peer has other limits and cannot join (digest_mismatch()).
  /// Groups this node does not know (a peer that applies a reload adding
  /// accounts before this node does) are left out; who holds one is kept
  /// for when this node adds it (add_group).
  bool receive(const beat& b, policies::usec now);

  /// A group a reload added (docs/CLUSTER.md, "Configuration changes"):
  /// decided from the next decide() on like the others. A holder heard of
  /// before is its last holder (so it is taken over, never started afresh
  /// under leases that member granted). Returns its index; a known key
  /// returns the index it has.
  std::uint32_t add_group(const std::string& key);
  /// The wire id of group `g`, and the group of a wire id (nullopt: a group
  /// this node does not know).
  [[nodiscard]] group_id id_of(std::uint32_t g) const { return ids_[g]; }
  [[nodiscard]] std::optional<std::uint32_t> group_of(group_id id) const;

  /// Suspects members silent for failure_timeout, and says what to do now:
  /// resign, hand off, activate. Call each heartbeat and after receive().
  void decide(policies::usec now, std::vector<action>& out);

  /// A handoff of `group` arrived from member `from` at its generation
  /// `from_gen`, meant for this node at generation `to_gen`. `taken`: the
  /// node holds the group from now on; `again`: a copy of a handoff taken
  /// already, or older than one (the sender sends it until it hears the
  /// group held: a lost one would leave the group with nobody), or of a
  /// group this node holds already (it took it over meanwhile), ignored;
  /// `refused`: the sender is not up at that generation here (a member being
  /// voted out: its groups are taken over instead), or it was meant for this
  /// node before it was voted out.
  enum class handoff_answer : std::uint8_t { taken, again, refused };
  handoff_answer accept_handoff(std::uint32_t group, std::uint32_t from, std::uint64_t from_gen,
                                std::uint64_t to_gen, handoff_id id);
  /// Groups whose handoff the node must send again now: the receiver has
  /// not listed the group for half a failure_timeout since the last send.
  /// One lost (a connection that broke while it carried it) would otherwise
  /// leave the group with nobody, both members up, for good; the receiver
  /// takes one copy (accept_handoff). Call each heartbeat.
  void handoffs_due(policies::usec now, std::vector<std::uint32_t>& out);
  /// The member this node is handing `group` to; nullopt when none.
  [[nodiscard]] std::optional<std::uint32_t> handing_to(std::uint32_t group) const {
    return group_[group].handing_to;
  }

  /// This node has read other limits (a reload): it switches to them with
  /// the cluster (switch_limits). The digest it applies now withdraws a
  /// proposal.
  void propose_limits(std::string digest);
  /// The limits digest this node applies, and the one it proposed ("" none).
  [[nodiscard]] const std::string& limits_digest() const { return digest_; }
  [[nodiscard]] const std::string& next_limits() const { return next_digest_; }
  /// Members up that have not said `next_limits()` yet (the switch waits for them).
  [[nodiscard]] std::vector<std::uint32_t> limits_waiting_for(policies::usec now) const;

  /// This node drains (SIGTERM): from now on no group is placed on it, so it
  /// hands each of its groups to the member that ranks next, leases and all,
  /// and no takeover (with its recovery) is needed when it stops.
  void leave() { leaving_ = true; }
  /// Groups this node holds or is handing off now.
  [[nodiscard]] std::size_t groups_in_hand() const;

  /// A handoff this view asked for could not be sent (the receiver's
  /// connection was gone, or this node was voted out meanwhile): the group
  /// counts as given up here, for its owner to take over.
  void handoff_failed(std::uint32_t group);

  // -- replicas = 1 (docs/CLUSTER.md, "Replicas") ---------------------------

  /// The member a holder of `group` should copy it to: the one that would
  /// take it over were this node gone (the placement owner among the
  /// members it counts up, itself left out); nullopt: none up.
  [[nodiscard]] std::optional<std::uint32_t> backup_for(std::uint32_t group, policies::usec now) const;
  /// Whether `member` at `gen` is out for good (a majority raised it,
  /// firmly): a backup that is can no longer start a group from its copy,
  /// so its holder may copy to another. Also false for a generation that is
  /// not the member's own: that one is already out.
  [[nodiscard]] bool out_for_good(std::uint32_t member, std::uint64_t gen, policies::usec now) const {
    return gens_[member] != gen || decided_out(member, gen, now);
  }
  [[nodiscard]] std::uint64_t generation_of(std::uint32_t member) const { return gens_[member]; }
  /// This node holds a complete copy of `group` as member `from` holds it
  /// at `from_gen` (its first copy arrived; every lease it told a client
  /// of since is in it): should `from` be lost, this node may start the
  /// group from the copy (activate_replicated) instead of recovering. Valid
  /// while this node keeps its generation and the holder does not drop it.
  void replica_from(std::uint32_t group, std::uint32_t from, std::uint64_t from_gen);
  /// The copy of `group` is no use any more (its holder hands it on).
  void replica_dropped(std::uint32_t group);
  [[nodiscard]] bool has_replica(std::uint32_t group, std::uint32_t from, std::uint64_t from_gen) const;

  /// The node may grant until then (node time); 0: not now.
  [[nodiscard]] policies::usec valid_until() const { return valid_until_; }
  [[nodiscard]] std::uint64_t generation() const { return gens_[self_]; }
  /// The member that owns `group` when every member is up (its placement owner).
  [[nodiscard]] std::uint32_t home_of(std::uint32_t group) const { return home_[group]; }
  [[nodiscard]] bool holds(std::uint32_t group) const { return held_[group]; }
  /// The member this node would forward `group` to: the owner among those
  /// it counts up; nullopt when none (no majority).
  [[nodiscard]] std::optional<std::uint32_t> owner(std::uint32_t group) const;
  /// Where a request for `group`, not held here, goes: owner(), except
  /// when a member whose last beat lists the group held (not handing it
  /// on) applies other limits than the owner: it never hands the group to
  /// a member of other limits (decide_group), so the request goes to it.
  /// (Members count up those whose limits meet theirs, applied or read, so
  /// during a reload two members can count different members up.)
  [[nodiscard]] std::optional<std::uint32_t> forward_to(std::uint32_t group) const;
  [[nodiscard]] member_state state_of(std::uint32_t member, policies::usec now) const;
  /// Members whose digest differs from this node's (they never count up).
  [[nodiscard]] bool digest_mismatch(std::uint32_t member) const { return peers_[member].wrong_digest; }
  [[nodiscard]] bool up(std::uint32_t member) const;
  [[nodiscard]] std::size_t majority() const { return names_.size() / 2 + 1; }
  [[nodiscard]] const std::vector<std::string>& names() const { return names_; }
  [[nodiscard]] const std::vector<std::string>& groups() const { return groups_; }
  [[nodiscard]] std::uint32_t self() const { return self_; }
  /// How many times this node was voted out and rejoined, and groups taken over (metrics).
  [[nodiscard]] std::uint64_t takeovers() const { return takeovers_; }

 private:
  struct peer_info {
    bool ever_heard = false;
    bool raised_unheard = false;     ///< voted out as never joined, before it was heard
    bool wrong_digest = false;
    policies::usec last_heard = 0;   ///< last beat at its current generation
    policies::usec last_any = -1;    ///< last beat at all (joining)
    std::uint64_t incarnation = 0;
    std::uint64_t self_gen = 0;      ///< the generation its last beat gave itself
    std::uint64_t last_seq = 0;      ///< its last beat heard while up: we ack it
    std::optional<beat> latest;      ///< its last beat
    policies::usec vouched = -1;     ///< send time of our newest beat it answered
    policies::usec acked_at = -1;    ///< when we last heard it while counting it up (our
                                     ///< answers to it may keep it valid until V after)
    std::uint64_t acked_gen = 0;     ///< its generation then
  };
  struct group_info {
    std::optional<std::uint32_t> handing_to;
    policies::usec handoff_sent = 0;    ///< while handing_to: when it was last sent
    handoff_id handoff;                 ///< while handing_to: its id
    std::uint64_t handoff_to_gen = 0;   ///< while handing_to: the receiver's generation
    std::uint64_t handoff_from_gen = 0; ///< while handing_to: this node's generation
    /// Taken by a handoff and not listed in a beat of this node's since:
    /// a handoff of it on (handing_to) ends only once a beat has listed it.
    bool unlisted = false;
    bool arrived = false;               ///< that handoff on arrived meanwhile
    std::uint64_t arrived_seq = 0;      ///< the receiver's beat that listed it
    bool ever_listed = false;           ///< some member was seen to hold it
    std::uint32_t last_holder = 0;      ///< valid when ever_listed
    std::uint64_t last_holder_gen = 0;  ///< its generation then
    bool lost_here = false;             ///< this node resigned it
    bool replica = false;               ///< replica_from(): a copy of the group here
    std::uint32_t replica_from = 0;
    std::uint64_t replica_from_gen = 0;
    std::uint64_t replica_own_gen = 0;  ///< this node's generation when it came
  };

  /// Places group g (its key in groups_): home, weights, wire id.
  void place(std::uint32_t g);
  bool counted_up(std::uint32_t member, policies::usec now) const;
  void suspect_silent(policies::usec now);
  void update_validity();
  /// A majority has raised `member` above `gen`, firmly (beat::over).
  bool decided_out(std::uint32_t member, std::uint64_t gen, policies::usec now) const;
  /// This node's beat::over for `member` at `now`.
  std::uint64_t over(std::uint32_t member, policies::usec now) const;
  /// How long an answer keeps a member valid: failure_timeout - heartbeat.
  policies::usec validity() const { return failure_timeout_ - heartbeat_; }
  void decide_group(std::uint32_t g, policies::usec now, std::vector<action>& out);
  bool may_start(std::uint32_t g, policies::usec now, action::kind& how) const;
  /// A takeover of `g` from its holder `h` at `hgen`: from this node's copy
  /// when it has one of that holder's, else recovering.
  action::kind takeover_kind(std::uint32_t g, std::uint32_t h, std::uint64_t hgen) const;
  bool nobody_else_holds(std::uint32_t g, policies::usec now) const;
  void resign_all(std::vector<action>& out);
  /// Whether a peer's beat says limits this node can count up with.
  bool limits_match(const beat& b) const;
  void switch_limits(policies::usec now, std::vector<action>& out);

  std::vector<std::string> names_;
  std::uint32_t self_;
  policies::usec heartbeat_;
  policies::usec failure_timeout_;
  std::vector<std::string> groups_;
  std::vector<group_id> ids_;  ///< by group
  std::unordered_map<group_id, std::uint32_t> index_of_;
  /// Groups not known here that a peer's current beat listed as held:
  /// (member, its generation), for add_group.
  std::unordered_map<group_id, std::pair<std::uint32_t, std::uint64_t>> unknown_held_;
  std::vector<std::uint32_t> home_;  ///< by group: its owner when every member is up
  std::vector<std::uint64_t> weights_;  ///< [group * members + member]: rendezvous weights
  std::string digest_;
  std::string next_digest_;
  std::uint64_t incarnation_;
  std::uint64_t handoffs_ = 0;  ///< handoffs started (their ids)
  policies::usec started_;
  std::uint64_t seq_ = 0;
  std::deque<std::pair<std::uint64_t, policies::usec>> sent_;  ///< (seq, send time), recent
  std::vector<std::uint64_t> gens_;
  std::vector<peer_info> peers_;
  std::vector<bool> held_;
  std::vector<bool> claiming_;
  std::vector<std::optional<std::uint32_t>> promised_;  ///< by group: the member it is promised to
  std::deque<std::pair<group_note, policies::usec>> handed_;  ///< finished handoffs, said until then
  /// Handoffs taken, said until then (-1: from the next beat on, for a failure_timeout).
  std::deque<std::pair<taken_note, policies::usec>> taken_notes_;
  std::vector<group_info> group_;
  /// [group * members + sender]: the last handoff taken (accept_handoff).
  std::vector<handoff_id> taken_;
  std::vector<std::uint32_t> lost_;   ///< groups resigned, until someone else lists them
  std::uint64_t resigned_gen_ = 0;    ///< the generation of the last resign
  policies::usec valid_until_ = 0;
  std::uint64_t takeovers_ = 0;
  bool leaving_ = false;
  bool leave_said_ = false;  ///< a beat saying so has gone out
};

}  // namespace usher::actors::cluster

#include "actors/cluster/cluster_node.hpp"

#include <caf/io/all.hpp>
#include <algorithm>
#include <limits>
#include <random>

#include "actors/cluster/cluster_view.hpp"

namespace usher::actors::cluster {

using policies::usec;

void add_cluster_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<beat>("usher::beat");
  cfg.add_message_type<handoff_msg>("usher::handoff_msg");
  cfg.add_message_type<replica_msg>("usher::replica_msg");
  cfg.add_message_type<replica_ack>("usher::replica_ack");
  cfg.add_message_type<cluster_member_status>("usher::cluster_member_status");
  cfg.add_message_type<cluster_status>("usher::cluster_status");
  cfg.set("middleman.app-identifiers", std::vector<std::string>{cluster_protocol});
}

namespace {

/// A request from another member's cluster actor (never forwarded again).
using forward_atom = caf::atom_constant<caf::atom("cl_forward")>;
/// The actor's own heartbeat.
using beat_atom = caf::atom_constant<caf::atom("cl_beat")>;
/// The actor to itself, replicas = 1: send the changes of group g's copy
/// gathered since the last one (they arrive after the requests already in
/// the mailbox: the grants of one instant go to the backup together).
using flush_copy_atom = caf::atom_constant<caf::atom("cl_flush")>;

/// An answer held until the backup has its change (replicas = 1): `true`
/// delivers it, `false` answers 503 (the group left this node meanwhile).
using held_answer = std::function<void(bool)>;

/// replicas = 1: a handoff waiting for the backup to drop its copy first.
struct drop_wait {
  std::uint32_t backup = 0;
  std::uint64_t backup_gen = 0;
  replica_msg msg;  ///< the drop, sent again each heartbeat until acknowledged
};

/// replicas = 1: the copy of a group this node holds, at its backup.
struct copy_out {
  std::optional<std::uint32_t> backup;
  std::uint64_t backup_gen = 0;
  std::uint64_t copy = 0;        ///< the copy under way; 0: none
  bool asked = false;            ///< the leases for its sync were asked of the admission actor
  bool synced = false;           ///< its sync went out
  std::uint64_t seq = 0;         ///< the last change sent
  bool image_asked = false;      ///< the accounts' image was asked of the admission actor
  usec image_sent = 0;           ///< when the last image was asked
  /// A grant, renewal or release since the last image was asked (or a new
  /// copy, which has none): an idle group's accounts cost no image.
  bool image_stale = true;
  /// Changes not sent yet: leases granted or renewed, with the answers
  /// that wait for them, and leases released. They go when flush_copy_atom
  /// comes, or, while the last grants and renewals sent are unacknowledged,
  /// with their ack (group commit: what comes during a round trip goes in
  /// the next).
  std::vector<moved_lease> upserts;
  std::vector<held_answer> upsert_answers;
  std::vector<moved_lease> removes;
  bool flush_due = false;
  std::uint64_t unacked = 0;  ///< the seq of the last grants and renewals sent, until acknowledged; 0: none
  usec unacked_at = 0;        ///< when they were sent
  std::vector<held_answer> before_sync;  ///< answers the sync covers (decided before it)
  /// Answers waiting for the backup's ack of a change, by its seq (with
  /// when they began to wait).
  std::multimap<std::uint64_t, std::pair<usec, held_answer>> waiting;
  /// Moving to another backup: the one before drops its copy first
  /// (sent again each heartbeat until acknowledged).
  std::optional<drop_wait> leaving;
  usec drop_sent = 0;
};

/// replicas = 1: a copy this node keeps of another member's group.
struct copy_in {
  std::uint32_t from = 0;
  std::uint64_t from_gen = 0;
  std::uint64_t copy = 0;
  bool synced = false;
  struct entry {
    std::uint64_t seq = 0;
    bool removed = false;
    moved_lease lease;
    usec ends = 0;  ///< node time its TTL runs out here at the latest; 0: its connection holds it
  };
  std::map<std::pair<std::string, std::string>, entry> leases;  ///< by (account, lease)
  usec recover_until = 0;
  /// The newest image of the accounts' state beyond their leases, and its seq.
  std::vector<moved_account> accounts;
  std::uint64_t image_seq = 0;
};


struct cluster_state {
  cluster_node_config cfg;
  std::unique_ptr<cluster_view> view;
  std::unordered_map<std::string, std::uint32_t> group_of;  ///< account -> group
  std::vector<caf::actor> peer;      ///< by member; invalid while not connected
  std::vector<bool> connecting;
  std::vector<std::string> connect_error;  ///< by member: the last failure said (once per cause)
  /// Requests forwarded to each member and not answered yet: how each is
  /// answered 503 should the member go down first.
  std::vector<std::unordered_map<std::uint64_t, std::function<void()>>> pending;
  std::uint64_t next_forward = 0;
  std::vector<member_state> shown;   ///< member states last logged
  std::vector<bool> held;            ///< groups held when on_hold was last told
  std::vector<usec> recovering_until;  ///< by group: node time its admission actor recovers until
  std::size_t groups_at_start = 0;     ///< groups from that on, a reload added (add_groups)
  std::vector<cluster_view::action> actions;  ///< scratch
  /// Handoffs sent and not yet seen arrive (the receiver's beats do not
  /// list the group yet), by group: sent again when the view says
  /// (handoffs_due).
  std::map<std::uint32_t, std::pair<std::uint32_t, handoff_msg>> handing;  ///< (to, message)
  std::vector<std::uint32_t> due;  ///< scratch
  // replicas = 1 (docs/CLUSTER.md, "Replicas")
  std::vector<copy_out> copies;                   ///< by group: this node's copy at its backup
  std::vector<std::optional<copy_in>> copies_in;  ///< by group: copies kept here
  std::map<std::uint32_t, std::vector<drop_wait>> dropping;  ///< by group
  std::uint64_t next_copy = 0;
  bool had_majority = false;
  static inline const char* name = "usher.cluster";
};

using self_ptr = caf::stateful_actor<cluster_state>*;

usec now_of(self_ptr self) {
  return std::chrono::duration_cast<std::chrono::microseconds>(self->clock().now() -
                                                               self->state.cfg.epoch)
      .count();
}

void say(self_ptr self, bool error, const std::string& text) {
  if (self->state.cfg.log) self->state.cfg.log(error, text);
}

const std::string& member_name(self_ptr self, std::uint32_t m) {
  return self->state.view->names()[m];
}

// Answers 503 every request forwarded to member m: it went down.
void fail_pending(self_ptr self, std::uint32_t m) {
  auto& st = self->state;
  auto pending = std::move(st.pending[m]);
  st.pending[m].clear();
  for (auto& [id, fail] : pending) fail();
}

// -- replicas = 1: the copy of each held group at its backup ------------------

bool replicating(self_ptr self) { return self->state.cfg.cluster.replicas == 1; }

// Sends a change of g's copy to its backup; returns its seq (0: the sync).
std::uint64_t send_change(self_ptr self, std::uint32_t g, std::uint8_t what,
                          std::vector<moved_lease> leases, std::int64_t recover_left_us = 0,
                          std::vector<moved_account> accounts = {}) {
  auto& st = self->state;
  auto& c = st.copies[g];
  replica_msg m;
  m.what = what;
  m.group = st.view->id_of(g);
  m.from = st.view->self();
  m.from_gen = st.view->generation();
  m.to_gen = c.backup_gen;
  m.copy = c.copy;
  m.seq = what == replica_msg::sync ? 0 : ++c.seq;
  m.leases = std::move(leases);
  m.recover_left_us = recover_left_us;
  m.accounts = std::move(accounts);
  ++st.cfg.stats->replica_messages;
  if (st.peer[*c.backup]) self->send(st.peer[*c.backup], m);
  return m.seq;
}

// Starts g's copy over (another backup, or a change not acknowledged in
// time): the answers waiting are covered by the next sync, whose leases the
// admission actor reads after it decided them.
void restart_copy(self_ptr self, std::uint32_t g, bool other_backup) {
  auto& c = self->state.copies[g];
  for (auto& [seq, w] : c.waiting) c.before_sync.push_back(std::move(w.second));
  c.waiting.clear();
  for (auto& answer : c.upsert_answers) c.before_sync.push_back(std::move(answer));
  c.upsert_answers.clear();
  c.upserts.clear();
  c.removes.clear();
  c.copy = 0;
  c.asked = false;
  c.synced = false;
  c.image_asked = false;
  c.image_stale = true;
  c.unacked = 0;
  c.seq = 0;
  if (other_backup) c.backup.reset();
}

// The group left this node: every answer waiting on its copy gets 503.
void end_copy(self_ptr self, std::uint32_t g) {
  auto& c = self->state.copies[g];
  auto before = std::move(c.before_sync);
  auto waiting = std::move(c.waiting);
  auto gathered = std::move(c.upsert_answers);
  c = copy_out{};  // (a flush on its way finds nothing to send)
  for (auto& answer : before) answer(false);
  for (auto& [seq, w] : waiting) w.second(false);
  for (auto& answer : gathered) answer(false);
}

// The changes gathered since the last flush go out: the grants and renewals
// in one message, the releases in another after it (a lease granted and
// released meanwhile ends removed). Not while grants and renewals sent
// before are unacknowledged: then their ack sends these. Releases wait for
// no ack (nobody waits for them), so one on its way never holds back the
// next grant: alone, a grant waits one round trip, not two.
void flush_copy(self_ptr self, std::uint32_t g) {
  auto& st = self->state;
  auto& c = st.copies[g];
  c.flush_due = false;
  // (A copy not synced, or a group not held, has nothing gathered:
  // restart_copy and end_copy empty the lists.)
  if ((c.upserts.empty() && c.removes.empty()) || c.unacked != 0) return;
  auto now = now_of(self);
  if (!c.upserts.empty()) {
    auto seq = send_change(self, g, replica_msg::upsert, std::move(c.upserts));
    c.unacked = seq;
    c.unacked_at = now;
    for (auto& answer : c.upsert_answers) c.waiting.emplace(seq, std::make_pair(now, std::move(answer)));
  }
  if (!c.removes.empty()) send_change(self, g, replica_msg::remove, std::move(c.removes));
  c.upserts.clear();
  c.upsert_answers.clear();
  c.removes.clear();
}

void gather(self_ptr self, std::uint32_t g) {
  auto& c = self->state.copies[g];
  c.image_stale = true;
  if (c.flush_due) return;
  c.flush_due = true;
  self->send(self, flush_copy_atom::value, g);
}

// A drop of g's copy at member `at` (its generation `gen`), named by a new id.
drop_wait drop_of(self_ptr self, std::uint32_t g, std::uint32_t at, std::uint64_t gen) {
  auto& st = self->state;
  drop_wait d{at, gen, {}};
  d.msg.what = replica_msg::drop;
  d.msg.group = st.view->id_of(g);
  d.msg.from = st.view->self();
  d.msg.from_gen = st.view->generation();
  d.msg.to_gen = gen;
  d.msg.copy = ++st.next_copy;
  if (st.peer[at]) self->send(st.peer[at], d.msg);
  return d;
}

// Once a heartbeat, g's synced copy gets an image of its accounts' state
// beyond their leases (buckets, session windows, gates' state, adaptive
// limits): a takeover from the copy starts from it instead of afresh, so a
// crash does not refill an account's bucket. What was spent after the last
// image is lost with the holder: at most a heartbeat's worth of it.
void send_image(self_ptr self, std::uint32_t g, usec now) {
  auto& st = self->state;
  auto& c = st.copies[g];
  if (!c.synced || !c.image_stale || c.image_asked || now - c.image_sent < st.cfg.cluster.heartbeat) return;
  c.image_asked = true;
  c.image_stale = false;
  c.image_sent = now;
  auto copy = c.copy;
  self->request(st.cfg.groups[g].actor, caf::infinite, account_images_atom::value)
      .then([=](std::vector<moved_account>& accounts) {
        auto& c = self->state.copies[g];
        if (c.copy != copy || !c.backup) return;  // a new copy asks again
        c.image_asked = false;
        if (self->state.view->holds(g)) send_change(self, g, replica_msg::image, {}, 0, std::move(accounts));
      });
}

// Keeps g's copy going while this node holds g: at its backup, the member
// that would take g over (placement among the members up, this one left
// out); a sync, then each change; a new copy when a change went
// unacknowledged for half a failure_timeout (lost on the way). A backup
// that is no longer the one to take g over drops its copy before another
// member gets one, unless it is out for good (then it can no longer start g
// from its copy): a copy that stops getting changes must never start it.
void keep_copy(self_ptr self, std::uint32_t g, usec now) {
  auto& st = self->state;
  auto& v = *st.view;
  auto& c = st.copies[g];
  if (!v.holds(g)) {
    if (c.backup || c.leaving || !c.before_sync.empty() || !c.waiting.empty()) end_copy(self, g);
    return;
  }
  if (c.leaving) {
    if (!v.out_for_good(c.leaving->backup, c.leaving->backup_gen, now)) {
      if (now - c.drop_sent >= st.cfg.cluster.heartbeat && st.peer[c.leaving->backup]) {
        c.drop_sent = now;
        self->send(st.peer[c.leaving->backup], c.leaving->msg);
      }
      return;
    }
    c.leaving.reset();
  }
  if (c.backup && v.out_for_good(*c.backup, c.backup_gen, now))
    restart_copy(self, g, true);
  else if ((!c.waiting.empty() && now - c.waiting.begin()->second.first >= st.cfg.cluster.failure_timeout / 2) ||
           (c.unacked != 0 && now - c.unacked_at >= st.cfg.cluster.failure_timeout / 2))
    restart_copy(self, g, false);  // (what gathered behind a lost ack would wait for ever)
  auto want = v.backup_for(g, now);
  if (c.backup && want && *want != *c.backup) {
    c.leaving = drop_of(self, g, *c.backup, c.backup_gen);
    c.drop_sent = now;
    restart_copy(self, g, true);
    return;
  }
  if (!c.backup) {
    if (!want) return;
    c.backup = *want;
    c.backup_gen = v.generation_of(*want);
  }
  if (!st.peer[*c.backup]) return;
  if (c.asked) return send_image(self, g, now);
  c.asked = true;
  c.copy = ++st.next_copy;
  auto copy = c.copy;
  self->request(st.cfg.groups[g].actor, caf::infinite, replica_atom::value)
      .then([=](std::vector<moved_lease>& leases) {
        auto& s = self->state;
        auto& c = s.copies[g];
        if (c.copy != copy || !s.view->holds(g)) return;
        auto now = now_of(self);
        c.synced = true;
        send_change(self, g, replica_msg::sync, std::move(leases),
                    std::max<usec>(0, s.recovering_until[g] - now));
        for (auto& answer : c.before_sync) c.waiting.emplace(0, std::make_pair(now, std::move(answer)));
        c.before_sync.clear();
      });
}

// An answer that tells a client of `lease` (a grant, a renewal) waits until
// g's backup has it: then, should this node be lost, the member that takes
// g over from its copy knows every lease a client may use.
void hold_answer(self_ptr self, std::uint32_t g, moved_lease lease, held_answer answer) {
  auto& st = self->state;
  auto& c = st.copies[g];
  ++st.cfg.stats->replica_waits;
  if (!st.view->holds(g)) {
    answer(false);
    return;
  }
  auto now = now_of(self);
  if (!c.synced) {  // decided before the sync's leases are read: the sync covers it
    c.before_sync.push_back(std::move(answer));
    keep_copy(self, g, now);
    return;
  }
  c.upserts.push_back(std::move(lease));
  c.upsert_answers.push_back(std::move(answer));
  gather(self, g);
}

// A release answered 200: the backup forgets the lease (nobody waits for it:
// a copy that keeps a lease too long only holds its units a TTL more).
void copy_release(self_ptr self, std::uint32_t g, const std::string& account, const std::string& lease) {
  auto& st = self->state;
  auto& c = st.copies[g];
  if (!c.synced || !st.view->holds(g)) return;
  moved_lease m;
  m.account = account;
  m.lease = lease;
  c.removes.push_back(std::move(m));
  gather(self, g);
}

// A handoff goes out once the backup (and one being left) has dropped its
// copy: a copy of a group that moved on is not complete, and must never
// start it.
void finish_drop(self_ptr self, std::uint32_t g) {
  auto& st = self->state;
  st.dropping.erase(g);
  auto h = st.handing.find(g);
  if (h != st.handing.end() && st.view->handing_to(g) == h->second.first && st.peer[h->second.first])
    self->send(st.peer[h->second.first], h->second.second);
}

void connect(self_ptr self, std::uint32_t m) {
  auto& st = self->state;
  if (st.peer[m] || st.connecting[m]) return;
  if (st.cfg.link) {  // a simulated network: reachable now or not
    st.peer[m] = st.cfg.link(m);
    if (st.peer[m]) self->monitor(st.peer[m]);
    return;
  }
  st.connecting[m] = true;
  const auto& p = st.cfg.cluster.peers[m];
  auto mm = self->home_system().middleman().actor_handle();
  auto timeout = std::chrono::microseconds(st.cfg.cluster.failure_timeout);
  self->request(mm, timeout, caf::connect_atom::value, p.host, p.port)
      .then(
          [=](const caf::node_id&, caf::strong_actor_ptr& ptr, const std::set<std::string>&) {
            auto& s = self->state;
            s.connecting[m] = false;
            if (!ptr) return;
            s.peer[m] = caf::actor_cast<caf::actor>(ptr);
            self->monitor(s.peer[m]);
          },
          [=](caf::error& err) {
            auto& s = self->state;
            s.connecting[m] = false;
            // Said once per cause: a peer that is down is retried every
            // heartbeat. One of another protocol (an older or newer build)
            // is refused for good, which the operator must see.
            auto why = self->home_system().render(err);
            if (why == s.connect_error[m]) return;
            s.connect_error[m] = why;
            bool other_build = err == caf::sec::incompatible_application_ids;
            say(self, other_build,
                "cluster: cannot connect to " + s.cfg.cluster.peers[m].name + " at " + p.host + ":" +
                    std::to_string(p.port) + ": " +
                    (other_build ? std::string("it runs another build of the cluster protocol (this "
                                               "one speaks ") + cluster_protocol + ")"
                                 : why));
          });
}

void publish_window(self_ptr self, usec now) {
  auto& st = self->state;
  auto& v = *st.view;
  st.cfg.window->set(v.generation(), v.valid_until());
  auto& stats = *st.cfg.stats;
  stats.generation = static_cast<std::int64_t>(v.generation());
  bool majority = v.valid_until() > now;
  stats.majority = majority;
  if (majority != st.had_majority) {
    st.had_majority = majority;
    if (majority)
      say(self, false, "cluster: a majority is reachable: granting");
    else
      say(self, true, "cluster: no majority reachable: granting nothing until it is");
  }
}

// The groups of the limits just switched to (on_limits): a group a reload
// added is decided here from now on (its admission actor waits, like every
// other, for the group_activate that starts it), and an account a reload
// added to a group sharing a gate routes to that group.
void add_groups(self_ptr self, const std::vector<served_group>& groups) {
  auto& st = self->state;
  for (auto& sg : groups) {
    auto g = st.view->add_group(sg.key);
    if (g == st.cfg.groups.size()) {
      st.cfg.groups.push_back(sg);
      st.held.push_back(false);
      st.recovering_until.push_back(0);
      st.copies.emplace_back();
      st.copies_in.emplace_back();
      say(self, false, "cluster: " + sg.key + " added by the reload");
    } else {
      st.cfg.groups[g].accounts = sg.accounts;
    }
    for (auto& a : sg.accounts) st.group_of[a] = g;
  }
}

// Carries out what the view decided.
void act(self_ptr self, usec now) {
  auto& st = self->state;
  auto& v = *st.view;
  st.actions.clear();
  v.decide(now, st.actions);
  auto gen = v.generation();
  publish_window(self, now);
  for (auto& a : st.actions) {
    using kind = cluster_view::action::kind;
    switch (a.what) {
      case kind::activate_replicated:
        if (auto& in = st.copies_in[a.group]; in && in->synced) {
          // From this node's copy: the leases every client may use are in
          // it, each ending no later than its holder's TTL; grants go on at
          // once, or once the holder's own recovery would have ended.
          group_activate msg;
          msg.generation = gen;
          usec until = std::max<usec>(in->recover_until, st.cfg.start_recovery_until);
          msg.recover_until = until > now ? until : 0;
          for (auto& [name, e] : in->leases) {
            if (e.removed || (e.ends != 0 && e.ends <= now)) continue;
            msg.moved.leases.push_back(e.lease);
            msg.moved.leases.back().ttl_left_us = e.ends == 0 ? 0 : e.ends - now;
          }
          // The accounts' state as of the last image, its times counted
          // from now: the refill of the outage is forgone (docs/CLUSTER.md).
          msg.moved.accounts = std::move(in->accounts);
          in.reset();
          ++st.cfg.stats->takeovers;
          ++st.cfg.stats->takeovers_from_copy;
          say(self, false,
              "cluster: took over " + st.cfg.groups[a.group].key + " from its copy here (" +
                  std::to_string(msg.moved.leases.size()) + " leases)");
          st.recovering_until[a.group] = msg.recover_until;
          self->send(st.cfg.groups[a.group].actor, std::move(msg));
          break;
        }
        a.what = kind::activate_recovering;  // no copy after all: as without one
        [[fallthrough]];
      case kind::activate_fresh:
      case kind::activate_recovering: {
        group_activate msg;
        msg.generation = gen;
        // A group a reload added, started fresh by its home in this
        // member's first process (generation 0), had no holder in this
        // cluster: no member starts a group while its home is not voted out
        // (cluster_view::may_start), and this process never knew it before
        // the reload. So it skips the window for members not heard since
        // this one started; the process's own start window still holds (a
        // whole cluster restarted with an account left out, then added back,
        // may have holders of it from before).
        bool new_group = a.what == kind::activate_fresh && a.group >= st.groups_at_start &&
                         v.home_of(a.group) == v.self() && gen == 0;
        if (st.cfg.start_recovery_until > now) msg.recover_until = st.cfg.start_recovery_until;
        if (a.what == kind::activate_fresh && st.cfg.fresh_recovery > 0 && !new_group)
          msg.recover_until = std::max<usec>(msg.recover_until, now + st.cfg.fresh_recovery);
        if (a.what == kind::activate_recovering) {
          msg.recover_until = now + st.cfg.lease_ttl;
          ++st.cfg.stats->takeovers;
          say(self, false,
              "cluster: took over " + st.cfg.groups[a.group].key + " (recovering for one lease TTL)");
        }
        st.recovering_until[a.group] = msg.recover_until;
        self->send(st.cfg.groups[a.group].actor, std::move(msg));
        break;
      }
      case kind::hand_off: {
        auto g = a.group;
        auto to = a.to;
        auto id = a.id;
        auto to_gen = a.to_gen;
        self->request(st.cfg.groups[g].actor, caf::infinite, hand_off_atom::value)
            .then([=](handed_over& moved) {
              auto& s = self->state;
              if (!s.peer[to] || s.view->generation() != gen) {
                // It cannot leave: the owner to be takes it over instead.
                s.view->handoff_failed(g);
                return;
              }
              ++s.cfg.stats->handoffs_out;
              say(self, false,
                  "cluster: handed " + s.cfg.groups[g].key + " to " + member_name(self, to) + " (" +
                      std::to_string(moved.leases.size()) + " leases)");
              auto left = std::max<usec>(0, s.recovering_until[g] - now_of(self));
              handoff_msg msg{s.view->id_of(g), s.view->self(), gen, to_gen, id, std::move(moved), left};
              // Copies drop first (finish_drop then sends the handoff).
              auto& c = s.copies[g];
              std::vector<drop_wait> drops;
              auto t = now_of(self);
              if (c.backup && !s.view->out_for_good(*c.backup, c.backup_gen, t))
                drops.push_back(drop_of(self, g, *c.backup, c.backup_gen));
              if (c.leaving && !s.view->out_for_good(c.leaving->backup, c.leaving->backup_gen, t))
                drops.push_back(*c.leaving);
              if (drops.empty()) self->send(s.peer[to], msg);
              else s.dropping[g] = std::move(drops);
              end_copy(self, g);
              s.handing[g] = {to, std::move(msg)};
            });
        break;
      }
      case kind::resign:
        if (a.groups.empty())
          say(self, false,
              "cluster: this node joins at generation " + std::to_string(gen) +
                  " (it was voted out while away)");
        else
          say(self, true,
              "cluster: this node was voted out (generation " + std::to_string(gen) +
                  "): it gives up " + std::to_string(a.groups.size()) +
                  " account groups, which other members take over");
        for (auto g : a.groups) self->send(st.cfg.groups[g].actor, resign_atom::value);
        break;
      case kind::switch_limits:
        say(self, false,
            "cluster: every member up has read limits " + v.limits_digest().substr(0, 12) +
                ": applying them");
        if (st.cfg.on_limits) add_groups(self, st.cfg.on_limits(v.limits_digest()));
        break;
    }
  }
  std::int64_t held = 0;
  for (std::uint32_t g = 0; g < v.groups().size(); ++g) {
    held += v.holds(g) ? 1 : 0;
    if (st.cfg.on_hold && v.holds(g) != st.held[g]) {
      st.held[g] = v.holds(g);
      st.cfg.on_hold(st.cfg.groups[g].key, v.holds(g), gen);
    }
  }
  st.cfg.stats->groups_held = held;
  st.cfg.stats->groups_in_hand = static_cast<std::int64_t>(v.groups_in_hand());
  if (replicating(self))
    for (std::uint32_t g = 0; g < v.groups().size(); ++g) keep_copy(self, g, now);
}

void send_beat(self_ptr self, usec now) {
  auto& s = self->state;
  auto b = s.view->next_beat(now);
  for (std::uint32_t m = 0; m < s.peer.size(); ++m)
    if (s.peer[m]) self->send(s.peer[m], b);
  // Handoffs the receiver has not listed yet may have been lost: sent again.
  for (auto i = s.handing.begin(); i != s.handing.end();)
    i = s.view->handing_to(i->first) == i->second.first ? std::next(i) : s.handing.erase(i);
  // Drops before a handoff not acknowledged yet: sent again, or done once
  // their member is out for good.
  for (auto i = s.dropping.begin(); i != s.dropping.end();) {
    auto g = (i++)->first;
    auto& drops = s.dropping[g];
    if (!s.view->handing_to(g)) {  // the handoff was given up
      s.dropping.erase(g);
      continue;
    }
    drops.erase(std::remove_if(drops.begin(), drops.end(),
                               [&](const drop_wait& d) { return s.view->out_for_good(d.backup, d.backup_gen, now); }),
                drops.end());
    if (drops.empty()) finish_drop(self, g);
    else
      for (auto& d : drops)
        if (s.peer[d.backup]) self->send(s.peer[d.backup], d.msg);
  }
  s.due.clear();
  s.view->handoffs_due(now, s.due);
  for (auto g : s.due) {
    auto i = s.handing.find(g);
    if (i != s.handing.end() && s.peer[i->second.first] && !s.dropping.count(g))
      self->send(s.peer[i->second.first], i->second.second);
  }
}

// Member states: logged when they change; forwards to a member no longer up fail.
void watch_members(self_ptr self, usec now) {
  auto& st = self->state;
  auto& v = *st.view;
  std::int64_t up = 0, joining = 0, down = 0;
  for (std::uint32_t m = 0; m < v.names().size(); ++m) {
    auto s = v.state_of(m, now);
    (s == member_state::up ? up : s == member_state::joining ? joining : down) += 1;
    if (m == v.self()) continue;
    if (s != member_state::up) fail_pending(self, m);
    if (s != st.shown[m]) {
      st.shown[m] = s;
      std::string text = "cluster: member " + member_name(self, m) + " is " + to_string(s);
      if (v.digest_mismatch(m))
        text += ": its [plan.*]/[account.*] sections differ from this node's (limits digest); "
                "it cannot join until the configs are the same";
      say(self, s == member_state::down || v.digest_mismatch(m), text);
    }
  }
  st.cfg.stats->members_up = up;
  st.cfg.stats->members_joining = joining;
  st.cfg.stats->members_down = down;
}

// Where a request for `account` goes: its group, and the member to ask
// (this node: the local admission actor decides, or says it does not own it).
struct route {
  std::uint32_t group = 0;
  std::optional<std::uint32_t> to;  ///< nullopt: no majority
  bool known = false;
};

route route_of(self_ptr self, const std::string& account) {
  auto& st = self->state;
  route r;
  auto i = st.group_of.find(account);
  if (i == st.group_of.end()) return r;
  r.known = true;
  r.group = i->second;
  if (st.view->holds(r.group)) r.to = st.view->self();
  else r.to = st.view->forward_to(r.group);
  return r;
}

// A lease's TTL told as `ttl_ms` ran from when its owner gave it, at most
// `age` ago: the client is told what is left. False when that is less than
// a third: its holder could not keep it (the lease keeper renews every
// third of a TTL), so it must not be told of it.
bool count_age(std::int64_t& ttl_ms, usec age) {
  if (ttl_ms <= 0) return true;
  auto ttl = std::min<std::int64_t>(ttl_ms, std::numeric_limits<usec>::max() / 1000) * 1000;
  if (age >= ttl * 2 / 3) return false;
  ttl_ms = (ttl - age) / 1000;
  return true;
}

// A grant that comes back late (this process or the network held it: a
// pause) has run part of its TTL at the owner already. The owner's
// admission actor answered `held_us` after the request reached it (an
// admission: the time it queued; a ticket poll: the time the poll waited for
// its ticket), so the TTL it gave is no older than the time since `sent`
// less that, and its holder must renew before the owner counts it free. So
// the client is told the TTL it has left, and a grant older than two thirds
// of its TTL (one its holder would already have to give up: the lease
// keeper's rule) is answered 503 (`down`) instead: an admission's lease is
// released (nobody else knows it), a ticket's is left to its ticket, which
// the client may poll again.
// Returns false for that.
bool keep_grant(self_ptr self, std::uint32_t m, const std::string& account, admit_reply& r,
                usec sent, bool release_late) {
  if (r.code != 200 || r.lease_ttl_ms <= 0) return true;
  // Both figures come from another process: cut to what can be, so that no
  // sum overflows whatever a peer sends.
  auto elapsed = std::max<usec>(0, now_of(self) - sent);
  auto age_at_most = elapsed - std::clamp<usec>(r.held_us, 0, elapsed);
  r.held_us = 0;  // said only between members
  if (count_age(r.lease_ttl_ms, age_at_most)) return true;
  auto& st = self->state;
  ++st.cfg.stats->grants_too_late;
  say(self, true,
      "cluster: a grant for " + account + " from " + member_name(self, m) + " came " +
          policies::format_seconds(age_at_most) + " s late, too late to keep its lease: " +
          (release_late ? "answered 503 and released" : "answered 503 (the ticket may be polled again)"));
  if (release_late && st.peer[m])
    self->request(st.peer[m], caf::infinite, forward_atom::value,
                  lease_request(account, r.lease, lease_op::release))
        .then([](const lease_reply&) {}, [](caf::error&) {});
  return false;
}

// Sends `msg` to member m's cluster actor and relays its answer; `down`
// answers it if m goes down first.
template <class Reply, class Msg>
caf::result<Reply> forward(self_ptr self, std::uint32_t m, Msg msg, Reply down) {
  auto& st = self->state;
  if (!st.peer[m]) {
    ++st.cfg.stats->forwarded_failed;
    return down;
  }
  ++st.cfg.stats->forwarded;
  auto rp = self->make_response_promise<Reply>();
  auto id = ++st.next_forward;
  st.pending[m].emplace(id, [rp, down, self]() mutable {
    ++self->state.cfg.stats->forwarded_failed;
    rp.deliver(down);
  });
  // For a grant's age and its release (keep_grant); other requests need neither.
  constexpr bool grants = std::is_same_v<Msg, admit_request> || std::is_same_v<Msg, ticket_poll>;
  usec sent = 0;
  std::string account;
  if constexpr (grants) {
    sent = now_of(self);
    account = msg.account;
  }
  self->request(st.peer[m], caf::infinite, forward_atom::value, std::move(msg))
      .then(
          [=](Reply& r) mutable {
            if (!self->state.pending[m].erase(id)) return;
            if constexpr (grants)
              if (!keep_grant(self, m, account, r, sent, std::is_same_v<Msg, admit_request>))
                r = down;
            rp.deliver(std::move(r));
          },
          [=](caf::error&) mutable {
            auto& p = self->state.pending[m];
            auto i = p.find(id);
            if (i == p.end()) return;
            auto fail = std::move(i->second);
            p.erase(i);
            fail();
          });
  return rp;
}

admit_reply unavailable(policies::reason why) {
  admit_reply r;
  r.code = 503;
  r.why = why;
  r.retry_after_s = 1;
  return r;
}

lease_reply lease_unavailable(policies::reason why) {
  lease_reply r;
  r.code = 503;
  r.why = why;
  return r;
}

live_metrics metrics_unavailable(policies::reason why) {
  live_metrics m;
  m.unavailable = why;
  return m;
}

// The local admission actor answers `msg` for group g. With replicas = 1,
// an answer that tells a client of a lease waits until g's backup has the
// lease (hold_answer), and a release tells the backup.
template <class Reply, class Msg>
caf::result<Reply> ask_local(self_ptr self, std::uint32_t g, const Msg& msg) {
  auto& st = self->state;
  constexpr bool tells_lease = std::is_same_v<Msg, admit_request> || std::is_same_v<Msg, ticket_poll> ||
                               std::is_same_v<Msg, lease_request>;
  if constexpr (!tells_lease) {
    return self->delegate(st.cfg.groups[g].actor, msg);
  } else {
    if (!replicating(self)) return self->delegate(st.cfg.groups[g].actor, msg);
    Reply moved;
    if constexpr (std::is_same_v<Reply, admit_reply>) moved = unavailable(policies::reason::not_owner);
    else moved = lease_unavailable(policies::reason::not_owner);
    std::string released;  // a release: the lease's name
    if constexpr (std::is_same_v<Msg, lease_request>)
      if (msg.op == lease_op::release) released = msg.lease;
    auto rp = self->make_response_promise<Reply>();
    self->request(st.cfg.groups[g].actor, caf::infinite, msg)
        .then(
            [=, account = msg.account](Reply& r) mutable {
              if (r.replica.empty()) {
                if (!released.empty() && r.code == 200) copy_release(self, g, account, released);
                rp.deliver(std::move(r));
                return;
              }
              auto lease = std::move(r.replica.front());
              r.replica.clear();
              auto got = now_of(self);
              hold_answer(self, g, std::move(lease), [=](bool ok) mutable {
                auto waited = now_of(self) - got;
                // The lease's TTL ran meanwhile.
                if constexpr (std::is_same_v<Reply, admit_reply>) ok = ok && count_age(r.lease_ttl_ms, waited);
                else ok = ok && count_age(r.ttl_ms, waited);
                if (!ok) ++self->state.cfg.stats->replica_failed;
                rp.deliver(ok ? std::move(r) : moved);
              });
            },
            [=](caf::error&) mutable { rp.deliver(moved); });
    return rp;
  }
}

// A request from the edge: to the local admission actor or the owner.
template <class Reply, class Msg>
caf::result<Reply> dispatch(self_ptr self, const Msg& msg, Reply unknown, Reply refused_no_majority,
                            Reply refused_down) {
  auto r = route_of(self, msg.account);
  if (!r.known) return unknown;
  if (!r.to) return refused_no_majority;
  auto& st = self->state;
  if (*r.to == st.view->self()) return ask_local<Reply>(self, r.group, msg);
  return forward<Reply>(self, *r.to, msg, refused_down);
}

// A request another member forwarded: served here only by the holder.
template <class Reply, class Msg>
caf::result<Reply> serve_forwarded(self_ptr self, const Msg& msg, Reply unknown, Reply not_here) {
  auto& st = self->state;
  ++st.cfg.stats->received;
  auto i = st.group_of.find(msg.account);
  if (i == st.group_of.end()) return unknown;
  if (!st.view->holds(i->second)) return not_here;
  return ask_local<Reply>(self, i->second, msg);
}

cluster_status status_of(self_ptr self) {
  auto& st = self->state;
  auto& v = *st.view;
  auto now = now_of(self);
  cluster_status s;
  s.node = v.names()[v.self()];
  s.epoch = static_cast<std::int64_t>(v.generation());
  s.majority = v.valid_until() > now;
  for (std::uint32_t m = 0; m < v.names().size(); ++m) {
    auto& p = st.cfg.cluster.peers[m];
    s.members.push_back(cluster_member_status{
        p.name, p.host + ":" + std::to_string(p.port), to_string(v.state_of(m, now))});
  }
  for (std::uint32_t g = 0; g < st.cfg.groups.size(); ++g) {
    std::string owner;
    if (v.holds(g)) owner = s.node;
    else if (auto o = v.owner(g)) owner = v.names()[*o];
    for (auto& a : st.cfg.groups[g].accounts) s.owners.emplace_back(a, owner);
  }
  s.limits = v.limits_digest();
  s.limits_next = v.next_limits();
  for (auto m : v.limits_waiting_for(now)) s.limits_waiting.push_back(v.names()[m]);
  return s;
}

caf::behavior cluster_behavior(self_ptr self, cluster_node_config cfg) {
  auto& st = self->state;
  cluster_view::settings s;
  s.names = cfg.cluster.member_names();
  s.self = static_cast<std::uint32_t>(
      std::find(s.names.begin(), s.names.end(), cfg.cluster.name) - s.names.begin());
  s.heartbeat = cfg.cluster.heartbeat;
  s.failure_timeout = cfg.cluster.failure_timeout;
  s.digest = cfg.cluster.limits_digest;
  for (std::uint32_t g = 0; g < cfg.groups.size(); ++g) {
    s.groups.push_back(cfg.groups[g].key);
    for (auto& a : cfg.groups[g].accounts) st.group_of[a] = g;
  }
  auto n = s.names.size();
  st.cfg = std::move(cfg);
  std::uint64_t incarnation = st.cfg.incarnation;
  if (incarnation == 0) {
    std::random_device rd;
    incarnation = (std::uint64_t{rd()} << 32) ^ rd();
  }
  st.view = std::make_unique<cluster_view>(std::move(s), incarnation, now_of(self));
  st.peer.resize(n);
  st.connecting.assign(n, false);
  st.connect_error.assign(n, std::string());
  st.pending.resize(n);
  st.shown.assign(n, member_state::down);
  st.held.assign(st.cfg.groups.size(), false);
  st.recovering_until.assign(st.cfg.groups.size(), 0);
  st.groups_at_start = st.cfg.groups.size();
  st.copies.resize(st.cfg.groups.size());
  st.copies_in.resize(st.cfg.groups.size());
  self->set_down_handler([=](const caf::down_msg& d) {
    auto& s = self->state;
    for (std::uint32_t m = 0; m < s.peer.size(); ++m)
      if (s.peer[m] && s.peer[m].address() == d.source) {
        s.peer[m] = nullptr;
        fail_pending(self, m);  // the connection is gone: nothing will answer
        // Changes on their way to it are lost: a new copy once it is back.
        for (std::uint32_t g = 0; g < s.copies.size(); ++g)
          if (s.copies[g].backup == m) restart_copy(self, g, false);
      }
  });
  // Held forwards are answered when the node stops.
  self->set_exit_handler([=](const caf::exit_msg& msg) {
    for (std::uint32_t m = 0; m < self->state.pending.size(); ++m) fail_pending(self, m);
    self->quit(msg.reason);
  });
  self->send(self, beat_atom::value);
  using policies::reason;
  return {
      [=](beat_atom) {
        auto& s = self->state;
        auto now = now_of(self);
        for (std::uint32_t m = 0; m < s.peer.size(); ++m)
          if (m != s.view->self() && !s.peer[m]) connect(self, m);
        act(self, now);
        watch_members(self, now);
        send_beat(self, now);
        // Copies kept here forget the leases whose TTL ran out.
        for (auto& in : s.copies_in)
          if (in)
            for (auto i = in->leases.begin(); i != in->leases.end();)
              i = i->second.ends != 0 && i->second.ends <= now ? in->leases.erase(i) : std::next(i);
        self->delayed_send(self, std::chrono::microseconds(s.cfg.cluster.heartbeat),
                           beat_atom::value);
      },
      [=](const replica_msg& m) {
        auto& s = self->state;
        auto& v = *s.view;
        auto now = now_of(self);
        auto known = v.group_of(m.group);  // not known: a reload here adds it later
        if (!known || m.from >= v.names().size() || m.from == v.self()) return;
        const auto g = *known;
        auto& in = s.copies_in[g];
        auto ack = [&] {
          if (s.peer[m.from]) self->send(s.peer[m.from], replica_ack{m.group, v.self(), m.copy, m.seq});
        };
        if (m.what == replica_msg::drop) {  // dropping only forgets: taken from anyone
          if (in && in->from == m.from) {
            in.reset();
            v.replica_dropped(g);
          }
          ack();
          return;
        }
        // From a member up here at the generation it sent from, meant for
        // this node as it is now, of a group this node does not hold.
        if (m.to_gen != v.generation() || v.generation_of(m.from) != m.from_gen || !v.up(m.from) ||
            v.holds(g) || m.what > replica_msg::image)
          return;
        if (!in || in->from != m.from || in->from_gen != m.from_gen || in->copy < m.copy) {
          in.emplace();
          in->from = m.from;
          in->from_gen = m.from_gen;
          in->copy = m.copy;
          v.replica_dropped(g);  // complete again only with this copy's sync
        } else if (in->copy > m.copy) {
          return;  // an older copy's
        }
        auto ends_of = [&](const moved_lease& l) {
          return l.ttl_left_us > 0 ? now + std::min<usec>(l.ttl_left_us, s.cfg.lease_ttl) : 0;
        };
        for (auto& l : m.leases) {
          auto key = std::make_pair(l.account, l.lease);
          auto i = in->leases.find(key);
          if (m.what == replica_msg::sync) {
            // A change made after the sync's leases were read may come first.
            if (i == in->leases.end()) in->leases.emplace(key, copy_in::entry{0, false, l, ends_of(l)});
            continue;
          }
          if (i == in->leases.end()) i = in->leases.emplace(key, copy_in::entry{}).first;
          if (i->second.seq > m.seq) continue;  // a newer change of it came first
          // A release is kept a TTL, so that an older change coming late
          // does not bring the lease back.
          bool removed = m.what == replica_msg::remove;
          i->second = copy_in::entry{m.seq, removed, l, removed ? now + s.cfg.lease_ttl : ends_of(l)};
        }
        if (m.what == replica_msg::image && m.seq > in->image_seq) {
          in->accounts = m.accounts;
          in->image_seq = m.seq;
        }
        if (m.what == replica_msg::sync) {
          in->synced = true;
          in->recover_until = m.recover_left_us > 0
                                  ? now + std::min<usec>(m.recover_left_us,
                                                         std::max(s.cfg.lease_ttl, s.cfg.start_recovery_until))
                                  : 0;
          v.replica_from(g, m.from, m.from_gen);
        }
        ack();
      },
      [=](flush_copy_atom, std::uint32_t g) {
        if (g < self->state.copies.size()) flush_copy(self, g);
      },
      [=](const replica_ack& a) {
        auto& s = self->state;
        auto known = s.view->group_of(a.group);
        if (!known) return;
        const auto g = *known;
        if (auto d = s.dropping.find(g); d != s.dropping.end()) {
          auto& drops = d->second;
          auto before = drops.size();
          drops.erase(std::remove_if(drops.begin(), drops.end(),
                                     [&](const drop_wait& w) { return w.backup == a.from && w.msg.copy == a.copy; }),
                      drops.end());
          bool was_a_drop = drops.size() != before;
          if (drops.empty()) finish_drop(self, g);  // erases `drops`
          if (was_a_drop) return;
        }
        auto& c = s.copies[g];
        if (c.leaving && c.leaving->backup == a.from && c.leaving->msg.copy == a.copy) {  // moving on
          c.leaving.reset();
          keep_copy(self, g, now_of(self));
          return;
        }
        if (!c.backup || *c.backup != a.from || c.copy != a.copy) return;
        auto range = c.waiting.equal_range(a.seq);
        std::vector<held_answer> ready;
        for (auto i = range.first; i != range.second; ++i) ready.push_back(std::move(i->second.second));
        c.waiting.erase(range.first, range.second);
        for (auto& answer : ready) answer(true);
        if (a.seq == c.unacked) {  // what came meanwhile goes now
          c.unacked = 0;
          flush_copy(self, g);
        }
      },
      [=](const beat& b) {
        auto& s = self->state;
        auto now = now_of(self);
        s.view->receive(b, now);
        act(self, now);
        watch_members(self, now);
      },
      [=](const handoff_msg& h) {
        auto& s = self->state;
        auto now = now_of(self);
        // A group not known here (a reload adding it is not applied here
        // yet): its sender sends it again until it is taken.
        auto known = s.view->group_of(h.group);
        if (!known) return;
        const auto g = *known;
        using answer = cluster_view::handoff_answer;
        switch (s.view->accept_handoff(g, h.from, h.from_gen, h.to_gen, h.id)) {
          case answer::again: return;  // a copy of one taken
          case answer::refused:
            say(self, true, "cluster: refused a handoff of " + s.cfg.groups[g].key +
                                " from a member voted out (or meant for this node before it was); "
                                "its new owner takes it over");
            return;
          case answer::taken: break;
        }
        s.copies_in[g].reset();  // this node holds the group now
        ++s.cfg.stats->handoffs_in;
        say(self, false,
            "cluster: took " + s.cfg.groups[g].key + " from " + member_name(self, h.from) +
                " (" + std::to_string(h.moved.leases.size()) + " leases" +
                (h.recover_left_us > 0 ? ", recovering for " + policies::format_seconds(h.recover_left_us) + " s more" : "") + ")");
        // Recovery goes on where the sender left it, never longer than this
        // node's own windows (the value comes over the network).
        auto left = std::clamp<usec>(h.recover_left_us, 0,
                                     std::max(s.cfg.lease_ttl, s.cfg.start_recovery_until));
        s.recovering_until[g] = left > 0 ? now + left : 0;
        self->send(s.cfg.groups[g].actor,
                   group_activate{s.view->generation(), s.recovering_until[g], h.moved});
        act(self, now);
      },
      [=](cluster_status_atom) { return status_of(self); },
      [=](propose_limits_atom, std::string& digest) {
        auto& s = self->state;
        auto now = now_of(self);
        s.view->propose_limits(std::move(digest));
        if (!s.view->next_limits().empty()) {
          std::string waiting;
          for (auto m : s.view->limits_waiting_for(now))
            waiting += (waiting.empty() ? "" : ", ") + member_name(self, m);
          say(self, false,
              "cluster: read limits " + s.view->next_limits().substr(0, 12) +
                  "; the cluster switches to them once every member up has read them" +
                  (waiting.empty() ? "" : " (waiting for " + waiting + ")"));
        }
        act(self, now);
        send_beat(self, now);  // the others may be waiting for this one
      },
      [=](leave_atom) {
        say(self, false, "cluster: draining: handing every account to the other members");
        auto now = now_of(self);
        self->state.view->leave();
        send_beat(self, now);  // before any handoff: receivers must know it leaves
        act(self, now);
      },
      // -- from the edge --------------------------------------------------
      [=](const admit_request& m) -> caf::result<admit_reply> {
        admit_reply unknown;
        unknown.code = 404;
        return dispatch<admit_reply>(self, m, unknown, unavailable(reason::no_majority),
                                     unavailable(reason::owner_down));
      },
      [=](const cancel_request& m) {
        auto r = route_of(self, m.account);
        if (!r.known || !r.to) return;
        auto& s = self->state;
        if (*r.to == s.view->self()) self->send(s.cfg.groups[r.group].actor, m);
        else if (s.peer[*r.to]) self->send(s.peer[*r.to], forward_atom::value, m);
      },
      [=](const lease_request& m) -> caf::result<lease_reply> {
        lease_reply unknown;
        unknown.code = 404;
        return dispatch<lease_reply>(self, m, unknown, lease_unavailable(reason::no_majority),
                                     lease_unavailable(reason::owner_down));
      },
      [=](const ticket_poll& m) -> caf::result<admit_reply> {
        admit_reply unknown;
        unknown.code = 404;
        return dispatch<admit_reply>(self, m, unknown, unavailable(reason::no_majority),
                                     unavailable(reason::owner_down));
      },
      [=](const ticket_cancel& m) -> caf::result<lease_reply> {
        lease_reply unknown;
        unknown.code = 404;
        return dispatch<lease_reply>(self, m, unknown, lease_unavailable(reason::no_majority),
                                     lease_unavailable(reason::owner_down));
      },
      [=](const usage_query& m) -> caf::result<concurrency_snapshot> {
        auto r = route_of(self, m.account);
        auto& s = self->state;
        if (!r.known || !r.to) return concurrency_snapshot{};
        if (*r.to == s.view->self()) return self->delegate(s.cfg.groups[r.group].actor, m);
        return forward<concurrency_snapshot>(self, *r.to, m, concurrency_snapshot{});
      },
      [=](const metrics_query& m) -> caf::result<live_metrics> {
        return dispatch<live_metrics>(self, m, live_metrics{}, metrics_unavailable(reason::no_majority),
                                      metrics_unavailable(reason::owner_down));
      },
      // -- from other members ---------------------------------------------
      [=](forward_atom, const admit_request& m) -> caf::result<admit_reply> {
        admit_reply unknown;
        unknown.code = 404;
        return serve_forwarded<admit_reply>(self, m, unknown, unavailable(reason::not_owner));
      },
      [=](forward_atom, const cancel_request& m) {
        auto& s = self->state;
        auto i = s.group_of.find(m.account);
        if (i != s.group_of.end() && s.view->holds(i->second))
          self->send(s.cfg.groups[i->second].actor, m);
      },
      [=](forward_atom, const lease_request& m) -> caf::result<lease_reply> {
        lease_reply unknown;
        unknown.code = 404;
        return serve_forwarded<lease_reply>(self, m, unknown,
                                            lease_unavailable(reason::not_owner));
      },
      [=](forward_atom, const ticket_poll& m) -> caf::result<admit_reply> {
        admit_reply unknown;
        unknown.code = 404;
        return serve_forwarded<admit_reply>(self, m, unknown, unavailable(reason::not_owner));
      },
      [=](forward_atom, const ticket_cancel& m) -> caf::result<lease_reply> {
        lease_reply unknown;
        unknown.code = 404;
        return serve_forwarded<lease_reply>(self, m, unknown,
                                            lease_unavailable(reason::not_owner));
      },
      [=](forward_atom, const usage_query& m) -> caf::result<concurrency_snapshot> {
        return serve_forwarded<concurrency_snapshot>(self, m, concurrency_snapshot{},
                                                     concurrency_snapshot{});
      },
      [=](forward_atom, const metrics_query& m) -> caf::result<live_metrics> {
        return serve_forwarded<live_metrics>(self, m, live_metrics{},
                                             metrics_unavailable(reason::not_owner));
      },
  };
}

}  // namespace

caf::actor spawn_cluster_node(caf::actor_system& sys, cluster_node_config cfg) {
  return sys.spawn(cluster_behavior, std::move(cfg));
}

std::string publish_cluster_node(caf::actor_system& sys, const caf::actor& node,
                                 const cluster_config& cfg) {
  auto port = sys.middleman().publish(node, cfg.listen_port, cfg.listen_host.c_str(), true);
  if (!port)
    return "cannot listen on " + cfg.listen_host + ":" + std::to_string(cfg.listen_port) +
           " for the cluster: " + sys.render(port.error());
  return "";
}

}  // namespace usher::actors::cluster

#include "actors/admission_actor.hpp"

#include <algorithm>
#include <optional>
#include <random>
#include <unordered_map>

#include "actors/detail/live_ledger.hpp"

namespace usher::actors {

using policies::never;
using policies::usec;

namespace {

using promise = caf::typed_response_promise<admit_reply>;

/// A sync waiter or a ticket poller, answered when its request is decided.
struct held_promise {
  promise answer;
  usec since = 0;  ///< when it came: its answer says how long it was held (admit_reply::held_us)
  std::string account;  ///< replicas = 1: whose lease a grant describes
};

struct admission_state {
  std::unique_ptr<detail::live_ledger> ledger;
  caf::actor_clock::time_point epoch;
  usec last_now = 0;
  usec timer_at = never;  ///< node time of the one timer in flight
  std::unordered_map<std::uint64_t, held_promise> held;  ///< by request id or poll tag
  std::uint64_t next_poll_tag = std::uint64_t{1} << 63;  ///< apart from request ids
  std::vector<detail::live_ledger::answer> answers;  ///< scratch
  std::shared_ptr<const cluster::grant_window> window;  ///< nullptr: not in a cluster
  std::optional<std::uint64_t> active_gen;  ///< in a cluster: activated, at this generation
  bool replicate = false;  ///< admission_actor_config::replicate
  static inline const char* name = "usher.admission";
};

using self_ptr = admission_actor::stateful_pointer<admission_state>;

// The node's time: microseconds since its epoch, never decreasing.
usec now_of(self_ptr self) {
  auto& st = self->state;
  auto ns = std::chrono::duration_cast<std::chrono::microseconds>(self->clock().now() - st.epoch);
  st.last_now = std::max(st.last_now, static_cast<usec>(ns.count()));
  return st.last_now;
}

// replicas = 1: a grant says what its backup must copy (admit_reply::replica).
void describe_grant(self_ptr self, const std::string& account, admit_reply& r, usec now) {
  auto& st = self->state;
  if (st.replicate && r.code == 200 && !r.lease.empty())
    st.ledger->describe_lease(account, r.lease, now, r.replica);
}

// Answers held promises, then sets the timer for the next deadline if it is
// earlier than the one in flight (a delayed_send cannot be cancelled: a stale
// tick only runs advance() early, which is harmless).
void settle(self_ptr self, usec now) {
  auto& st = self->state;
  for (auto& a : st.answers) {
    auto i = st.held.find(a.tag);
    if (i == st.held.end()) continue;
    a.reply.held_us = now - i->second.since;
    describe_grant(self, i->second.account, a.reply, now);
    i->second.answer.deliver(std::move(a.reply));
    st.held.erase(i);
  }
  st.answers.clear();
  usec next = st.ledger->next_deadline();
  if (next != never && next < st.timer_at) {
    st.timer_at = next;
    auto wait = std::chrono::microseconds(std::max<usec>(0, next - now));
    self->delayed_send(self, wait, live_tick_atom::value);
  }
}

// In a cluster: whether the node may grant for these accounts now.
void gate(self_ptr self, usec now) {
  auto& st = self->state;
  if (!st.window) return;
  auto why = policies::reason::none;
  if (!st.active_gen) why = policies::reason::not_owner;
  else if (!st.window->open(*st.active_gen, now)) why = policies::reason::no_majority;
  st.ledger->hold_grants(why, now, st.answers);
}

// Brings the ledger up to now (TTL releases, admissions, timeouts).
usec begin(self_ptr self) {
  usec now = now_of(self);
  gate(self, now);
  self->state.ledger->advance(now, self->state.answers);
  return now;
}

admission_actor::behavior_type admission_behavior(self_ptr self, admission_actor_config cfg) {
  auto& st = self->state;
  st.epoch = cfg.epoch;
  std::uint64_t seed = cfg.seed;
  if (seed == 0) {
    std::random_device rd;
    seed = (std::uint64_t{rd()} << 32) ^ rd();
  }
  st.ledger = std::make_unique<detail::live_ledger>(cfg.plan, cfg.accounts, cfg.lease_ttl,
                                                    cfg.epoch_unix_ms, cfg.max_names_per_account,
                                                    seed);
  st.ledger->recover_until(cfg.recovery);
  st.ledger->expire_connection_leases(cfg.window != nullptr);
  st.window = cfg.window;
  st.replicate = cfg.replicate;
  // Held promises are never dropped: when the node stops, each gets 503.
  self->set_exit_handler([=](const caf::exit_msg& msg) {
    auto& s = self->state;
    s.ledger->drain(s.answers);
    settle(self, s.last_now);
    for (auto& [tag, p] : s.held) {
      admit_reply r;
      r.code = 503;
      p.answer.deliver(r);
    }
    s.held.clear();
    self->quit(msg.reason);
  });
  return {
      [=](const admit_request& req) -> caf::result<admit_reply> {
        auto& s = self->state;
        usec now = begin(self);
        admit_reply reply;
        if (s.ledger->admit(req, now, reply, s.answers)) {
          settle(self, now);
          describe_grant(self, req.account, reply, now);
          return reply;
        }
        auto p = self->make_response_promise<admit_reply>();
        s.held.emplace(req.request_id, held_promise{p, now, s.replicate ? req.account : ""});
        settle(self, now);
        return p;
      },
      [=](const cancel_request& req) {
        auto& s = self->state;
        usec now = begin(self);
        s.ledger->cancel(req, now, s.answers);
        settle(self, now);
      },
      [=](const lease_request& req) {
        // A release comes first at its instant (policies/time.hpp): what
        // else is due now (a queue timeout) runs after it, in lease().
        auto& s = self->state;
        usec now = now_of(self);
        gate(self, now);
        s.ledger->advance(std::max<usec>(0, now - 1), s.answers);
        auto r = s.ledger->lease(req, now, s.answers);
        settle(self, now);
        if (s.replicate && r.code == 200 && req.op == lease_op::renew)
          s.ledger->describe_lease(req.account, req.lease, now, r.replica);
        return r;
      },
      [=](const ticket_poll& req) -> caf::result<admit_reply> {
        auto& s = self->state;
        usec now = begin(self);
        admit_reply reply;
        auto tag = s.next_poll_tag++;
        if (s.ledger->poll(req, tag, now, reply, s.answers)) {
          settle(self, now);
          describe_grant(self, req.account, reply, now);
          return reply;
        }
        auto p = self->make_response_promise<admit_reply>();
        s.held.emplace(tag, held_promise{p, now, s.replicate ? req.account : ""});
        settle(self, now);
        return p;
      },
      [=](const ticket_cancel& req) {
        auto& s = self->state;
        usec now = begin(self);
        auto r = s.ledger->cancel_ticket(req, now, s.answers);
        settle(self, now);
        return r;
      },
      [=](const usage_query& q) {
        auto& s = self->state;
        usec now = begin(self);
        auto snap = s.ledger->snapshot(q.account, now);
        settle(self, now);
        return snap;
      },
      [=](metrics_atom) {
        auto& s = self->state;
        usec now = begin(self);
        auto m = s.ledger->metrics();
        settle(self, now);
        return m;
      },
      [=](const metrics_query& q) {
        auto& s = self->state;
        usec now = begin(self);
        auto m = s.ledger->metrics(q.account);
        settle(self, now);
        return m;
      },
      [=](live_tick_atom) {
        // Forget the timer even if this tick is stale: settle() sets a fresh
        // one for the next deadline, so no deadline is left without one.
        self->state.timer_at = never;
        usec now = begin(self);
        settle(self, now);
      },
      [=](const plan_update& u) {
        auto& s = self->state;
        usec now = begin(self);
        s.ledger->reload(u.plan, u.accounts, now, s.answers);
        settle(self, now);
      },
      [=](resign_atom) {
        // Voted out: the accounts may be granted elsewhere now. What was
        // held here is forgotten (a takeover recovers it there).
        auto& s = self->state;
        usec now = begin(self);
        s.active_gen.reset();
        (void)s.ledger->hand_off(now, s.answers);
        settle(self, now);
      },
      [=](replica_atom) {
        auto& s = self->state;
        usec now = begin(self);
        settle(self, now);
        return s.ledger->leases_now(now);
      },
      [=](account_images_atom) {
        auto& s = self->state;
        usec now = begin(self);
        settle(self, now);
        return s.ledger->accounts_now(now);
      },
      [=](hand_off_atom) {
        auto& s = self->state;
        usec now = begin(self);
        s.active_gen.reset();
        auto moved = s.ledger->hand_off(now, s.answers);
        settle(self, now);
        return moved;
      },
      [=](const group_activate& a) {
        auto& s = self->state;
        usec now = begin(self);
        s.active_gen = a.generation;
        s.ledger->take_in(a.moved, now);
        if (a.recover_until > now) s.ledger->recover_until(a.recover_until);
        settle(self, now);
      },
      [=](drain_atom) {
        // The first one answers every queued request and poller 503; the
        // edge asks again until no lease is left.
        auto& s = self->state;
        usec now = begin(self);
        if (!s.ledger->draining()) s.ledger->start_draining(now, s.answers);
        settle(self, now);
        return static_cast<std::int64_t>(s.ledger->lease_count());
      },
  };
}

}  // namespace

admission_actor spawn_admission_actor(caf::actor_system& sys, admission_actor_config cfg) {
  return sys.spawn(admission_behavior, std::move(cfg));
}

}  // namespace usher::actors

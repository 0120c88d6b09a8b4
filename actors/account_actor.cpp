#include "actors/account_actor.hpp"


namespace usher::actors {

using policies::never;
using policies::usec;

struct account_state {
  std::unique_ptr<detail::replay_shard> shard;
  account_actor_config cfg;
  client_actor client;
  usec horizon = 0;
  bool finishing = false;
  usec timer_at = never;  ///< trace time of the earliest tick in flight
  static inline const char* name = "usher.account";
};

namespace {

// Runs what may run now, reports it, and sets the next timer when clocked.
void step(account_actor::stateful_pointer<account_state> self, bool acknowledges) {
  auto& st = self->state;
  usec limit = st.horizon;
  usec now = 0;
  if (st.cfg.pace.clocked) {
    now = st.cfg.pace.trace_now(self->clock());
    if (now < limit) limit = now + 1;  // events at `now` may run
  }
  st.shard->run_until(limit);
  if (st.finishing && st.shard->next_event_time() == never) {
    st.shard->finish();
    final_report r;
    r.shard = st.cfg.shard;
    r.accounts = st.shard->totals();
    r.clients = st.shard->client_totals();
    r.outcomes = st.shard->take_outcomes();
    r.series = st.shard->take_series();
    r.last_event = st.shard->last_event();
    self->send(st.client, std::move(r));
    self->quit();
    return;
  }
  outcome_batch b;
  b.shard = st.cfg.shard;
  b.outcomes = st.shard->take_outcomes();
  b.series = st.shard->take_series();
  b.through = st.shard->series_complete_to();
  b.decided_before = st.shard->decided_before();
  b.acknowledges = acknowledges;
  if (acknowledges || !b.outcomes.empty() || !b.series.empty()) self->send(st.client, std::move(b));
  if (st.cfg.pace.clocked) {
    usec next = st.shard->next_event_time();
    if (next < st.horizon && next < st.timer_at) {
      st.timer_at = next;
      self->delayed_send(self, st.cfg.pace.delay(now, next), tick_atom::value);
    }
  }
}

}  // namespace

namespace {

account_actor::behavior_type account_behavior(account_actor::stateful_pointer<account_state> self,
                                              account_actor_config cfg, client_actor client) {
  auto& st = self->state;
  st.shard = std::make_unique<detail::replay_shard>(cfg.plan, cfg.interval);
  st.shard->add_clients(cfg.clients);
  st.cfg = std::move(cfg);
  st.client = std::move(client);
  return {
      [=](const arrival_batch& batch) {
        self->state.shard->add(batch.rows);
        self->state.horizon = batch.horizon;
        step(self, true);
      },
      [=](finish_atom) {
        self->state.finishing = true;
        self->state.horizon = never;
        step(self, false);
      },
      [=](tick_atom) {
        // Forget the timer even if this tick is early or stale: step() sets a
        // fresh one for the next event, so no event can be left without one.
        self->state.timer_at = never;
        step(self, false);
      },
  };
}

}  // namespace

account_actor spawn_account_actor(caf::actor_system& sys, account_actor_config cfg,
                                  client_actor client) {
  return sys.spawn(account_behavior, std::move(cfg), std::move(client));
}

}  // namespace usher::actors

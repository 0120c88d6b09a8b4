#include "actors/client_actor.hpp"

#include <algorithm>

#include "actors/account_actor.hpp"
#include "actors/detail/outcome_order.hpp"
#include "policies/in_flight_sweep.hpp"

namespace usher::actors {

using namespace policies;

struct client_state {
  client_actor_config cfg;
  std::vector<account_actor> shards;
  std::vector<arrival> ahead;  // read, not yet sent
  std::size_t ahead_pos = 0;   // first unsent row of `ahead`
  bool reader_done = false;
  bool eof = false;            // finish sent
  bool stopped = false;
  usec sent_horizon = 0;
  std::size_t outstanding = 0;  // batches not yet acknowledged
  std::size_t reports = 0;
  std::uint64_t rows_read = 0;
  std::uint64_t rows_written = 0;
  detail::outcome_order pending;  // decided, not yet written
  std::vector<usec> decided_before;
  in_flight_sweep in_flight;  // for the peaks across accounts
  std::vector<usec> through;
  std::vector<interval_row> series;
  usec series_flushed_to = 0;
  replay_result result;
  static inline const char* name = "usher.client";
};

namespace {

using self_ptr = client_actor::stateful_pointer<client_state>;

std::uint32_t shard_of(const client_state& st, id account) {
  if (st.cfg.shards == 1 || st.cfg.plan->has_shared_gates() || st.cfg.plan->has_backend()) return 0;
  return account % st.cfg.shards;
}

void stop(self_ptr self) {
  auto& st = self->state;
  st.stopped = true;
  for (auto& s : st.shards) self->send_exit(s, caf::exit_reason::user_shutdown);
  st.cfg.io.done(std::move(st.result));
  self->quit();
}

void fail(self_ptr self, std::string error) {
  self->state.result.ok = false;
  self->state.result.error = std::move(error);
  stop(self);
}

// Points `next` at the next unsent trace row, reading more as needed;
// nullptr at the end. False (and the replay stopped) on bad input.
bool peek(self_ptr self, const arrival*& next) {
  auto& st = self->state;
  next = nullptr;
  if (st.ahead_pos >= st.ahead.size()) {
    if (st.reader_done) return true;
    st.ahead.clear();
    st.ahead_pos = 0;
    std::string error;
    if (!st.cfg.io.read(st.ahead, st.cfg.chunk_rows, error)) {
      fail(self, std::move(error));
      return false;
    }
    st.rows_read += st.ahead.size();
    for (auto& a : st.ahead) st.pending.expect(a.req.seq);
    if (st.ahead.empty()) {
      st.reader_done = true;
      return true;
    }
  }
  next = &st.ahead[st.ahead_pos];
  return true;
}

void send_rows(self_ptr self, const std::vector<arrival>& rows, usec horizon) {
  auto& st = self->state;
  std::vector<arrival_batch> batches(st.cfg.shards);
  for (auto& a : rows) batches[shard_of(st, a.req.account)].rows.push_back(a);
  for (std::uint32_t i = 0; i < st.cfg.shards; ++i) {
    batches[i].horizon = horizon;
    self->send(st.shards[i], std::move(batches[i]));
    ++st.outstanding;
  }
  st.sent_horizon = horizon;
}

void finish(self_ptr self) {
  auto& st = self->state;
  st.eof = true;
  for (auto& s : st.shards) self->send(s, finish_atom::value);
}

// The horizon for a batch that ends before `next` (nullptr: no more rows).
usec horizon_for(const client_state& st, const arrival* next, usec cap) {
  if (next) return std::min(next->at, cap);
  if (st.cfg.generated.empty() || cap >= st.cfg.generate_until) return never;
  return cap;
}

// Batched pacing: keep up to batches_in_flight batches per actor in flight.
void pump(self_ptr self) {
  auto& st = self->state;
  while (!st.eof && !st.stopped && st.outstanding < st.cfg.batches_in_flight * st.cfg.shards) {
    usec cap = st.cfg.generated.empty() ? never : st.sent_horizon + st.cfg.slice;
    std::vector<arrival> rows;
    const arrival* next = nullptr;
    for (;;) {
      if (!peek(self, next)) return;
      if (!next || next->at >= cap || rows.size() >= st.cfg.chunk_rows) break;
      rows.push_back(*next);
      ++st.ahead_pos;
    }
    usec horizon = horizon_for(st, next, cap);
    send_rows(self, rows, horizon);
    if (horizon == never) finish(self);
  }
}

// Clocked pacing: send the rows whose time has come, then sleep until the next.
void release_due_rows(self_ptr self) {
  auto& st = self->state;
  usec now = st.cfg.pace.trace_now(self->clock());
  std::vector<arrival> due;
  const arrival* next = nullptr;
  for (;;) {
    if (!peek(self, next)) return;
    if (!next || next->at > now) break;
    due.push_back(*next);
    ++st.ahead_pos;
  }
  usec horizon = next ? next->at : never;
  if (!due.empty() || horizon == never) send_rows(self, due, horizon);
  if (horizon == never) {
    finish(self);
    return;
  }
  self->delayed_send(self, st.cfg.pace.delay(now, horizon), tick_atom::value);
}

// Applies the in-flight changes before `t`: whatever is written later
// arrives no earlier, so nothing can still start before its arrival.
void sweep_until(client_state& st, usec t) {
  if (st.cfg.io.in_flight_change)
    st.in_flight.advance(t, st.cfg.io.in_flight_change);
  else
    st.in_flight.advance(t);
}

// Writes every outcome that arrived before what all actors have decided.
void flush(self_ptr self, usec decided) {
  auto& st = self->state;
  st.pending.flush(decided, [&](const outcome& o) {
    st.cfg.io.write_outcome(o);
    if (!(o.seq & generated_seq_bit)) ++st.rows_written;
    st.in_flight.add(o);
    sweep_until(st, o.at);
  });
}

// Takes outcomes in; false (and the replay stopped) on one that answers no
// row waiting for it.
bool take(self_ptr self, const std::vector<outcome>& outcomes) {
  for (auto& o : outcomes)
    if (!self->state.pending.add(o)) {
      fail(self, "internal error: an outcome for trace row " + std::to_string(o.seq) +
                     ", which is not waiting for one");
      return false;
    }
  return true;
}

void absorb(self_ptr self, std::vector<outcome>& outcomes, std::uint32_t shard, usec decided) {
  auto& st = self->state;
  if (!take(self, outcomes)) return;
  st.decided_before[shard] = std::max(st.decided_before[shard], decided);
  flush(self, *std::min_element(st.decided_before.begin(), st.decided_before.end()));
}

void absorb_series(self_ptr self, std::vector<interval_row>& rows, bool all) {
  auto& st = self->state;
  st.series.insert(st.series.end(), rows.begin(), rows.end());
  // Rows of intervals that ended before every actor's progress are final;
  // with every final report in, all are.
  usec boundary = all ? never : *std::min_element(st.through.begin(), st.through.end());
  if (st.series.empty() || (boundary != never && boundary <= st.series_flushed_to)) return;
  auto ready = std::partition(st.series.begin(), st.series.end(), [&](const interval_row& r) {
    return r.start + st.cfg.interval <= boundary;
  });
  std::sort(st.series.begin(), ready, [](const interval_row& a, const interval_row& b) {
    return a.start != b.start ? a.start < b.start : a.account < b.account;
  });
  for (auto i = st.series.begin(); i != ready; ++i) st.cfg.io.write_series(*i);
  st.series.erase(st.series.begin(), ready);
  st.series_flushed_to = boundary;
}

client_actor::behavior_type client_behavior(self_ptr self, client_actor_config cfg) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.through.assign(st.cfg.shards, 0);
  st.decided_before.assign(st.cfg.shards, 0);
  for (std::uint32_t i = 0; i < st.cfg.shards; ++i) {
    account_actor_config ac;
    ac.plan = st.cfg.plan;
    ac.interval = st.cfg.interval;
    ac.shard = i;
    ac.pace = st.cfg.pace;
    for (auto& g : st.cfg.generated)
      if (shard_of(st, g.account) == i) ac.clients.push_back(g);
    st.shards.push_back(spawn_account_actor(self->system(), ac, client_actor{self}));
  }
  return {
      [=](start_atom) {
        if (self->state.cfg.pace.clocked)
          release_due_rows(self);
        else
          pump(self);
      },
      [=](tick_atom) {
        if (!self->state.stopped && !self->state.eof) release_due_rows(self);
      },
      [=](outcome_batch& b) {
        auto& st = self->state;
        if (st.stopped) return;
        if (b.acknowledges) --st.outstanding;
        st.through[b.shard] = std::max(st.through[b.shard], b.through);
        absorb(self, b.outcomes, b.shard, b.decided_before);
        if (st.stopped) return;
        absorb_series(self, b.series, false);
        if (!st.cfg.pace.clocked) pump(self);
      },
      [=](final_report& r) {
        auto& st = self->state;
        if (st.stopped) return;
        if (!take(self, r.outcomes)) return;
        absorb_series(self, r.series, false);
        for (auto& acc : r.accounts) st.result.accounts.push_back(std::move(acc));
        for (auto& c : r.clients) st.result.clients.push_back(std::move(c));
        st.result.end = std::max(st.result.end, r.last_event);
        if (++st.reports < st.cfg.shards) return;
        flush(self, never);
        std::vector<interval_row> none;
        absorb_series(self, none, true);
        sweep_until(st, never);
        st.result.peak_in_flight = st.in_flight.peak_in_flight();
        st.result.peak_used = st.in_flight.peak_used();
        std::sort(st.result.accounts.begin(), st.result.accounts.end(),
                  [](const auto& a, const auto& b) { return a.first < b.first; });
        std::sort(st.result.clients.begin(), st.result.clients.end(),
                  [](const auto& a, const auto& b) { return a.first < b.first; });
        if (st.rows_written != st.rows_read) {
          fail(self, "internal error: " + std::to_string(st.rows_read - st.rows_written) +
                         " trace rows ended without an outcome");
          return;
        }
        st.stopped = true;
        st.cfg.io.done(std::move(st.result));
        self->quit();
      },
  };
}

}  // namespace

client_actor spawn_client_actor(caf::actor_system& sys, client_actor_config cfg) {
  return sys.spawn(client_behavior, std::move(cfg));
}

}  // namespace usher::actors

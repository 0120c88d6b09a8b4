#include "actors/client_actor.hpp"

#include <algorithm>
#include <deque>
#include <optional>
#include <queue>

#include "actors/account_actor.hpp"

namespace usher::actors {

using namespace policies;

namespace {

// A row sent but not yet written out.
struct pending_row {
  usec at;
  std::int64_t cost;
  kind what;
  std::optional<outcome> result;
};

// One change of the combined in-flight count, for the peak across accounts.
struct sweep_event {
  usec at;
  int delta;  // -1 before +1 at one instant: a release frees before a start
  std::int64_t cost;
  bool operator>(const sweep_event& o) const { return at != o.at ? at > o.at : delta > o.delta; }
};

bool holds_pool_units(kind k) { return k == kind::request || k == kind::ws_request || k == kind::session; }

}  // namespace

struct client_state {
  client_actor_config cfg;
  std::vector<account_actor> shards;
  std::vector<arrival> ahead;  // read, not yet sent
  std::size_t ahead_pos = 0;   // clocked pacing: first unsent row of `ahead`
  bool eof = false;
  bool stopped = false;
  std::size_t outstanding = 0;  // batches not yet acknowledged
  std::size_t reports = 0;
  std::deque<pending_row> window;
  std::uint64_t base_seq = 0;
  std::priority_queue<sweep_event, std::vector<sweep_event>, std::greater<>> sweep;
  std::int64_t in_flight = 0;
  std::int64_t used = 0;
  std::vector<usec> through;
  std::vector<interval_row> series;
  usec series_flushed_to = 0;
  replay_result result;
  static inline const char* name = "usher.client";
};

namespace {

using self_ptr = client_actor::stateful_pointer<client_state>;

std::uint32_t shard_of(const client_state& st, id account) {
  if (st.cfg.shards == 1 || st.cfg.plan->has_shared_gates()) return 0;
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

// Reads the next chunk into `out`; false (and the replay stopped) on bad input.
bool read_chunk(self_ptr self, std::vector<arrival>& out) {
  auto& st = self->state;
  out.clear();
  std::string error;
  if (!st.cfg.io.read(out, st.cfg.chunk_rows, error)) {
    fail(self, std::move(error));
    return false;
  }
  for (auto& a : out)
    st.window.push_back(pending_row{a.at, a.req.cost, a.req.what, std::nullopt});
  return true;
}

void send_rows(self_ptr self, const arrival* first, const arrival* last, usec horizon) {
  auto& st = self->state;
  std::vector<arrival_batch> batches(st.cfg.shards);
  for (auto* a = first; a != last; ++a) batches[shard_of(st, a->req.account)].rows.push_back(*a);
  for (std::uint32_t i = 0; i < st.cfg.shards; ++i) {
    batches[i].horizon = horizon;
    self->send(st.shards[i], std::move(batches[i]));
    ++st.outstanding;
  }
}

void finish(self_ptr self) {
  auto& st = self->state;
  st.eof = true;
  for (auto& s : st.shards) self->send(s, finish_atom::value);
}

// Batched pacing: keep up to batches_in_flight batches per actor in flight.
void pump(self_ptr self) {
  auto& st = self->state;
  std::vector<arrival> next;
  while (!st.eof && !st.stopped && st.outstanding < st.cfg.batches_in_flight * st.cfg.shards) {
    if (!read_chunk(self, next)) return;
    usec horizon = next.empty() ? never : next.front().at;
    send_rows(self, st.ahead.data(), st.ahead.data() + st.ahead.size(), horizon);
    st.ahead.swap(next);
    if (st.ahead.empty()) finish(self);
  }
}

// Clocked pacing: send the rows whose time has come, then sleep until the next.
void release_due_rows(self_ptr self) {
  auto& st = self->state;
  usec now = st.cfg.pace.trace_now(self->clock());
  std::vector<arrival> due;
  for (;;) {
    while (st.ahead_pos < st.ahead.size() && st.ahead[st.ahead_pos].at <= now)
      due.push_back(st.ahead[st.ahead_pos++]);
    if (st.ahead_pos < st.ahead.size()) break;
    if (!read_chunk(self, st.ahead)) return;
    st.ahead_pos = 0;
    if (st.ahead.empty()) break;
  }
  bool more = st.ahead_pos < st.ahead.size();
  usec horizon = more ? st.ahead[st.ahead_pos].at : never;
  if (!due.empty()) send_rows(self, due.data(), due.data() + due.size(), horizon);
  if (!more) {
    finish(self);
    return;
  }
  self->delayed_send(self, st.cfg.pace.delay(now, horizon), tick_atom::value);
}

void sweep_until(client_state& st, usec t) {
  while (!st.sweep.empty() && st.sweep.top().at < t) {
    auto ev = st.sweep.top();
    st.sweep.pop();
    st.in_flight += ev.delta;
    st.used += ev.delta * ev.cost;
    st.result.peak_in_flight = std::max(st.result.peak_in_flight, st.in_flight);
    st.result.peak_used = std::max(st.result.peak_used, st.used);
  }
}

void absorb(self_ptr self, std::vector<outcome>& outcomes) {
  auto& st = self->state;
  for (auto& o : outcomes) st.window[o.seq - st.base_seq].result = o;
  while (!st.window.empty() && st.window.front().result) {
    auto& row = st.window.front();
    const auto& o = *row.result;
    st.cfg.io.write_outcome(o);
    if (o.start >= 0 && holds_pool_units(row.what) && o.end >= o.start) {
      st.sweep.push(sweep_event{o.start, +1, row.cost});
      st.sweep.push(sweep_event{o.end, -1, row.cost});
    }
    // Rows after this one arrive no earlier, so nothing can still start
    // before its arrival: every change before it is final.
    sweep_until(st, row.at);
    st.window.pop_front();
    ++st.base_seq;
  }
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

}  // namespace

namespace {

client_actor::behavior_type client_behavior(self_ptr self, client_actor_config cfg) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.through.assign(st.cfg.shards, 0);
  for (std::uint32_t i = 0; i < st.cfg.shards; ++i) {
    account_actor_config ac;
    ac.plan = st.cfg.plan;
    ac.interval = st.cfg.interval;
    ac.shard = i;
    ac.pace = st.cfg.pace;
    st.shards.push_back(spawn_account_actor(self->system(), ac, client_actor{self}));
  }
  return {
      [=](start_atom) {
        auto& st = self->state;
        if (st.cfg.pace.clocked) {
          release_due_rows(self);
          return;
        }
        if (!read_chunk(self, st.ahead)) return;
        if (st.ahead.empty()) {
          finish(self);
          return;
        }
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
        absorb(self, b.outcomes);
        absorb_series(self, b.series, false);
        if (!st.cfg.pace.clocked) pump(self);
      },
      [=](final_report& r) {
        auto& st = self->state;
        if (st.stopped) return;
        absorb(self, r.outcomes);
        absorb_series(self, r.series, false);
        for (auto& acc : r.accounts) st.result.accounts.push_back(std::move(acc));
        st.result.end = std::max(st.result.end, r.last_event);
        if (++st.reports < st.cfg.shards) return;
        std::vector<interval_row> none;
        absorb_series(self, none, true);
        sweep_until(st, never);
        std::sort(st.result.accounts.begin(), st.result.accounts.end(),
                  [](const auto& a, const auto& b) { return a.first < b.first; });
        if (!st.window.empty()) {
          fail(self, "internal error: " + std::to_string(st.window.size()) +
                         " requests ended without an outcome");
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

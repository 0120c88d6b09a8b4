#include "policies/engine.hpp"

#include <algorithm>
#include <limits>

namespace usher::policies {

namespace {

engine::decision refused(status code, reason why) {
  engine::decision d;
  d.what = engine::verdict::done;
  d.code = code;
  d.why = why;
  return d;
}

}  // namespace

namespace {

bool any_priority(const plan& p) {
  for (std::size_t i = 0; i < p.profile_count(); ++i)
    if (p.profile(static_cast<std::uint16_t>(i)).priority_max != 0) return true;
  return false;
}

// The level a waiting request is served at: what it asked for, cut to its
// account's ceiling, or its account's own.
std::int64_t priority_of(const account_profile& prof, const request& r) {
  return r.priority < 0 ? prof.priority : std::min<std::int64_t>(r.priority, prof.priority_max);
}

}  // namespace

engine::engine(std::shared_ptr<const plan> p, std::int64_t time_origin_unix_us)
    : plan_(std::move(p)),
      ordered_by_share_(plan_->order_of_capacity() != capacity_order::oldest || any_priority(*plan_)) {
  auto gates = plan_->make_gates();
  for (std::size_t i = 0; i < gates.size(); ++i) {
    gates[i]->set_time_origin(time_origin_unix_us);
    gates_by_name_.emplace_back(plan_->gates()[i].name, gates[i].get());
    if (gates[i]->when() == gate::phase::on_arrival) {
      arrival_gates_.push_back(std::move(gates[i]));
    } else {
      gates_couple_ = gates_couple_ || gates[i]->couples_accounts();
      running_gates_.push_back(std::move(gates[i]));
    }
  }
}

engine::account_state& engine::account(id a, std::uint16_t profile) {
  if (a >= accounts_.size()) {
    accounts_.resize(static_cast<std::size_t>(a) + 1);
    known_.resize(static_cast<std::size_t>(a) + 1, false);
  }
  auto& acc = accounts_[a];
  if (!known_[a]) {
    known_[a] = true;
    const auto& prof = plan_->profile(profile);
    acc.profile = profile;
    acc.queue = queue_gate(prof.queue_max_depth, prof.queue_max_wait);
    acc.connections = connection_cap(prof.max_connections);
    if (prof.sessions_limited) acc.sessions.emplace(prof.sessions);
    if (prof.rates.limited()) acc.rates.emplace(prof.rates);
  }
  return acc;
}

std::int32_t engine::pool_for(account_state& acc, const request& r) {
  const auto& prof = plan_->profile(acc.profile);
  auto make_pool = [&] {
    pools_.emplace_back(prof.limit);
    if (prof.adaptive) {
      adaptive_limit_.resize(pools_.size(), 0);
      adaptive_limit_.back() = static_cast<double>(prof.limit);  // from the ceiling down
    }
    return static_cast<std::int32_t>(pools_.size() - 1);
  };
  if (prof.scope == pool_scope::account) {
    if (acc.pool < 0) acc.pool = make_pool();
    return acc.pool;
  }
  id key = prof.scope == pool_scope::model ? r.model : r.product;
  std::size_t slot = static_cast<std::size_t>(static_cast<id>(key + 1));  // no_id -> 0
  if (slot >= acc.pool_by_key.size()) acc.pool_by_key.resize(slot + 1, -1);
  if (acc.pool_by_key[slot] < 0) acc.pool_by_key[slot] = make_pool();
  return acc.pool_by_key[slot];
}

std::int32_t engine::shared_pool_for(const request& r) {
  if (r.model == no_id) return -1;
  if (r.model >= shared_by_model_.size()) shared_by_model_.resize(r.model + 1, -2);
  auto& slot = shared_by_model_[r.model];
  if (slot == -2) {
    auto capacity = plan_->model_capacity(r.model);
    if (capacity < 0) {
      slot = -1;
    } else {
      shared_.emplace_back(capacity);
      slot = static_cast<std::int32_t>(shared_.size() - 1);
    }
  }
  return slot;
}

bool engine::shared_fits(std::int32_t shared, const account_state& acc, const request& r) const {
  const auto& pool = shared_[static_cast<std::size_t>(shared)];
  if (!plan_->has_capacity_reserves() || pool.capacity() < 0) return pool.fits(r.cost);
  auto room = plan_->capacity_for_level(pool.capacity(), priority_of(plan_->profile(acc.profile), r));
  return pool.used() + r.cost <= room;
}

void engine::place(account_state& acc, const request& r, lease& l) {
  l.account = r.account;
  l.cost = r.cost;
  l.pool = pool_for(acc, r);
  l.shared = shared_pool_for(r);
}

bool engine::pools_fit(account_state& acc, const request& r, lease& l, reason& why, usec now,
                       const gate** refuser) {
  place(acc, r, l);
  const auto& pool = pools_[l.pool];
  // An adaptive limit learns only from requests that end: an empty pool
  // takes a request whatever its limit of the moment (the plan's limit was
  // checked on arrival), or one bigger than that limit would wait for ever.
  bool empty_adaptive = pool.used() == 0 && static_cast<std::size_t>(l.pool) < adaptive_limit_.size() &&
                        adaptive_limit_[l.pool] > 0;
  if (!pool.fits(r.cost) && !empty_adaptive) {
    why = reason::over_limit;
    return false;
  }
  if (l.shared >= 0 && !shared_fits(l.shared, acc, r)) {
    why = reason::model_busy;
    return false;
  }
  if (const gate* g = refusing_gate(running_gates_, r, acc.profile, now)) {
    why = reason::gate;
    if (refuser) *refuser = g;
    return false;
  }
  return true;
}

const gate* engine::refusing_gate(const std::vector<std::unique_ptr<gate>>& gates, const request& r,
                                  std::uint16_t profile, usec now) {
  for (const auto& g : gates)
    if (!g->fits(r, profile, now)) return g.get();
  return nullptr;
}

engine::decision engine::refused_by(const gate* g) const {
  auto d = refused(status::rejected, reason::gate);
  for (std::size_t i = 0; i < gates_by_name_.size() && i < no_gate; ++i)
    if (gates_by_name_[i].second == g) d.gate = static_cast<std::uint16_t>(i);
  return d;
}

void engine::charge_gates(const std::vector<std::unique_ptr<gate>>& gates, const request& r,
                          std::uint16_t profile, usec now) {
  for (const auto& g : gates) g->charge(r, profile, now);
}

void engine::charge(account_state& acc, const request& r, lease& l, usec now) {
  if (!running_gates_.empty()) {
    // The gates are released with the request they were charged with: kept
    // here, so a lease stays small for the plans without plug-in gates.
    if (free_gate_slots_.empty()) {
      l.gate_slot = static_cast<std::uint32_t>(gate_requests_.size());
      gate_requests_.push_back(r);
    } else {
      l.gate_slot = free_gate_slots_.back();
      free_gate_slots_.pop_back();
      gate_requests_[l.gate_slot] = r;
    }
    charge_gates(running_gates_, r, acc.profile, now);
  }
  pools_[l.pool].charge(l.cost);
  if (l.shared >= 0) {
    shared_[l.shared].charge(l.cost);
    auto slot = static_cast<std::size_t>(l.shared);
    if (slot >= acc.shared_held.size()) acc.shared_held.resize(slot + 1, 0);
    acc.shared_held[slot] += l.cost;
  }
  ++acc.in_flight;
  acc.used += l.cost;
}

rate_limit_gate* engine::model_rate_for(account_state& acc, const request& r) {
  if (!plan_->has_model_rates() || r.model == no_id) return nullptr;
  const auto* params = plan_->model_rates(r.model);
  if (!params) return nullptr;
  if (r.model >= acc.model_rates.size()) acc.model_rates.resize(static_cast<std::size_t>(r.model) + 1);
  auto& gate = acc.model_rates[r.model];
  if (!gate) {
    auto p = *params;
    p.burst = plan_->profile(acc.profile).rates.burst;
    gate.emplace(p);
  }
  return &*gate;
}

reason engine::rates_fit(account_state& acc, const request& r, usec now,
                         rate_limit_gate*& model_gate) {
  if (acc.rates)
    if (auto why = acc.rates->fits(r.tokens, now); why != reason::none) return why;
  model_gate = model_rate_for(acc, r);
  return model_gate ? model_gate->fits(r.tokens, now) : reason::none;
}

void engine::charge_rates(account_state& acc, rate_limit_gate* model_gate, std::int64_t tokens) {
  if (acc.rates) acc.rates->charge(tokens);
  if (model_gate) model_gate->charge(tokens);
}

engine::decision engine::arrive(const request& r, std::uint16_t profile, usec now,
                                std::uint64_t tag) {
  latest_ = std::max(latest_, now);
  auto& acc = account(r.account, profile);
  decision d;
  switch (r.what) {
    case kind::ws_close:
      if (!acc.connections.close(r.conn)) return refused(status::bad_request, reason::no_connection);
      return d;  // done, 200
    case kind::ws_open: {
      if (acc.sessions && !acc.sessions->fits(now))
        return refused(status::policy_close, reason::session_rate);
      if (!acc.connections.is_open(r.conn) && !acc.connections.has_room())
        return refused(status::rejected, reason::connection_cap);
      if (acc.sessions) acc.sessions->charge();
      acc.connections.open(r.conn, r.seq);
      d.what = verdict::admitted;
      d.held.account = r.account;
      d.held.conn = r.conn;
      d.held.conn_instance = r.seq;
      d.held.holds_connection = true;
      return d;
    }
    case kind::ws_request: {
      if (!acc.connections.is_open(r.conn))
        return refused(status::bad_request, reason::no_connection);
      rate_limit_gate* model_gate = nullptr;
      if (auto why = rates_fit(acc, r, now, model_gate); why != reason::none)
        return refused(status::rejected, why);
      if (const gate* g = refusing_gate(arrival_gates_, r, acc.profile, now)) return refused_by(g);
      reason why = reason::none;
      const gate* refuser = nullptr;
      if (!pools_fit(acc, r, d.held, why, now, &refuser))
        return refuser ? refused_by(refuser) : refused(status::rejected, why);
      charge_rates(acc, model_gate, r.tokens);
      charge_gates(arrival_gates_, r, acc.profile, now);
      charge(acc, r, d.held, now);
      d.what = verdict::admitted;
      return d;
    }
    case kind::request:
    case kind::session:
      break;
  }
  if (acc.sessions && !acc.sessions->fits(now))
    return refused(status::policy_close, reason::session_rate);
  // Rates count a request when it is taken, admitted or queued (as AI APIs
  // count it), so a queued one does not ask again.
  rate_limit_gate* model_gate = nullptr;
  if (auto why = rates_fit(acc, r, now, model_gate); why != reason::none)
    return refused(status::rejected, why);
  if (const gate* g = refusing_gate(arrival_gates_, r, acc.profile, now)) return refused_by(g);
  reason why = reason::over_limit;
  const gate* refuser = nullptr;
  bool fits = pools_fit(acc, r, d.held, why, now, &refuser);
  // A request bigger than a whole pool can never run: refuse it now rather
  // than let it wait out max_wait.
  // (Against the plan's limit: an adaptive limit may lower the pool's capacity for a while.)
  const auto& prof = plan_->profile(acc.profile);
  const auto limit = prof.limit;
  if (limit >= 0 && r.cost > limit) return refused(status::rejected, reason::over_limit);
  const auto level = static_cast<std::int16_t>(priority_of(prof, r));
  if (d.held.shared >= 0 && shared_[d.held.shared].capacity() >= 0 &&
      r.cost > plan_->capacity_for_level(shared_[d.held.shared].capacity(), level))
    return refused(status::rejected, reason::model_busy);
  for (const auto& g : running_gates_)
    if (!g->could_ever_fit(r, acc.profile)) return refused_by(g.get());
  if (!fits && refuser && !refuser->refusal_waits()) return refused_by(refuser);
  // FIFO: nobody overtakes a waiter of its level or higher.
  if (fits && (acc.queue.empty() || acc.queue.head().req.priority < level)) {
    if (acc.sessions) acc.sessions->charge();
    charge_rates(acc, model_gate, r.tokens);
    charge_gates(arrival_gates_, r, acc.profile, now);
    charge(acc, r, d.held, now);
    d.what = verdict::admitted;
    return d;
  }
  if (!acc.queue.enabled()) return refuser ? refused_by(refuser) : refused(status::rejected, why);
  if (!acc.queue.has_room()) return refused(status::rejected, reason::queue_full);
  charge_rates(acc, model_gate, r.tokens);
  charge_gates(arrival_gates_, r, acc.profile, now);
  if (acc.queue.push(r, level, now, tag)) on_head_changed(r.account, acc);
  d.what = verdict::queued;
  d.code = status::ok;
  return d;
}

engine::adoption engine::adopt(const request& r, std::uint16_t profile, lease& held) {
  auto& acc = account(r.account, profile);
  if (r.what == kind::ws_open) {
    // A connection's own slot counts against the connection cap, not a pool,
    // with the same bound: twice the cap.
    auto& open = acc.connections;
    bool fits = open.is_open(r.conn) || open.has_room();
    if (!fits && open.open_count() >= 2 * open.max_open()) return adoption::refused;
    open.open(r.conn, r.seq);
    held = lease{};
    held.account = r.account;
    held.conn = r.conn;
    held.conn_instance = r.seq;
    held.holds_connection = true;
    return fits ? adoption::fits : adoption::over_limit;
  }
  lease l;
  place(acc, r, l);
  // 0: fits, 1: over the capacity, 2: refused.
  auto room = [&](const pool_gate& p) {
    if (!p.limited()) return 0;
    if (r.cost > p.capacity() || p.used() + r.cost > 2 * p.capacity()) return 2;
    return p.fits(r.cost) ? 0 : 1;
  };
  int worst = room(pools_[l.pool]);
  if (l.shared >= 0) worst = std::max(worst, room(shared_[l.shared]));
  if (worst == 2) return adoption::refused;
  charge(acc, r, l, gate_clock_);  // over capacity too: the lease exists already
  held = l;
  return worst == 0 ? adoption::fits : adoption::over_limit;
}

void engine::adapt(std::int32_t p, const account_profile& prof, usec held_for, std::uint32_t output_tokens,
                   std::int64_t in_use) {
  // Netflix concurrency-limits' AIMDLimit: a slow request multiplies the
  // limit by the backoff; a fast one while at least half of it is used adds 1.
  // Per token, the sample is the vLLM paper's normalized latency (the hold
  // over the output length): a long answer is not a slow one.
  if (prof.adaptive_per_token && output_tokens == 0) return;  // nothing to learn from
  double& limit = adaptive_limit_[static_cast<std::size_t>(p)];
  auto& pool = pools_[static_cast<std::size_t>(p)];
  bool slow = prof.adaptive_per_token ? static_cast<double>(held_for) / output_tokens > static_cast<double>(prof.adaptive_target)
                                      : held_for > prof.adaptive_target;
  if (slow)
    limit = std::max(static_cast<double>(prof.adaptive_min), limit * prof.adaptive_backoff);
  else if (in_use * 2 >= pool.capacity())
    limit = std::min(static_cast<double>(prof.limit), limit + 1);
  pool.set_capacity(static_cast<std::int64_t>(limit));
}

void engine::release(const lease& held, usec now, usec held_for, std::uint32_t output_tokens) {
  latest_ = std::max(latest_, now);
  auto& acc = accounts_[held.account];
  if (held.holds_connection) {
    acc.connections.close(held.conn, held.conn_instance);
    return;
  }
  if (static_cast<std::size_t>(held.pool) < adaptive_limit_.size() && adaptive_limit_[held.pool] > 0)
    adapt(held.pool, plan_->profile(acc.profile), held_for, output_tokens, pools_[held.pool].used());
  pools_[held.pool].release(held.cost);
  if (!running_gates_.empty()) {
    const request& r = gate_requests_[held.gate_slot];
    for (const auto& g : running_gates_) g->release(r, acc.profile, now, held_for);
    free_gate_slots_.push_back(held.gate_slot);
  }
  --acc.in_flight;
  acc.used -= held.cost;
  mark_dirty(held.account, acc);
  if (held.shared >= 0) {
    shared_[held.shared].release(held.cost);
    acc.shared_held[static_cast<std::size_t>(held.shared)] -= held.cost;
  }
  // A provider-wide slot may unblock another account's head.
  if (gates_couple_) wake_waiting(-1);
  else if (held.shared >= 0) wake_waiting(held.shared);
}

void engine::wake_waiting(std::int32_t shared) {
  std::size_t keep = 0;
  for (id a : waiting_accounts_) {
    auto& w = accounts_[a];
    if (w.queue.empty()) {
      w.waiting_listed = false;
      continue;
    }
    waiting_accounts_[keep++] = a;
    // A freed unit of one model's capacity helps only heads that ask for it.
    if (shared >= 0 && shared_pool_for(w.queue.head().req) != shared) continue;
    if (!w.dirty) {
      w.dirty = true;
      dirty_.push_back(a);
    }
  }
  waiting_accounts_.resize(keep);
}

bool engine::served_before(const account_state& a, const account_state& b) {
  const auto& x = a.queue.head();
  const auto& y = b.queue.head();
  if (ordered_by_share_) {
    if (x.req.priority != y.req.priority) return x.req.priority > y.req.priority;
    if (plan_->order_of_capacity() == capacity_order::fair) {
      // Max-min fair share: units of the model capacity the head asks for
      // that its account holds now (0 for a head that asks for none).
      auto held = [&](const account_state& acc, const request& r) -> std::int64_t {
        auto s = shared_pool_for(r);
        if (s < 0 || static_cast<std::size_t>(s) >= acc.shared_held.size()) return 0;
        return acc.shared_held[static_cast<std::size_t>(s)];
      };
      auto hx = held(a, x.req);
      auto hy = held(b, y.req);
      if (hx != hy) return hx < hy;
    }
  }
  return x.arrival < y.arrival || (x.arrival == y.arrival && x.req.seq < y.req.seq);
}

void engine::admit_waiting(usec now, std::vector<admission>& out) {
  latest_ = std::max(latest_, now);
  // Serve the first head (served_before: priority, then the fair share when
  // the plan asks for it, then age) among the accounts a release touched,
  // until no head fits: strict FIFO within an account.
  //
  // Nothing is released meanwhile, so once a head of cost c found no room in
  // a model capacity, no head asking it for c or more can fit: such heads
  // are dropped unasked (each would be refused in its turn, with no other
  // effect), which keeps a release O(waiting accounts), not their square,
  // when a thousand accounts wait for one busy model.
  if (!shared_.empty()) full_at_.assign(shared_.size(), std::numeric_limits<std::int64_t>::max());
  auto hopeless = [&](const account_state& acc) {
    if (acc.sessions || full_at_.empty()) return false;  // (a session rate's recheck is its own)
    const auto& r = acc.queue.head().req;
    auto s = shared_pool_for(r);
    return s >= 0 && r.cost >= full_at_[static_cast<std::size_t>(s)];
  };
  constexpr std::size_t none = std::numeric_limits<std::size_t>::max();
  while (!dirty_.empty()) {
    std::size_t best = none;  // (always below i: dropping swaps in one not yet seen)
    for (std::size_t i = 0; i < dirty_.size();) {
      auto& acc = accounts_[dirty_[i]];
      if (acc.queue.empty() || hopeless(acc)) {
        acc.dirty = false;
        dirty_[i] = dirty_.back();
        dirty_.pop_back();
        continue;
      }
      if (best == none || served_before(acc, accounts_[dirty_[best]])) best = i;
      ++i;
    }
    if (best == none) break;
    id a = dirty_[best];
    auto& acc = accounts_[a];
    const auto& head = acc.queue.head();
    lease l;
    reason why = reason::none;
    bool rate_ok = !acc.sessions || acc.sessions->fits(now);
    if (!rate_ok) {
      // Held back by the session rate alone: look again when the window
      // turns, or nothing else may ever wake this queue.
      rechecks_.push(recheck{acc.sessions->window_end(), a});
    }
    bool fits = rate_ok && pools_fit(acc, head.req, l, why, now);
    if (!fits) {
      if (why == reason::model_busy)
        full_at_[static_cast<std::size_t>(l.shared)] =
            std::min(full_at_[static_cast<std::size_t>(l.shared)], head.req.cost);
      acc.dirty = false;
      dirty_[best] = dirty_.back();
      dirty_.pop_back();
      continue;
    }
    auto e = acc.queue.pop();
    if (acc.sessions) acc.sessions->charge();
    charge(acc, e.req, l, now);
    out.push_back(admission{e.tag, e.req, e.arrival, l});
    on_head_changed(a, acc);
  }
  for (id a : dirty_) accounts_[a].dirty = false;
  dirty_.clear();
}

void engine::mark_dirty(id a, account_state& acc) {
  if (acc.queue.empty() || acc.dirty) return;
  acc.dirty = true;
  dirty_.push_back(a);
}

void engine::on_head_changed(id a, account_state& acc) {
  if (acc.queue.empty()) return;
  // The next to time out: the head, unless levels put a later arrival ahead.
  const auto& oldest = acc.queue.oldest();
  if (oldest.deadline != never) deadlines_.push(deadline_entry{oldest.deadline, oldest.req.seq, a});
  if (!acc.waiting_listed) {
    acc.waiting_listed = true;
    waiting_accounts_.push_back(a);
  }
}

usec engine::next_queue_deadline() {
  while (!deadlines_.empty()) {
    const auto& top = deadlines_.top();
    const auto& q = accounts_[top.account].queue;
    if (!q.empty() && q.oldest().req.seq == top.seq) return top.deadline;
    deadlines_.pop();  // stale: that waiter was admitted, cancelled or timed out
  }
  return never;
}

usec engine::next_deadline() {
  while (!rechecks_.empty() && accounts_[rechecks_.top().account].queue.empty()) rechecks_.pop();
  usec t = next_queue_deadline();
  if (!rechecks_.empty()) t = std::min(t, rechecks_.top().at);
  // A plug-in gate's window turning matters only to someone waiting. Due
  // from the last expire(), which wakes them; never before the latest call.
  if (!running_gates_.empty() && !waiting_accounts_.empty())
    for (const auto& g : running_gates_) t = std::min(t, std::max(latest_, g->next_change(gate_clock_)));
  return t;
}

void engine::expire(usec now, std::vector<timeout>& out) {
  latest_ = std::max(latest_, now);
  if (!running_gates_.empty()) {
    bool changed = false;
    for (const auto& g : running_gates_) changed = changed || g->next_change(gate_clock_) <= now;
    if (changed) wake_waiting(-1);
    gate_clock_ = now;
  }
  while (!rechecks_.empty() && rechecks_.top().at <= now) {
    id a = rechecks_.top().account;
    rechecks_.pop();
    mark_dirty(a, accounts_[a]);
  }
  while (next_queue_deadline() <= now) {
    id a = deadlines_.top().account;
    deadlines_.pop();
    auto& acc = accounts_[a];
    auto e = acc.queue.pop_oldest();
    out.push_back(timeout{e.tag, e.req, e.arrival});
    on_head_changed(a, acc);
    mark_dirty(a, acc);  // the new head may fit where the old one did not
  }
}

bool engine::cancel(id a, std::uint64_t tag) {
  if (a >= accounts_.size() || !known_[a]) return false;
  auto& acc = accounts_[a];
  bool was_head = !acc.queue.empty() && acc.queue.head().tag == tag;
  bool was_oldest = !acc.queue.empty() && acc.queue.oldest().tag == tag;
  if (!acc.queue.remove(tag)) return false;
  if (was_oldest && !was_head) on_head_changed(a, acc);  // the next to time out changed
  if (was_head) {
    on_head_changed(a, acc);
    mark_dirty(a, acc);
  }
  return true;
}

bool engine::sessions_of(id a, session_rate_gate::state& out) const {
  if (a >= accounts_.size() || !known_[a] || !accounts_[a].sessions) return false;
  out = accounts_[a].sessions->save();
  return true;
}

void engine::restore_lease(const request& r, std::uint16_t profile, lease& held) {
  auto& acc = account(r.account, profile);
  if (held.holds_connection) {
    acc.connections.open(held.conn, held.conn_instance);
    held.account = r.account;
    return;
  }
  lease l;
  place(acc, r, l);
  charge(acc, r, l, gate_clock_);
  held = l;
}

void engine::restore_waiter(const request& r, std::uint16_t profile, usec arrival,
                            std::uint64_t tag) {
  auto& acc = account(r.account, profile);
  // (A copied waiter's level, once resolved, resolves to itself.)
  const auto level = static_cast<std::int16_t>(priority_of(plan_->profile(profile), r));
  if (acc.queue.push(r, level, arrival, tag)) on_head_changed(r.account, acc);
  mark_dirty(r.account, acc);  // it may fit here where it did not there
}

bool engine::rates_of(id a, rate_limit_gate::state& out) const {
  if (a >= accounts_.size() || !known_[a] || !accounts_[a].rates) return false;
  out = accounts_[a].rates->save();
  return true;
}

const rate_limit_gate* engine::model_rates(id a, id model) const {
  if (a >= accounts_.size() || !known_[a]) return nullptr;
  const auto& all = accounts_[a].model_rates;
  return model < all.size() && all[model] ? &*all[model] : nullptr;
}

usec engine::rate_wait(id a, id model, std::int64_t tokens) const {
  if (a >= accounts_.size() || !known_[a]) return 0;
  usec wait = accounts_[a].rates ? accounts_[a].rates->wait_for(tokens) : 0;
  if (const auto* m = model_rates(a, model)) wait = std::max(wait, m->wait_for(tokens));
  return wait;
}

void engine::model_rates_of(id a, std::vector<std::pair<id, rate_limit_gate::state>>& out) const {
  if (a >= accounts_.size() || !known_[a]) return;
  const auto& all = accounts_[a].model_rates;
  for (std::size_t m = 0; m < all.size(); ++m)
    if (all[m]) out.emplace_back(static_cast<id>(m), all[m]->save());
}

void engine::restore_model_rates(id a, std::uint16_t profile, id model,
                                 const rate_limit_gate::state& s) {
  request r;
  r.account = a;
  r.model = model;
  if (auto* gate = model_rate_for(account(a, profile), r)) gate->restore(s);
}

void engine::restore_rates(id a, std::uint16_t profile, const rate_limit_gate::state& s) {
  auto& acc = account(a, profile);
  if (acc.rates) acc.rates->restore(s);
}

void engine::restore_sessions(id a, std::uint16_t profile, const session_rate_gate::state& s) {
  auto& acc = account(a, profile);
  if (acc.sessions) acc.sessions->restore(s);
}

double engine::adaptive_limit_of(id a) const {
  if (a >= accounts_.size() || !known_[a]) return 0;
  auto p = static_cast<std::size_t>(accounts_[a].pool);
  return accounts_[a].pool >= 0 && p < adaptive_limit_.size() ? adaptive_limit_[p] : 0;
}

void engine::restore_adaptive_limit(id a, std::uint16_t profile, double limit) {
  auto& acc = account(a, profile);
  const auto& prof = plan_->profile(acc.profile);
  if (!prof.adaptive || prof.scope != pool_scope::account || !(limit > 0)) return;
  request r;
  r.account = a;
  auto p = static_cast<std::size_t>(pool_for(acc, r));
  adaptive_limit_[p] = std::clamp(limit, static_cast<double>(prof.adaptive_min), static_cast<double>(prof.limit));
  pools_[p].set_capacity(static_cast<std::int64_t>(adaptive_limit_[p]));
}

void engine::gate_states_of(id a, std::vector<std::pair<std::string, std::string>>& out) const {
  if (a >= accounts_.size() || !known_[a]) return;
  for (const auto& [name, g] : gates_by_name_)
    if (auto bytes = g->save(a); !bytes.empty()) out.emplace_back(name, std::move(bytes));
}

void engine::restore_gate_state(id a, std::uint16_t profile, const std::string& name,
                                const std::string& bytes) {
  account(a, profile);
  for (const auto& [own, g] : gates_by_name_)
    if (own == name) g->restore(a, profile, bytes);
}

void engine::gate_report(id a, std::vector<std::pair<std::string, double>>& out) const {
  const std::uint16_t profile = a < accounts_.size() && known_[a] ? accounts_[a].profile : 0;
  for (const auto& [name, g] : gates_by_name_) {
    auto first = out.size();
    g->report(a, profile, out);
    for (auto i = first; i < out.size(); ++i) out[i].first = name + "." + out[i].first;
  }
}

engine::usage engine::usage_of(id a) const {
  usage u;
  if (a >= accounts_.size() || !known_[a]) {
    u.limit = plan_->profile(0).limit;
    return u;
  }
  const auto& acc = accounts_[a];
  u.in_flight = acc.in_flight;
  u.used = acc.used;
  u.queued = static_cast<std::int64_t>(acc.queue.depth());
  u.connections = acc.connections.open_count();
  u.limit = limit_of(a, acc.profile);
  return u;
}

std::int64_t engine::limit_of(id a, std::uint16_t profile) const {
  const auto& prof = plan_->profile(profile);
  if (!prof.adaptive || a >= accounts_.size() || !known_[a] || accounts_[a].pool < 0) return prof.limit;
  return pools_[accounts_[a].pool].capacity();
}

}  // namespace usher::policies

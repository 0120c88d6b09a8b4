#include "actors/detail/live_ledger.hpp"

#include <algorithm>
#include <cmath>

namespace usher::actors::detail {

using namespace policies;

namespace {

constexpr std::size_t max_pollers = 8;

std::int64_t ceil_seconds(usec t) { return (t + usec_per_second - 1) / usec_per_second; }

}  // namespace

live_ledger::live_ledger(std::shared_ptr<const plan> p, const std::vector<std::string>& accounts,
                         usec lease_ttl, std::int64_t epoch_unix_ms,
                         std::size_t max_names_per_account, std::uint64_t seed)
    : plan_(p),
      ledger_(p, epoch_unix_ms * 1000),
      lease_ttl_(lease_ttl),
      epoch_unix_ms_(epoch_unix_ms),
      max_names_(max_names_per_account),
      rng_(seed) {
  for (auto& name : accounts) add_account(name);
  reset_names();
}

std::vector<std::uint16_t> live_ledger::profiles() const {
  std::vector<std::uint16_t> out;
  out.reserve(accounts_.size());
  for (auto& acc : accounts_) out.push_back(acc.profile);
  return out;
}

void live_ledger::add_account(const std::string& name) {
  account_state acc;
  acc.name = name;
  acc.profile = plan_->profile_of(name);
  acc.wait_buckets.assign(live_wait_bounds_us().size() + 1, 0);
  account_ids_[name] = static_cast<id>(accounts_.size());
  accounts_.push_back(std::move(acc));
}

void live_ledger::reset_names() {
  names_[0] = name_table{};
  names_[1] = name_table{};
  for (auto& acc : accounts_) acc.uses[0].clear(), acc.uses[1].clear();
  // Models the plan names (costs, capacities) get the ids the plan expects,
  // for good: their costs and capacities are theirs by id.
  auto& models = names_[0];
  const auto& named = plan_->named_models();
  for (std::size_t i = 0; i < named.size(); ++i) {
    models.ids[named[i]] = static_cast<id>(i);
    models.names.push_back(named[i]);
    models.uses.push_back(0);
  }
  models.permanent = static_cast<id>(named.size());
}

void live_ledger::reload(std::shared_ptr<const plan> p, const std::vector<std::string>& accounts,
                         usec now, std::vector<answer>& out) {
  // Every account's state leaves the old ledger as an image, with the names
  // its ids stand for, and enters a ledger of the new plan: leases, queue
  // places and session windows are kept; capacities, queue bounds and costs
  // of what arrives next are the new plan's. A pool the new plan makes
  // smaller than what is held admits nothing until holders release below it.
  struct moving {
    ledger::account_image image;
    std::vector<ledger::handle> leases, waiters;
  };
  std::vector<moving> all(accounts_.size());
  {
    std::vector<std::vector<ledger::handle>> leases, waiters;
    auto images = ledger_.export_accounts(profiles(), leases, waiters);
    for (std::size_t a = 0; a < accounts_.size(); ++a)
      all[a] = moving{std::move(images[a]), std::move(leases[a]), std::move(waiters[a])};
  }
  name_table old_names[2] = {names_[0], names_[1]};
  auto name_of = [&](int k, id x) { return x == no_id ? std::string() : old_names[k].names[x]; };
  std::unordered_map<ledger::handle, std::uint64_t> waiter_tags;  // old place -> request id
  for (auto& [tag, w] : waiters_) waiter_tags.emplace(w.place, tag);

  plan_ = std::move(p);
  ledger_ = ledger(plan_, epoch_unix_ms_ * 1000);
  for (auto& name : accounts)
    if (!account_ids_.count(name)) add_account(name);
  reset_names();
  auto lease_names = std::move(lease_names_);
  lease_names_.clear();
  for (std::size_t a = 0; a < all.size(); ++a) {
    auto& acc = accounts_[a];
    acc.profile = plan_->profile_of(acc.name);
    auto& m = all[a];
    m.image.profile = acc.profile;
    // Ids as the new tables give them (held without a bound: they were held).
    auto rename = [&](request& r) {
      auto model = name_of(0, r.model), product = name_of(1, r.product);
      r.model = model.empty() ? no_id : take_name(static_cast<id>(a), 0, model, true);
      r.product = product.empty() ? no_id : take_name(static_cast<id>(a), 1, product, true);
    };
    for (auto& h : m.image.leases) rename(h.req);
    for (auto& q : m.image.queue) rename(q.req);
    // Per-model rates belong to models the plan names (permanent ids): kept
    // for a model the new plan still names, dropped otherwise.
    std::vector<std::pair<id, rate_limit_gate::state>> model_rates;
    for (auto& [model, state] : m.image.model_rates)
      if (id now_id = plan_model(name_of(0, model)); now_id != no_id) model_rates.emplace_back(now_id, state);
    m.image.model_rates = std::move(model_rates);
    std::vector<ledger::handle> leases, waiters;
    ledger_.import_account(m.image, leases, waiters);
    for (std::size_t i = 0; i < leases.size(); ++i) {
      const auto& name = lease_names.at(m.leases[i]);
      auto& held = acc.leases.at(name);
      held.handle = leases[i];
      held.model_id = m.image.leases[i].req.model;
      held.product_id = m.image.leases[i].req.product;
      lease_names_.emplace(leases[i], name);
    }
    for (std::size_t i = 0; i < waiters.size(); ++i) {
      auto& w = waiters_.at(waiter_tags.at(m.waiters[i]));
      w.place = waiters[i];
      w.model_id = m.image.queue[i].req.model;
      w.product_id = m.image.queue[i].req.product;
    }
  }
  serve(now, out);  // a larger pool may take waiters now
}

// -- ids ------------------------------------------------------------------------

id live_ledger::plan_model(const std::string& name) const {
  auto found = names_[0].ids.find(name);
  return found != names_[0].ids.end() && found->second < names_[0].permanent ? found->second : no_id;
}

std::string live_ledger::new_id() {
  // A version 4 UUID, as in the weighted seed's example.
  std::uint64_t hi = rng_(), lo = rng_();
  hi = (hi & ~std::uint64_t{0xF000}) | 0x4000;
  lo = (lo & ~(std::uint64_t{0xC} << 60)) | (std::uint64_t{0x8} << 60);
  // 8-4-4-4-12 lowercase hex digits: hi gives the first 16, lo the last 16
  // (what "%08x-%04x-%04x-%04x-%012llx" prints, without printf's cost).
  static const char* hex = "0123456789abcdef";
  std::string out(36, '-');
  std::size_t at = 0;
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) ++at;
    std::uint64_t half = i < 16 ? hi : lo;
    out[at++] = hex[(half >> (60 - 4 * (i % 16))) & 0xF];
  }
  return out;
}

id live_ledger::take_name(id a, int k, const std::string& s, bool unbounded) {
  auto& t = names_[k];
  auto& mine = accounts_[a].uses[k];
  id x = no_id;
  if (auto i = t.ids.find(s); i != t.ids.end()) {
    x = i->second;
    if (x < t.permanent) return x;
    if (auto m = mine.find(x); m != mine.end()) {
      ++m->second;
      ++t.uses[x];
      return x;
    }
  }
  // A name new to this account: within its bound, whoever else holds it.
  if (!unbounded && accounts_[a].uses[0].size() + accounts_[a].uses[1].size() >= max_names_)
    return no_id;
  if (x == no_id) {
    if (!t.free.empty()) {
      x = t.free.back();
      t.free.pop_back();
      t.names[x] = s;
    } else {
      x = static_cast<id>(t.names.size());
      t.names.push_back(s);
      t.uses.push_back(0);
    }
    t.ids.emplace(s, x);
  }
  mine.emplace(x, 1);
  ++t.uses[x];
  return x;
}

void live_ledger::drop_name(id a, int k, id x) {
  auto& t = names_[k];
  if (x == no_id || x < t.permanent) return;
  auto& mine = accounts_[a].uses[k];
  auto m = mine.find(x);
  if (m == mine.end()) return;
  if (--m->second == 0) mine.erase(m);
  if (--t.uses[x] > 0) return;
  // No account uses it: forgotten. Nothing in the engine refers to x any
  // more (no lease, no waiter), so its pools are at zero use when reused.
  t.ids.erase(t.names[x]);
  t.names[x].clear();
  t.names[x].shrink_to_fit();
  t.free.push_back(x);
}

const live_ledger::account_state* live_ledger::find(const std::string& account, id& a) const {
  auto i = account_ids_.find(account);
  if (i == account_ids_.end()) return nullptr;
  a = i->second;
  return &accounts_[a];
}

// -- counters -------------------------------------------------------------------

void live_ledger::count(account_state& acc, std::uint16_t code) { ++acc.outcomes[code]; }

void live_ledger::record_wait(account_state& acc, usec wait) {
  const auto& bounds = live_wait_bounds_us();
  auto slot = static_cast<std::size_t>(
      std::lower_bound(bounds.begin(), bounds.end(), wait) - bounds.begin());
  ++acc.wait_buckets[slot];
  acc.wait_sum += wait;
  ++acc.wait_count;
}

// -- leases ---------------------------------------------------------------------

ledger::terms live_ledger::terms_for(std::uint64_t request_id, bool holder_is_connection) const {
  ledger::terms with;
  with.tag = request_id;
  with.hold = hold_for(holder_is_connection);
  return with;
}

usec live_ledger::hold_for(bool holder_is_connection) const {
  // A lease held by a connection lasts until the connection closes (and in
  // a cluster until its TTL runs out unrenewed too); any other until its
  // TTL runs out unrenewed.
  return holder_is_connection && !connection_leases_expire_ ? never : lease_ttl_;
}

std::string live_ledger::grant(id a, ledger::handle h, const std::string& model, id model_id,
                               id product_id, std::string name) {
  if (name.empty()) name = new_id();
  held_lease l;
  l.handle = h;
  l.model = model;
  l.model_id = model_id;
  l.product_id = product_id;
  lease_names_.emplace(h, name);
  accounts_[a].leases.emplace(name, std::move(l));
  return name;
}

void live_ledger::forget_lease(id a, const std::string& lease) {
  auto& acc = accounts_[a];
  auto i = acc.leases.find(lease);
  if (i == acc.leases.end()) return;
  lease_names_.erase(i->second.handle);
  drop_name(a, 0, i->second.model_id);
  drop_name(a, 1, i->second.product_id);
  acc.leases.erase(i);
}

void live_ledger::release(id a, const std::string& lease, usec now, std::uint32_t output_tokens) {
  auto& acc = accounts_[a];
  auto i = acc.leases.find(lease);
  if (i == acc.leases.end()) return;
  ledger_.release(i->second.handle, now, output_tokens);
  forget_lease(a, lease);
}

// -- decisions ------------------------------------------------------------------

void live_ledger::decided(id a, std::uint64_t tag, const waiter& w, admit_reply reply,
                          std::vector<answer>& out, usec now) {
  if (w.ticket.empty()) {
    out.push_back(answer{tag, std::move(reply)});
    return;
  }
  auto& acc = accounts_[a];
  auto i = acc.tickets.find(w.ticket);
  if (i == acc.tickets.end()) return;
  auto& t = i->second;
  reply.ticket = w.ticket;
  t.decided = true;
  t.result = reply;
  // Kept for two TTLs: a lease nobody collects runs out after one, and a
  // client that comes for it later is told so (410), not that its ticket
  // never was (404).
  t.ttl = timers_.emplace(now + 2 * lease_ttl_, timed_key{a, w.ticket});
  for (auto p : t.pollers) out.push_back(answer{p, reply});
  t.pollers.clear();
}

void live_ledger::serve(usec now, std::vector<answer>& out, bool timeouts) {
  events_.clear();
  if (timeouts) ledger_.advance(now, events_);
  else ledger_.serve_released(now, events_);
  for (auto& e : events_) {
    if (e.what == ledger::event::kind::ended) {
      // A TTL ran out unrenewed (releases by the holder end no lease here).
      auto n = lease_names_.find(e.lease);
      if (n == lease_names_.end()) continue;
      ++accounts_[e.req.account].expired;
      std::string name = n->second;
      forget_lease(e.req.account, name);
      continue;
    }
    auto wi = waiters_.find(e.tag);
    waiter w = wi->second;
    waiters_.erase(wi);
    auto& acc = accounts_[w.account];
    admit_reply r;
    r.waited_us = now - w.arrival;
    if (e.what == ledger::event::kind::admitted) {
      r.code = 200;
      // The waiter's names go to its lease.
      r.lease = grant(w.account, e.lease, w.model, w.model_id, w.product_id);
      r.lease_ttl_ms = hold_for(w.holder_is_connection) == never ? 0 : lease_ttl_ / 1000;
    } else {
      drop_name(w.account, 0, w.model_id);
      drop_name(w.account, 1, w.product_id);
      bool server = e.what == ledger::event::kind::timed_out;
      r.code = server ? 408 : 499;
      r.why = server ? reason::queue_timeout : reason::client_timeout;
    }
    record_wait(acc, r.waited_us);
    count(acc, r.code);
    report_usage(w.account, w.model_id, r);
    decided(w.account, e.tag, w, std::move(r), out, now);
  }
}

void live_ledger::advance(usec now, std::vector<answer>& out) {
  while (!timers_.empty() && timers_.begin()->first <= now) {
    timed_key t = timers_.begin()->second;
    timers_.erase(timers_.begin());
    accounts_[t.account].tickets.erase(t.name);
  }
  serve(now, out);
}

bool live_ledger::admit(const admit_request& req, usec now, admit_reply& reply,
                        std::vector<answer>& out) {
  reply = admit_reply{};
  id a = 0;
  if (!find(req.account, a)) {
    reply.code = 404;
    return true;
  }
  auto& acc = accounts_[a];
  if (draining_ && req.what != kind::ws_close) {
    // Another node (or this one, restarted) takes it: retry soon.
    reply.code = 503;
    reply.retry_after_s = 1;
    count(acc, 503);
    return true;
  }
  if (held_why_ != reason::none && req.what != kind::ws_close) {
    reply.code = 503;  // a cluster's: not the owner now, or no majority
    reply.why = held_why_;
    reply.retry_after_s = 1;
    count(acc, 503);
    return true;
  }
  if (recovering(now) && req.what != kind::ws_close) {
    // Leases granted before the restart may still run: nothing new until
    // the window ends (renewals adopt them meanwhile, lease()).
    reply.code = 503;
    reply.why = reason::recovering;
    reply.retry_after_s = std::max<std::int64_t>(1, ceil_seconds(recovering_until_ - now));
    count(acc, 503);
    return true;
  }
  if (waiters_.count(req.request_id)) {
    reply.code = 400;
    return true;
  }
  request r;
  r.seq = req.request_id;
  r.account = a;
  // Names held from here: by the lease or the waiter, or given back below.
  if (!req.model.empty() && (r.model = take_name(a, 0, req.model)) == no_id) {
    reply.code = 400;  // too_many_names
    return true;
  }
  if (!req.product.empty() && (r.product = take_name(a, 1, req.product)) == no_id) {
    drop_name(a, 0, r.model);
    reply.code = 400;
    return true;
  }
  r.conn = req.conn;
  r.what = req.what;
  r.tokens = req.tokens;
  r.priority = req.priority;
  r.key = req.key;
  r.cost = plan_->cost_of(acc.profile, r.model, req.cost);
  auto d = ledger_.arrive(r, acc.profile, now, terms_for(req.request_id, req.holder_is_connection));
  switch (d.what) {
    case engine::verdict::admitted:
      reply.code = 200;
      reply.lease = grant(a, d.lease, req.model, r.model, r.product);
      reply.lease_ttl_ms = hold_for(req.holder_is_connection) == never ? 0 : lease_ttl_ / 1000;
      if (req.what != kind::ws_open) record_wait(acc, 0);
      count(acc, 200);
      report_usage(a, r.model, reply);
      return true;
    case engine::verdict::queued: {
      ++acc.enqueued;
      waiter w;
      w.account = a;
      w.arrival = now;
      w.model = req.model;
      w.model_id = r.model;
      w.product_id = r.product;
      w.holder_is_connection = req.holder_is_connection;
      w.place = d.waiter;
      if (req.async) {
        w.ticket = new_id();
        ticket t;
        t.tag = req.request_id;
        acc.tickets.emplace(w.ticket, std::move(t));
        reply.code = 202;
        reply.ticket = w.ticket;
      }
      waiters_.emplace(req.request_id, std::move(w));
      return req.async;
    }
    case engine::verdict::done:
      break;
  }
  drop_name(a, 0, r.model);
  drop_name(a, 1, r.product);
  reply.code = static_cast<std::uint16_t>(d.code);
  reply.why = d.why;
  if (d.gate != no_gate) reply.gate = plan_->gates()[d.gate].name;
  reply.retry_after_s = d.retry_after_s;
  count(acc, reply.code);
  report_usage(a, r.model, reply);
  (void)out;
  return true;
}

void live_ledger::report_usage(id a, id model, admit_reply& r) const {
  const auto& prof = plan_->profile(accounts_[a].profile);
  r.limit = ledger_.limit_of(a, accounts_[a].profile);
  r.in_use = ledger_.usage_of(a).used;
  r.count_tokens = prof.adaptive && prof.adaptive_per_token;
  auto fill = [&](admit_reply::rate_fields& f, std::int64_t per_minute, std::int64_t level) {
    if (per_minute < 0) return;
    f.limit = per_minute;
    f.remaining = rate_limit_gate::units_in(level);
    f.reset_us = rate_limit_gate::until_full(per_minute, prof.rates.burst, level);
  };
  rate_limit_gate::state buckets;
  if (ledger_.rates_of(a, buckets)) {
    fill(r.requests, prof.rates.requests_per_minute, buckets.requests);
    fill(r.tokens, prof.rates.tokens_per_minute, buckets.tokens);
  }
  // OpenAI's x-ratelimit-* speak of the model: a rate the model has of its
  // own is reported instead of the account's.
  if (const auto* own = ledger_.model_rates(a, model)) {
    auto state = own->save();
    const auto& rates = *plan_->model_rates(model);
    fill(r.requests, rates.requests_per_minute, state.requests);
    fill(r.tokens, rates.tokens_per_minute, state.tokens);
  }
}

void live_ledger::cancel(const cancel_request& req, usec now, std::vector<answer>& out) {
  id a = 0;
  if (!find(req.account, a)) return;
  auto wi = waiters_.find(req.request_id);
  if (wi == waiters_.end() || wi->second.account != a || !wi->second.ticket.empty()) return;
  if (!ledger_.cancel(wi->second.place)) return;
  auto& acc = accounts_[a];
  admit_reply r;
  r.code = 499;
  r.why = reason::client_timeout;
  r.waited_us = now - wi->second.arrival;
  count(acc, 499);
  drop_name(a, 0, wi->second.model_id);
  drop_name(a, 1, wi->second.product_id);
  waiters_.erase(wi);
  out.push_back(answer{req.request_id, r});
  serve(now, out);  // the next head may fit now that this one left
}

lease_reply live_ledger::lease(const lease_request& req, usec now, std::vector<answer>& out) {
  lease_reply r;
  if (held_why_ != reason::none && req.op == lease_op::renew) {
    // A renewal here would not reach the account's owner: the client retries.
    r.code = 503;
    r.why = held_why_;
    return r;
  }
  id a = 0;
  auto* held = find_entry(req.account, req.lease, &account_state::leases, a);
  if (!held) {
    // Recovering after a restart, a lease unknown here may have been
    // granted before it: a renewal adopts it; a release has nothing to free.
    if (!find(req.account, a) || !recovering(now)) r.code = 404;
    else if (req.op == lease_op::renew) r = adopt(a, req, now);
    return r;
  }
  if (req.op == lease_op::release) {
    // Another release may come at this same instant: the queue timeouts
    // due now wait for the next advance(now) (the actor's timer).
    release(a, req.lease, now, req.output_tokens);
    serve(now, out, false);
    return r;
  }
  const auto* rec = ledger_.find(held->handle);
  if (rec && rec->ends != never) {
    ledger_.renew(held->handle, now + lease_ttl_);
    r.ttl_ms = lease_ttl_ / 1000;
  }
  return r;
}

lease_reply live_ledger::adopt(id a, const lease_request& req, usec now) {
  lease_reply r;
  auto& acc = accounts_[a];
  request q;
  q.account = a;
  q.key = req.key;
  if (!req.model.empty() && (q.model = take_name(a, 0, req.model)) == no_id) {
    r.code = 400;
    return r;
  }
  if (!req.product.empty() && (q.product = take_name(a, 1, req.product)) == no_id) {
    drop_name(a, 0, q.model);
    r.code = 400;
    return r;
  }
  q.cost = plan_->cost_of(acc.profile, q.model, req.cost);
  // A WebSocket connection's lease: its own slot, or a request's units.
  bool by_connection = req.holds_connection || req.conn != 0;
  if (by_connection) {
    q.conn = req.conn;
    q.what = req.holds_connection ? kind::ws_open : kind::ws_request;
  }
  ledger::handle h = ledger::no_handle;
  auto how = ledger_.adopt(q, acc.profile, now, terms_for(0, by_connection), h);
  if (how == engine::adoption::refused) {
    // It could never have been granted, or clients claim twice a pool: not
    // taken (the holder is told its lease is unknown).
    drop_name(a, 0, q.model);
    drop_name(a, 1, q.product);
    r.code = 404;
    return r;
  }
  ++acc.adopted;
  if (how == engine::adoption::over_limit) ++acc.adopted_over_limit;
  grant(a, h, req.model, q.model, q.product, req.lease);
  r.ttl_ms = lease_ttl_ / 1000;
  return r;
}

lease_reply live_ledger::cancel_ticket(const ticket_cancel& req, usec now,
                                       std::vector<answer>& out) {
  lease_reply r;
  id a = 0;
  auto* found = find_entry(req.account, req.ticket, &account_state::tickets, a);
  if (!found) {
    r.code = 404;
    return r;
  }
  auto& acc = accounts_[a];
  ticket t = std::move(*found);
  acc.tickets.erase(req.ticket);
  if (t.decided) {
    timers_.erase(t.ttl);
    if (t.result.code == 200 && acc.leases.count(t.result.lease)) release(a, t.result.lease, now);
  } else {
    auto wi = waiters_.find(t.tag);
    if (wi != waiters_.end() && ledger_.cancel(wi->second.place)) {
      admit_reply cancelled;
      cancelled.code = 499;
      cancelled.why = reason::client_timeout;
      cancelled.ticket = req.ticket;
      cancelled.waited_us = now - wi->second.arrival;
      count(acc, 499);
      drop_name(a, 0, wi->second.model_id);
      drop_name(a, 1, wi->second.product_id);
      waiters_.erase(wi);
      for (auto p : t.pollers) out.push_back(answer{p, cancelled});
    }
  }
  serve(now, out);  // what this ticket held or blocked may go to the next in line
  return r;
}

bool live_ledger::poll(const ticket_poll& req, std::uint64_t poll_tag, usec now,
                       admit_reply& reply, std::vector<answer>& out) {
  reply = admit_reply{};
  id a = 0;
  auto* found = find_entry(req.account, req.ticket, &account_state::tickets, a);
  if (!found) {
    reply.code = 404;
    return true;
  }
  auto& t = *found;
  if (t.decided) {
    reply = t.result;
    if (reply.code == 200 && reply.lease_ttl_ms > 0) {
      // Its TTL has run since the grant (or the last renewal): the holder
      // must renew by then. An ended lease is nobody's to use any more, nor
      // is one with less than a third of its TTL left: a holder renews every
      // third of a TTL and gives a lease up at two thirds without an answer
      // (the lease keeper's rule), so none could keep it (and a TTL left
      // under a millisecond would read as none at all, ttl_ms 0: found by
      // usher cluster-sim, a client then held the lease past its end).
      const auto& leases = accounts_[a].leases;
      auto l = leases.find(reply.lease);
      const auto* rec = l == leases.end() ? nullptr : ledger_.find(l->second.handle);
      if (!rec || rec->ends - now < lease_ttl_ / 3) {
        reply = admit_reply{};
        reply.code = 410;
        reply.ticket = req.ticket;
      } else {
        reply.lease_ttl_ms = std::max<usec>(0, rec->ends - now) / 1000;
      }
    }
    return true;
  }
  if (t.pollers.size() >= max_pollers) {
    // Bounded: the oldest poller is told the ticket still waits.
    admit_reply pending;
    pending.code = 202;
    pending.ticket = req.ticket;
    out.push_back(answer{t.pollers.front(), pending});
    t.pollers.erase(t.pollers.begin());
  }
  t.pollers.push_back(poll_tag);
  return false;
}

// -- reports --------------------------------------------------------------------

concurrency_snapshot live_ledger::snapshot(const std::string& account, usec now) const {
  concurrency_snapshot s;
  id a = 0;
  const auto* acc = find(account, a);
  if (!acc) return s;
  auto u = ledger_.usage_of(a);
  s.limit = ledger_.limit_of(a, acc->profile);
  s.used_cost = u.used;
  s.queued = u.queued;
  s.connections = u.connections;
  // Oldest first (by start in microseconds, then id), as a dashboard lists them.
  std::vector<std::pair<const std::string*, const ledger::lease_record*>> held;
  for (auto& [name, l] : acc->leases) {
    const auto* rec = ledger_.find(l.handle);
    if (rec && !rec->units.holds_connection) held.emplace_back(&name, rec);
  }
  std::sort(held.begin(), held.end(), [](const auto& x, const auto& y) {
    return x.second->start != y.second->start ? x.second->start < y.second->start
                                              : *x.first < *y.first;
  });
  for (auto& [name, rec] : held) {
    in_flight_request r;
    r.id = *name;
    r.cost = rec->units.cost;
    r.model = acc->leases.at(*name).model;
    r.started_at_ms = epoch_unix_ms_ + rec->start / 1000;
    r.duration_ms = (now - rec->start) / 1000;
    s.requests.push_back(std::move(r));
  }
  return s;
}

live_metrics live_ledger::metrics() const {
  live_metrics m;
  for (std::size_t a = 0; a < accounts_.size(); ++a) m.accounts.push_back(metrics_of(static_cast<id>(a)));
  return m;
}

live_metrics live_ledger::metrics(const std::string& account) const {
  live_metrics m;
  if (id a = 0; find(account, a)) m.accounts.push_back(metrics_of(a));
  return m;
}

account_metrics live_ledger::metrics_of(id a) const {
  const auto& acc = accounts_[a];
  auto u = ledger_.usage_of(a);
  account_metrics x;
  x.account = acc.name;
  x.in_flight = u.in_flight;
  x.used = u.used;
  x.limit = ledger_.limit_of(a, acc.profile);
  x.queued = u.queued;
  x.connections = u.connections;
  for (auto& [code, n] : acc.outcomes) x.outcomes.emplace_back(code, n);
  x.enqueued = acc.enqueued;
  x.leases_expired = acc.expired;
  x.adopted = acc.adopted;
  x.adopted_over_limit = acc.adopted_over_limit;
  x.names = static_cast<std::int64_t>(acc.uses[0].size() + acc.uses[1].size());
  x.wait_buckets = acc.wait_buckets;
  x.wait_sum_us = acc.wait_sum;
  x.wait_count = acc.wait_count;
  ledger_.gate_report(a, x.gates);
  return x;
}

usec live_ledger::next_deadline() {
  usec t = ledger_.next_deadline();
  if (!timers_.empty()) t = std::min(t, timers_.begin()->first);
  return t;
}

void live_ledger::drain(std::vector<answer>& out) {
  admit_reply r;
  r.code = 503;
  for (auto& [tag, w] : waiters_) {
    if (w.ticket.empty()) out.push_back(answer{tag, r});
    // Out of the queue too: a release while the node drains admits nobody.
    ledger_.cancel(w.place);
    drop_name(w.account, 0, w.model_id);
    drop_name(w.account, 1, w.product_id);
  }
  for (auto& acc : accounts_)
    for (auto& [name, t] : acc.tickets) {
      for (auto p : t.pollers) out.push_back(answer{p, r});
      t.pollers.clear();
    }
  waiters_.clear();
}

void live_ledger::hold_grants(reason why, usec now, std::vector<answer>& out) {
  held_why_ = why;
  if (why == reason::none || waiters_.empty()) return;
  admit_reply r;
  r.code = 503;
  r.why = why;
  r.retry_after_s = 1;
  evict_waiters(r, now, out);
}

void live_ledger::start_draining(usec now, std::vector<answer>& out) {
  draining_ = true;
  admit_reply r;
  r.code = 503;
  r.retry_after_s = 1;
  evict_waiters(r, now, out);
}

void live_ledger::evict_waiters(const admit_reply& r, usec now, std::vector<answer>& out) {
  // Out of the ledger's queues first, all of them: the queue is served only
  // by the next advance(), when no waiter is left to let in.
  for (auto& [tag, w] : waiters_) {
    ledger_.cancel(w.place);
    drop_name(w.account, 0, w.model_id);
    drop_name(w.account, 1, w.product_id);
    if (w.ticket.empty()) {
      out.push_back(answer{tag, r});
      continue;
    }
    auto& acc = accounts_[w.account];
    auto i = acc.tickets.find(w.ticket);
    if (i == acc.tickets.end()) continue;
    auto& t = i->second;
    t.decided = true;
    t.result = r;
    t.result.ticket = w.ticket;
    t.ttl = timers_.emplace(now + lease_ttl_, timed_key{w.account, w.ticket});
    for (auto p : t.pollers) out.push_back(answer{p, t.result});
    t.pollers.clear();
  }
  waiters_.clear();
}

std::vector<moved_account> live_ledger::accounts_now(usec now) const {
  std::vector<moved_account> out;
  std::vector<std::vector<ledger::handle>> lease_handles, waiter_handles;
  auto images = ledger_.export_accounts(profiles(), lease_handles, waiter_handles);
  for (id a = 0; a < accounts_.size(); ++a) {
    const auto& img = images[a];
    moved_account m;
    m.account = accounts_[a].name;
    auto bucket = [&](std::string model, const rate_limit_gate::state& st) {
      m.buckets.push_back(moved_bucket{std::move(model), st.requests, st.tokens, st.at - now});
    };
    if (img.has_rates) bucket("", img.rates);
    for (auto& [model, st] : img.model_rates) bucket(names_[0].names[model], st);
    m.has_sessions = img.has_sessions;
    if (img.has_sessions) {
      m.sessions_cap = img.sessions.cap;
      m.sessions_opened = img.sessions.opened;
      m.sessions_window_end_us = img.sessions.window_end - now;
    }
    for (auto& [gate, bytes] : img.gate_states) m.gates.push_back(moved_gate_state{gate, bytes});
    m.mean_hold_us = img.mean_hold_us;
    m.adaptive_limit = img.adaptive_limit;
    if (!m.buckets.empty() || m.has_sessions || !m.gates.empty() || m.mean_hold_us > 0 || m.adaptive_limit > 0)
      out.push_back(std::move(m));
  }
  return out;
}

handed_over live_ledger::hand_off(usec now, std::vector<answer>& out) {
  handed_over moved;
  // The state beyond the leases first, as it stands: their release below
  // would teach the mean hold and an adaptive limit holds cut short.
  moved.accounts = accounts_now(now);
  admit_reply r;
  r.code = 503;
  r.why = reason::not_owner;
  r.retry_after_s = 1;
  evict_waiters(r, now, out);
  for (id a = 0; a < accounts_.size(); ++a) {
    auto& acc = accounts_[a];
    std::vector<std::string> gone;
    for (auto& [name, held] : acc.leases)
      if (describe(acc, name, held, now, moved.leases)) gone.push_back(name);
    for (auto& name : gone) release(a, name, now);
  }
  return moved;
}

bool live_ledger::describe(const account_state& acc, const std::string& name, const held_lease& held,
                           usec now, std::vector<moved_lease>& out) const {
  const auto* rec = ledger_.find(held.handle);
  if (!rec) return false;
  moved_lease& m = out.emplace_back();
  m.account = acc.name;
  m.lease = name;
  m.model = held.model;
  if (held.product_id != no_id) m.product = names_[1].names[held.product_id];
  m.cost = rec->req.cost;
  m.key = rec->req.key;
  m.held_by_connection = rec->req.what == kind::ws_open || rec->req.what == kind::ws_request;
  m.ttl_left_us = rec->ends == never ? 0 : std::max<usec>(1, rec->ends - now);
  m.holds_connection = rec->units.holds_connection;
  m.conn = rec->req.conn;
  m.conn_instance = rec->units.conn_instance;
  return true;
}

void live_ledger::describe_lease(const std::string& account, const std::string& lease, usec now,
                                 std::vector<moved_lease>& out) const {
  auto i = account_ids_.find(account);
  if (i == account_ids_.end()) return;
  auto& acc = accounts_[i->second];
  auto held = acc.leases.find(lease);
  if (held != acc.leases.end()) describe(acc, lease, held->second, now, out);
}

std::vector<moved_lease> live_ledger::leases_now(usec now) const {
  std::vector<moved_lease> out;
  for (auto& acc : accounts_)
    for (auto& [name, held] : acc.leases) describe(acc, name, held, now, out);
  return out;
}

void live_ledger::take_in(const handed_over& moved, usec now) {
  for (auto& m : moved.leases) {
    id a = 0;
    if (!find(m.account, a) || accounts_[a].leases.count(m.lease)) continue;
    take_in_lease(a, m, now);
  }
  for (auto& m : moved.accounts) {
    id a = 0;
    if (!find(m.account, a)) continue;
    ledger::account_image img;
    img.account = a;
    img.profile = accounts_[a].profile;
    // Bytes from another process: each value is cut to what an honest
    // member sends, so none can overflow a time or stall a window's roll.
    // Times from the handoff on, here: a refill never later than now (a
    // bucket from the future would refill nothing for a while), nor earlier
    // than an hour (rate.burst's most: an older one is full anyway).
    for (auto& b : m.buckets) {
      rate_limit_gate::state st{std::max<std::int64_t>(b.requests, 0), std::max<std::int64_t>(b.tokens, 0),
                                now + std::clamp<usec>(b.at_us, -seconds(3600), 0)};
      if (b.model.empty()) {
        img.has_rates = true;
        img.rates = st;
      } else if (id model = plan_model(b.model); model != no_id) {
        img.model_rates.emplace_back(model, st);
      }
    }
    // A session window ends within one window from now, or ended at most a
    // day ago (each window since is rolled one by one); its cap never falls
    // below the plan's.
    const auto& sessions = plan_->profile(img.profile).sessions;
    img.has_sessions = m.has_sessions;
    img.sessions = session_rate_gate::state{
        std::max(m.sessions_cap, sessions.per_window), std::max<std::int64_t>(m.sessions_opened, 0),
        now + std::clamp<usec>(m.sessions_window_end_us, -seconds(86400), sessions.window)};
    for (auto& g : m.gates) img.gate_states.emplace_back(g.gate, g.bytes);
    // (The adaptive limit is cut to the plan's range where it is restored.)
    img.mean_hold_us = std::isfinite(m.mean_hold_us) ? std::clamp(m.mean_hold_us, 0.0, 86400e6) : 0;
    img.adaptive_limit = m.adaptive_limit;
    std::vector<ledger::handle> no_leases, no_waiters;
    ledger_.import_account(img, no_leases, no_waiters);
  }
}

void live_ledger::take_in_lease(id a, const moved_lease& m, usec now) {
  // Taken as it was held there, without asking a gate (engine::restore_lease):
  // it is held. Asking (adopt, as after a restart) would refuse leases past
  // twice the capacity, which a member still applying an older, lower limit
  // of a reload has, and the holders would go on using what was dropped.
  // A connection's slot or its units, or a request's units, with the TTL it
  // had left (a connection's: none on a node alone).
  auto& acc = accounts_[a];
  ledger::account_image img;
  img.account = a;
  img.profile = acc.profile;
  auto& h = img.leases.emplace_back();
  h.req.account = a;
  h.req.key = m.key;
  if (m.held_by_connection) {
    h.req.conn = m.conn;
    h.req.what = m.holds_connection ? kind::ws_open : kind::ws_request;
  }
  h.req.model = m.model.empty() ? no_id : take_name(a, 0, m.model, true);
  h.req.product = m.product.empty() ? no_id : take_name(a, 1, m.product, true);
  // From another process: a bad cost is the plan's, a huge one no more than any grant's.
  h.req.cost = plan_->cost_of(acc.profile, h.req.model, m.cost < 0 ? -1 : std::min(m.cost, policies::max_cost));
  h.start = now;
  h.holds_connection = m.holds_connection;
  h.conn_instance = m.conn_instance;
  // Never more than a TTL left (now + a huge value would overflow).
  usec left = m.held_by_connection && m.ttl_left_us <= 0 ? lease_ttl_ : m.ttl_left_us;
  if (hold_for(m.held_by_connection) != never) h.ends = now + std::clamp<usec>(left, 1, lease_ttl_);
  std::vector<ledger::handle> leases, waiters;
  ledger_.import_account(img, leases, waiters);
  grant(a, leases.at(0), m.model, h.req.model, h.req.product, m.lease);
}

std::size_t live_ledger::lease_count() const {
  std::size_t n = 0;
  for (auto& acc : accounts_) n += acc.leases.size();
  return n;
}

std::size_t live_ledger::test_name_count() const {
  return names_[0].ids.size() - names_[0].permanent + names_[1].ids.size();
}

}  // namespace usher::actors::detail

#include "policies/ledger.hpp"

#include <algorithm>

namespace usher::policies {

namespace {

constexpr std::uint32_t slot_of(ledger::handle h) { return static_cast<std::uint32_t>(h); }
constexpr std::uint32_t generation_of(ledger::handle h) { return static_cast<std::uint32_t>(h >> 32); }
constexpr ledger::handle make_handle(std::uint32_t slot, std::uint32_t generation) {
  return (static_cast<ledger::handle>(generation) << 32) | slot;
}

std::int64_t ceil_seconds(usec t) { return (t + usec_per_second - 1) / usec_per_second; }

}  // namespace

ledger::ledger(std::shared_ptr<const plan> p, std::int64_t time_origin_unix_us)
    : plan_(p), engine_(std::move(p), time_origin_unix_us) {}

// -- slots ----------------------------------------------------------------------

ledger::lease_slot* ledger::lease_at(handle h) {
  auto s = slot_of(h);
  if (s >= leases_.size() || !leases_[s].used || leases_[s].generation != generation_of(h))
    return nullptr;
  return &leases_[s];
}

const ledger::lease_slot* ledger::lease_at(handle h) const {
  return const_cast<ledger*>(this)->lease_at(h);
}

ledger::waiter_slot* ledger::waiter_at(handle h) {
  auto s = slot_of(h);
  if (s >= waiters_.size() || !waiters_[s].used || waiters_[s].generation != generation_of(h))
    return nullptr;
  return &waiters_[s];
}

ledger::per_account& ledger::stats(id account) {
  if (account >= accounts_.size()) accounts_.resize(static_cast<std::size_t>(account) + 1);
  return accounts_[account];
}

ledger::handle ledger::grant(const request& r, std::uint16_t profile, const engine::lease& units,
                             const terms& with, usec now) {
  std::uint32_t s;
  if (free_leases_.empty()) {
    s = static_cast<std::uint32_t>(leases_.size());
    leases_.emplace_back();
  } else {
    s = free_leases_.back();
    free_leases_.pop_back();
  }
  auto& slot = leases_[s];
  slot.used = true;
  auto& rec = slot.rec;
  rec.req = r;
  rec.profile = profile;
  rec.units = units;
  rec.tag = with.tag;
  rec.start = now;
  rec.ends = with.hold == never ? never : now + with.hold;
  rec.cut = false;
  rec.output_tokens = with.output_tokens;
  if (rec.ends > with.gives_up_at) {
    // The client's own timeout cuts the answer short; the slot frees then.
    rec.ends = std::max(now, with.gives_up_at);
    rec.cut = true;
  }
  handle h = make_handle(s, slot.generation);
  if (rec.ends != never) ends_.push(timer{rec.ends, r.seq, h});
  return h;
}

void ledger::end_lease(std::uint32_t s, usec now) {
  auto& slot = leases_[s];
  const auto& rec = slot.rec;
  // An answer cut short by its client's deadline did not produce its tokens.
  bool cut_short = rec.cut && now >= rec.ends;
  engine_.release(rec.units, now, now - rec.start, cut_short ? 0 : rec.output_tokens);
  if (!rec.units.holds_connection) {
    auto& acc = stats(rec.req.account);
    auto hold = static_cast<double>(now - rec.start);
    acc.mean_hold_us = acc.mean_hold_us == 0 ? hold : 0.8 * acc.mean_hold_us + 0.2 * hold;
  }
  slot.used = false;
  ++slot.generation;
  free_leases_.push_back(s);
}

ledger::handle ledger::add_waiter(const request& r, std::uint16_t profile, usec arrival,
                                  const terms& with) {
  std::uint32_t s;
  if (free_waiters_.empty()) {
    s = static_cast<std::uint32_t>(waiters_.size());
    waiters_.emplace_back();
  } else {
    s = free_waiters_.back();
    free_waiters_.pop_back();
  }
  auto& w = waiters_[s];
  w.used = true;
  w.req = r;
  w.profile = profile;
  w.arrival = arrival;
  w.with = with;
  return make_handle(s, w.generation);
}

void ledger::arm_give_up(handle h) {
  // A client that gives up before the server would time it out leaves then.
  const auto& w = waiters_[slot_of(h)];
  usec server_deadline = plan_->profile(w.profile).queue_max_wait;
  server_deadline = server_deadline == never ? never : w.arrival + server_deadline;
  if (w.with.gives_up_at < server_deadline) gives_up_.push(timer{w.with.gives_up_at, w.req.seq, h});
}

ledger::waiter_slot ledger::take_waiter(handle h) {
  auto& w = waiters_[slot_of(h)];
  waiter_slot out = w;
  w.used = false;
  ++w.generation;
  free_waiters_.push_back(slot_of(h));
  return out;
}

// -- the per-instant loop ------------------------------------------------------------

usec ledger::next_lease_end() {
  while (!ends_.empty()) {
    const auto& top = ends_.top();
    const auto* l = lease_at(top.who);
    if (l && l->rec.ends == top.at) return top.at;
    ends_.pop();  // stale: released early or renewed
  }
  return never;
}

usec ledger::next_give_up() {
  while (!gives_up_.empty()) {
    if (waiter_at(gives_up_.top().who)) return gives_up_.top().at;
    gives_up_.pop();  // stale: admitted, timed out or cancelled
  }
  return never;
}

usec ledger::next_deadline() {
  return std::min({next_lease_end(), engine_.next_deadline(), next_give_up()});
}

void ledger::advance(usec now, std::vector<event>& out) { run(now, out, true); }

void ledger::serve_released(usec now, std::vector<event>& out) { run(now, out, false); }

void ledger::run(usec now, std::vector<event>& out, bool timeouts) {
  for (;;) {
    // Leases that end now, then the queue admissions they allow.
    while (next_lease_end() <= now) {
      handle h = ends_.top().who;
      ends_.pop();
      event e{event::kind::ended, 0, {}, 0, h, leases_[slot_of(h)].rec};
      e.tag = e.held.tag;
      e.req = e.held.req;
      end_lease(slot_of(h), now);
      out.push_back(e);
    }
    admitted_.clear();
    engine_.admit_waiting(now, admitted_);
    for (auto& x : admitted_) {
      auto w = take_waiter(x.tag);
      handle l = grant(w.req, w.profile, x.held, w.with, now);
      out.push_back(event{event::kind::admitted, w.with.tag, w.req, w.arrival, l,
                          leases_[slot_of(l)].rec});
    }
    if (next_lease_end() <= now) continue;  // a lease that held for no time
    if (!timeouts || (engine_.next_deadline() > now && next_give_up() > now)) return;
    // The server's timeouts (408), then waiters whose client gave up (499);
    // the heads behind them may fit: look again.
    timed_out_.clear();
    engine_.expire(now, timed_out_);
    for (auto& x : timed_out_) {
      auto w = take_waiter(x.tag);
      out.push_back(event{event::kind::timed_out, w.with.tag, w.req, w.arrival, no_handle, {}});
    }
    while (next_give_up() <= now) {
      handle h = gives_up_.top().who;
      gives_up_.pop();
      if (!engine_.cancel(waiters_[slot_of(h)].req.account, h)) continue;
      auto w = take_waiter(h);
      out.push_back(event{event::kind::gave_up, w.with.tag, w.req, w.arrival, no_handle, {}});
    }
  }
}

ledger::decision ledger::arrive(const request& r, std::uint16_t profile, usec now,
                                const terms& with) {
  decision out;
  // The engine's tag is the handle the waiter will have should it queue:
  // the next free slot, taken only then.
  std::uint32_t slot = free_waiters_.empty() ? static_cast<std::uint32_t>(waiters_.size())
                                             : free_waiters_.back();
  std::uint32_t generation = slot < waiters_.size() ? waiters_[slot].generation : 0;
  auto d = engine_.arrive(r, profile, now, make_handle(slot, generation));
  out.what = d.what;
  out.code = d.code;
  out.why = d.why;
  out.gate = d.gate;
  switch (d.what) {
    case engine::verdict::queued:
      out.waiter = add_waiter(r, profile, now, with);
      arm_give_up(out.waiter);
      return out;
    case engine::verdict::admitted:
      out.lease = grant(r, profile, d.held, with, now);
      return out;
    case engine::verdict::done:
      break;
  }
  if (d.code == status::rejected || d.code == status::policy_close)
    out.retry_after_s = retry_after_s(r, profile, d.why, now);
  return out;
}

bool ledger::release(handle h, usec now, std::uint32_t output_tokens) {
  auto* l = lease_at(h);
  if (!l) return false;
  if (output_tokens > 0) l->rec.output_tokens = output_tokens;
  end_lease(slot_of(h), now);
  return true;
}

bool ledger::renew(handle h, usec ends) {
  auto* l = lease_at(h);
  if (!l) return false;
  l->rec.ends = ends;
  l->rec.cut = false;
  if (ends != never) ends_.push(timer{ends, l->rec.req.seq, h});  // the old entry is now stale
  return true;
}

bool ledger::cancel(handle h) {
  auto* w = waiter_at(h);
  if (!w || !engine_.cancel(w->req.account, h)) return false;
  take_waiter(h);
  return true;
}

engine::adoption ledger::adopt(const request& r, std::uint16_t profile, usec now,
                               const terms& with, handle& lease) {
  engine::lease units;
  auto how = engine_.adopt(r, profile, units);
  if (how != engine::adoption::refused) lease = grant(r, profile, units, with, now);
  return how;
}

const ledger::lease_record* ledger::find(handle h) const {
  const auto* l = lease_at(h);
  return l ? &l->rec : nullptr;
}

std::optional<usec> ledger::waiting_since(handle h) const {
  auto* w = const_cast<ledger*>(this)->waiter_at(h);
  if (!w) return std::nullopt;
  return w->arrival;
}

// -- Retry-After ------------------------------------------------------------------------

std::int64_t ledger::retry_after_s(const request& r, std::uint16_t profile, reason why,
                                   usec now) const {
  const auto& prof = plan_->profile(profile);
  switch (why) {
    case reason::session_rate: {
      // The window's end as the gate has it (one moved from another node
      // keeps that node's phase), else the next multiple of its length.
      usec w = prof.sessions.window;
      session_rate_gate::state s;
      usec end = engine_.sessions_of(r.account, s) && s.window_end > now ? s.window_end : (now / w + 1) * w;
      return std::max<std::int64_t>(1, ceil_seconds(end - now));
    }
    case reason::request_rate:
    case reason::token_rate: {
      // When the buckets hold enough again (0: never, bigger than a full bucket).
      usec wait = engine_.rate_wait(r.account, r.model, r.tokens);
      return wait == never ? 0 : std::max<std::int64_t>(1, ceil_seconds(wait));
    }
    case reason::queue_full:
    case reason::over_limit:
    case reason::model_busy: {
      // Waiting helps only if the request could ever fit.
      bool never_fits = (prof.limit >= 0 && r.cost > prof.limit) ||
                        (why == reason::model_busy && r.model != no_id &&
                         plan_->model_capacity(r.model) >= 0 &&
                         r.cost > plan_->model_capacity(r.model));
      if (never_fits) return 0;
      if (prof.retry_after > 0) return ceil_seconds(prof.retry_after);
      // Derived from the queue's state: the requests ahead (queued plus this
      // one) drain as holders release, one mean hold time per pool's worth.
      auto u = engine_.usage_of(r.account);
      double mean = r.account < accounts_.size() ? accounts_[r.account].mean_hold_us : 0;
      double hold = mean > 0 ? mean : 1e6;
      double per = static_cast<double>(std::max<std::int64_t>(1, u.in_flight));
      double est = hold * static_cast<double>(u.queued + 1) / per;
      return std::clamp<std::int64_t>(ceil_seconds(static_cast<usec>(est)), 1, 60);
    }
    default:
      return 0;
  }
}

// -- copying an account -------------------------------------------------------------------

ledger::account_image ledger::export_account(id account, std::uint16_t profile) const {
  std::vector<handle> leases, waiters;
  return export_account(account, profile, leases, waiters);
}

ledger::held_here ledger::held_at(std::uint32_t s) const {
  const auto& rec = leases_[s].rec;
  account_image::held h;
  h.req = rec.req;
  h.start = rec.start;
  h.ends = rec.ends;
  h.cut = rec.cut;
  h.tag = rec.tag;
  h.holds_connection = rec.units.holds_connection;
  h.conn_instance = rec.units.conn_instance;
  return {h, make_handle(s, leases_[s].generation)};
}

ledger::account_image ledger::export_account(id account, std::uint16_t profile,
                                             std::vector<handle>& lease_handles,
                                             std::vector<handle>& waiter_handles) const {
  std::vector<held_here> held;
  for (std::uint32_t s = 0; s < leases_.size(); ++s)
    if (leases_[s].used && leases_[s].rec.req.account == account) held.push_back(held_at(s));
  return image_of(account, profile, held, lease_handles, waiter_handles);
}

std::vector<ledger::account_image> ledger::export_accounts(
    const std::vector<std::uint16_t>& profiles, std::vector<std::vector<handle>>& leases,
    std::vector<std::vector<handle>>& waiters) const {
  std::vector<std::vector<held_here>> held(profiles.size());
  for (std::uint32_t s = 0; s < leases_.size(); ++s)
    if (leases_[s].used && leases_[s].rec.req.account < profiles.size())
      held[leases_[s].rec.req.account].push_back(held_at(s));
  std::vector<account_image> images;
  leases.assign(profiles.size(), {});
  waiters.assign(profiles.size(), {});
  for (id a = 0; a < profiles.size(); ++a)
    images.push_back(image_of(a, profiles[a], held[a], leases[a], waiters[a]));
  return images;
}

ledger::account_image ledger::image_of(id account, std::uint16_t profile,
                                       std::vector<held_here>& held,
                                       std::vector<handle>& lease_handles,
                                       std::vector<handle>& waiter_handles) const {
  account_image img;
  img.account = account;
  img.profile = profile;
  // Oldest first, ties by sequence: the order does not change the state
  // (pools add up), but it makes an image of one state always the same bytes.
  std::sort(held.begin(), held.end(), [](const auto& x, const auto& y) {
    return x.first.start != y.first.start ? x.first.start < y.first.start
                                          : x.first.req.seq < y.first.req.seq;
  });
  for (auto& [h, handle] : held) {
    img.leases.push_back(h);
    lease_handles.push_back(handle);
  }
  engine_.each_waiting(account, [&](const queue_gate::entry& e) {
    const auto& w = waiters_[slot_of(e.tag)];
    img.queue.push_back(account_image::waiting{w.req, w.arrival, w.with});
    waiter_handles.push_back(e.tag);
  });
  img.has_sessions = engine_.sessions_of(account, img.sessions);
  img.has_rates = engine_.rates_of(account, img.rates);
  engine_.model_rates_of(account, img.model_rates);
  engine_.gate_states_of(account, img.gate_states);
  if (account < accounts_.size()) img.mean_hold_us = accounts_[account].mean_hold_us;
  img.adaptive_limit = engine_.adaptive_limit_of(account);
  return img;
}

void ledger::import_account(const account_image& img, std::vector<handle>& leases,
                            std::vector<handle>& waiters) {
  for (const auto& h : img.leases) {
    engine::lease units;
    units.holds_connection = h.holds_connection;
    units.conn = h.req.conn;
    units.conn_instance = h.conn_instance;
    engine_.restore_lease(h.req, img.profile, units);
    terms with;
    with.tag = h.tag;
    handle l = grant(h.req, img.profile, units, with, h.start);
    auto& rec = leases_[slot_of(l)].rec;
    rec.ends = h.ends;
    rec.cut = h.cut;
    if (h.ends != never) ends_.push(timer{h.ends, h.req.seq, l});
    leases.push_back(l);
  }
  for (const auto& q : img.queue) {
    handle w = add_waiter(q.req, img.profile, q.arrival, q.with);
    engine_.restore_waiter(q.req, img.profile, q.arrival, w);
    arm_give_up(w);
    waiters.push_back(w);
  }
  if (img.has_sessions) engine_.restore_sessions(img.account, img.profile, img.sessions);
  if (img.has_rates) engine_.restore_rates(img.account, img.profile, img.rates);
  for (const auto& [model, state] : img.model_rates)
    engine_.restore_model_rates(img.account, img.profile, model, state);
  for (const auto& [name, bytes] : img.gate_states)
    engine_.restore_gate_state(img.account, img.profile, name, bytes);
  if (img.adaptive_limit > 0) engine_.restore_adaptive_limit(img.account, img.profile, img.adaptive_limit);
  if (img.mean_hold_us > 0) stats(img.account).mean_hold_us = img.mean_hold_us;
}

}  // namespace usher::policies

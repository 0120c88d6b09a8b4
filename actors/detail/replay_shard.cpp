#include "actors/detail/replay_shard.hpp"

#include <algorithm>

namespace usher::actors::detail {

namespace {

// A slot of `slots` for a new entry: a freed one when there is one, else a new
// one at the end. Its index is the entry's tag.
template <class T>
std::uint64_t take_slot(std::vector<T>& slots, std::vector<std::uint64_t>& free) {
  if (free.empty()) {
    slots.emplace_back();
    return slots.size() - 1;
  }
  auto tag = free.back();
  free.pop_back();
  return tag;
}

}  // namespace

using namespace policies;

replay_shard::replay_shard(std::shared_ptr<const plan> p, usec interval)
    : plan_(p), ledger_(p), interval_(interval) {
  if (plan_->has_backend()) backend_.emplace(plan_);
}

void replay_shard::add_clients(const std::vector<generated_account>& accounts) {
  for (auto& g : accounts) {
    // Each client its own stream: independent of which actor hosts it.
    hosted_client c{clients::make_client(g.spec, substream_seed(g.seed, g.client)), g.account,
                    g.profile, g.client, g.model, 0};
    clients_.push_back(std::move(c));
    meter(g.account, g.profile);
    arm_client(static_cast<std::uint32_t>(clients_.size() - 1));
  }
}

void replay_shard::add(const std::vector<arrival>& batch) {
  arrivals_.insert(arrivals_.end(), batch.begin(), batch.end());
}

usage_meter& replay_shard::meter(id account, std::uint16_t profile) {
  if (account >= meters_.size()) meters_.resize(static_cast<std::size_t>(account) + 1);
  auto& m = meters_[account];
  if (!m)
    m.emplace(account, plan_->profile(profile).limit, interval_, plan_->signals(), &series_);
  return *m;
}

usec replay_shard::next_event_time() {
  usec t = std::min(ledger_.next_deadline(), next_backend_event());
  if (!arrivals_.empty()) t = std::min(t, arrivals_.front().at);
  if (!generated_.empty()) t = std::min(t, generated_.top().at);
  if (!wakeups_.empty()) t = std::min(t, wakeups_.top().at);
  return t;
}

usec replay_shard::decided_before() const {
  return undecided_.empty() ? limit_reached_ : std::min(limit_reached_, undecided_.front().first);
}

std::uint64_t replay_shard::hold_undecided(usec at) {
  undecided_.emplace_back(at, true);
  return undecided_base_ + undecided_.size() - 1;
}

void replay_shard::drop_undecided(std::uint64_t ticket) {
  undecided_[ticket - undecided_base_].second = false;
  while (!undecided_.empty() && !undecided_.front().second) {
    undecided_.pop_front();
    ++undecided_base_;
  }
}

void replay_shard::note_queue(id account, usec now) {
  meters_[account]->queue_depth(now, ledger_.usage_of(account).queued);
}

void replay_shard::arm_client(std::uint32_t local) {
  usec t = clients_[local].model->next_wakeup();
  if (t != never) wakeups_.push(timed{t, local, 0});
}

void replay_shard::decide(outcome o, const arrival& a, usec now, usec retry_after) {
  o.seq = a.req.seq;
  o.at = a.at;
  o.account = a.req.account;
  o.model = a.req.model;
  o.cost = a.req.cost;
  o.what = a.req.what;
  o.priority = a.req.priority;
  meters_[a.req.account]->decided(now, o.code, o.queued, o.wait);
  if (a.client != no_client) {
    auto local = a.client;
    o.client = clients_[local].index;
    o.request_no = a.request_no;
    o.attempt_no = a.attempt_no;
    clients::attempt_result r;
    r.request = a.request_no;
    r.number = a.attempt_no;
    r.code = o.code;
    r.start = o.start;
    r.end = o.end;
    if (o.code == status::rejected) r.retry_after = retry_after;
    o.final = clients_[local].model->on_result(r, now);
    arm_client(local);
  }
  outcomes_.push_back(o);
}

bool replay_shard::on_backend(const arrival& a) const {
  // Requests that hold pool units and answer (not a failed row: it fails after its own time).
  return backend_ && !a.fail && a.req.what != kind::ws_open && a.req.what != kind::ws_close &&
         backend_->runs(a.req.model);
}

void replay_shard::start(const arrival& a, usec now, bool was_queued,
                         const ledger::lease_record& held) {
  if (on_backend(a)) {
    auto& m = *meters_[a.req.account];
    m.started(now, held.units.cost);
    m.admitted(now);
    return;
  }
  outcome o;
  o.start = now;
  o.end = held.ends;
  o.wait = now - a.at;
  o.queued = was_queued;
  o.code = a.fail ? status::failed : status::ok;
  o.why = a.fail ? reason::failed : reason::none;
  if (held.cut) {
    // The client's own timeout cut the answer short; the ledger ends the lease then.
    o.code = status::client_closed;
    o.why = reason::client_timeout;
  }
  auto& m = *meters_[a.req.account];
  if (!held.units.holds_connection) {
    m.started(now, held.units.cost);
    m.held(held.ends - now);
  }
  m.admitted(now);
  decide(o, a, now);
}

arrival replay_shard::unqueue(std::uint64_t tag, usec now, std::uint64_t* ticket) {
  arrival a = waiting_[tag]->a;
  if (ticket) *ticket = waiting_[tag]->ticket;
  else drop_undecided(waiting_[tag]->ticket);
  waiting_[tag].reset();
  free_tags_.push_back(tag);
  note_queue(a.req.account, now);
  return a;
}

void replay_shard::arrive(const arrival& a, usec now) {
  auto& m = meter(a.req.account, a.profile);
  m.arrived(now);
  std::uint64_t tag = take_slot(waiting_, free_tags_);
  ledger::terms with;
  with.tag = tag;
  with.hold = on_backend(a) ? never : a.duration;  // the backend says when it ends
  with.gives_up_at = a.deadline;
  // A failed answer's tokens are not its trace's: it teaches a per-token limit nothing.
  if (a.output_tokens != no_output_tokens && !a.fail) with.output_tokens = a.output_tokens;
  auto d = ledger_.arrive(a.req, a.profile, now, with);
  switch (d.what) {
    case engine::verdict::admitted: {
      free_tags_.push_back(tag);
      const auto& held = *ledger_.find(d.lease);
      start(a, now, false, held);
      if (on_backend(a)) start_on_backend(a, now, false, d.lease, held.units.cost, std::nullopt);
      break;
    }
    case engine::verdict::queued:
      waiting_[tag] = queued_row{a, hold_undecided(a.at)};
      note_queue(a.req.account, now);
      m.enqueued(now);
      break;
    case engine::verdict::done: {
      free_tags_.push_back(tag);
      outcome o;
      o.code = d.code;
      o.why = d.why;
      o.gate = d.gate;
      if (d.code == status::ok) o.start = o.end = now;  // a ws_close
      // The ledger's Retry-After, the one serve sends with this 429.
      decide(o, a, now, seconds(d.retry_after_s));
      break;
    }
  }
}

void replay_shard::wake_clients(usec now) {
  while (!wakeups_.empty() && wakeups_.top().at == now) {
    auto local = static_cast<std::uint32_t>(wakeups_.top().key);
    wakeups_.pop();
    auto& c = clients_[local];
    if (c.model->next_wakeup() != now) continue;  // stale: already woken
    sent_.clear();
    c.model->wake(now, sent_);
    for (auto& x : sent_) {
      auto a = clients::arrival_of(x, c.account, c.model_id, local);
      a.req.seq = generated_seq_bit | (static_cast<std::uint64_t>(c.account) << 40) | ++c.next_seq;
      a.req.cost = plan_->cost_of(c.profile, c.model_id, c.model->spec().cost);
      a.profile = c.profile;
      generated_.push(a);
    }
    arm_client(local);
  }
}

void replay_shard::run_until(usec limit) {
  run_events(limit);
  limit_reached_ = std::max(limit_reached_, limit);
  // Close every account's intervals up to the last boundary reached, so an
  // idle account's row is not held back until its next event: the client
  // may then write every row before that boundary, in order.
  usec reach = limit == never ? last_event_ : limit;
  usec boundary = reach / interval_ * interval_;
  if (boundary <= swept_to_) return;
  for (auto& m : meters_)
    if (m) m->advance(boundary);
  swept_to_ = boundary;
}

void replay_shard::start_on_backend(const arrival& a, usec now, bool was_queued, ledger::handle lease,
                                    std::int64_t cost, std::optional<std::uint64_t> ticket) {
  // The ledger holds the lease until released: the client's deadline is ours to keep.
  ledger_.renew(lease, never);
  std::uint64_t tag = take_slot(running_, free_running_);
  // Undecided until it ends (admitted at once, it arrived now: in time order).
  running_[tag] = running{a, lease, now, cost, was_queued, true,
                          ticket ? *ticket : hold_undecided(a.at)};
  bool counted = a.output_tokens != no_output_tokens;
  double output = counted ? a.output_tokens : backend_->solo_tokens(a.req.model, a.duration);
  std::uint32_t input = counted ? a.req.tokens - a.output_tokens : 0;
  backend_->start(tag, a.req.model, input, output, now);
  if (a.deadline != never) cuts_.push(cut{std::max(now, a.deadline), tag, a.req.seq});
}

usec replay_shard::next_backend_event() {
  if (!backend_) return never;
  while (!cuts_.empty()) {
    const auto& c = cuts_.top();
    if (running_[c.tag].holds && running_[c.tag].a.req.seq == c.seq) break;
    cuts_.pop();  // stale: done before its deadline
  }
  return std::min(backend_->next_completion(), cuts_.empty() ? never : cuts_.top().at);
}

void replay_shard::end_backend(usec now) {
  backend_done_.clear();
  if (backend_->next_completion() == now) backend_->complete(now, backend_done_);
  for (auto tag : backend_done_) end_running(tag, now, true);
  for (;;) {
    next_backend_event();  // drops cuts of requests done by now
    if (cuts_.empty() || cuts_.top().at != now) break;
    auto tag = cuts_.top().tag;
    cuts_.pop();
    backend_->stop(tag, now);
    end_running(tag, now, false);
  }
}

void replay_shard::end_running(std::uint64_t tag, usec now, bool done) {
  running r = std::move(running_[tag]);
  running_[tag].holds = false;
  free_running_.push_back(tag);
  drop_undecided(r.ticket);
  ledger_.release(r.lease, now);
  meters_[r.a.req.account]->finished(now, r.cost);
  meters_[r.a.req.account]->held(now - r.start);
  outcome o;
  o.start = r.start;
  o.end = now;
  o.wait = r.start - r.a.at;
  o.queued = r.queued;
  o.code = done ? status::ok : status::client_closed;
  o.why = done ? reason::none : reason::client_timeout;
  decide(o, r.a, now);
}

void replay_shard::run_events(usec limit) {
  for (;;) {
    usec t_backend = next_backend_event();
    if (t_backend < limit && t_backend != never &&
        t_backend <= std::min({ledger_.next_deadline(), wakeups_.empty() ? never : wakeups_.top().at,
                              arrivals_.empty() ? never : arrivals_.front().at,
                              generated_.empty() ? never : generated_.top().at})) {
      // Requests the backend is done with (or their clients cut) release
      // first; then the ledger serves what they unblock, in its order.
      last_event_ = t_backend;
      end_backend(t_backend);
      events_.clear();
      ledger_.advance(t_backend, events_);
      on_events(t_backend);
      continue;
    }
    usec t_ledger = ledger_.next_deadline();
    usec t_wake = wakeups_.empty() ? never : wakeups_.top().at;
    usec t_trace = arrivals_.empty() ? never : arrivals_.front().at;
    usec t_generated = generated_.empty() ? never : generated_.top().at;
    usec t = std::min({t_ledger, t_wake, t_trace, t_generated});
    if (t >= limit || t == never) return;
    last_event_ = t;
    if (t_ledger == t) {
      // Releases, queue admissions and timeouts at t, in the ledger's order.
      events_.clear();
      ledger_.advance(t, events_);
      on_events(t);
    } else if (t_wake == t) {
      wake_clients(t);
    } else {
      // One arrival, trace rows and generated attempts merged by (at, seq);
      // then look again, since it may have ended a lease at t.
      bool from_trace = t_trace == t && (t_generated != t || arrivals_.front().req.seq < generated_.top().req.seq);
      arrival a;
      if (from_trace) {
        a = arrivals_.front();
        arrivals_.pop_front();
      } else {
        a = generated_.top();
        generated_.pop();
      }
      arrive(a, t);
    }
  }
}

void replay_shard::on_events(usec t) {
  for (auto& e : events_) {
    switch (e.what) {
      case ledger::event::kind::ended:
        if (!e.held.units.holds_connection)
          meters_[e.req.account]->finished(t, e.held.units.cost);
        break;
      case ledger::event::kind::admitted: {
        std::uint64_t ticket;
        arrival a = unqueue(e.tag, t, &ticket);
        start(a, t, true, e.held);
        if (on_backend(a)) start_on_backend(a, t, true, e.lease, e.held.units.cost, ticket);
        else drop_undecided(ticket);
        break;
      }
      case ledger::event::kind::timed_out:
      case ledger::event::kind::gave_up: {
        arrival a = unqueue(e.tag, t);
        outcome o;
        o.wait = t - a.at;
        o.queued = true;
        bool server = e.what == ledger::event::kind::timed_out;
        o.code = server ? status::timeout : status::client_closed;
        o.why = server ? reason::queue_timeout : reason::client_timeout;
        decide(o, a, t);
        break;
      }
    }
  }
}

std::vector<outcome> replay_shard::take_outcomes() {
  std::vector<outcome> out;
  out.swap(outcomes_);
  return out;
}

std::vector<interval_row> replay_shard::take_series() {
  std::vector<interval_row> out;
  out.swap(series_);
  return out;
}

void replay_shard::finish() {
  run_until(never);
  for (auto& m : meters_)
    if (m) m->close(last_event_);
}

std::vector<std::pair<id, usage_totals>> replay_shard::totals() const {
  std::vector<std::pair<id, usage_totals>> out;
  for (std::size_t a = 0; a < meters_.size(); ++a)
    if (meters_[a]) out.emplace_back(static_cast<id>(a), meters_[a]->totals());
  return out;
}

std::vector<std::pair<std::uint32_t, clients::client_stats>> replay_shard::client_totals() const {
  std::vector<std::pair<std::uint32_t, clients::client_stats>> out;
  for (auto& c : clients_) out.emplace_back(c.index, c.model->stats());
  return out;
}

}  // namespace usher::actors::detail

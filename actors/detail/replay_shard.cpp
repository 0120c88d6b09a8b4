#include "actors/detail/replay_shard.hpp"

#include <algorithm>

namespace usher::actors::detail {

using namespace policies;

replay_shard::replay_shard(std::shared_ptr<const plan> p, usec interval)
    : plan_(p), engine_(p), interval_(interval) {}

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
  usec t = engine_.next_deadline();
  if (!agenda_.empty()) t = std::min(t, agenda_.top().at);
  if (!arrivals_.empty()) t = std::min(t, arrivals_.front().at);
  return t;
}

void replay_shard::note_queue(id account, usec now) {
  meters_[account]->queue_depth(now, engine_.usage_of(account).queued);
}

void replay_shard::start(const request& r, usec now, usec arrived_at, usec duration, bool fail,
                         bool was_queued, const engine::lease& held) {
  outcome o;
  o.seq = r.seq;
  o.start = now;
  o.end = now + duration;
  o.wait = now - arrived_at;
  o.queued = was_queued;
  o.code = fail ? status::failed : status::ok;
  o.why = fail ? reason::failed : reason::none;
  outcomes_.push_back(o);
  auto& m = *meters_[r.account];
  if (!held.holds_connection) m.started(now, held.cost);
  m.admitted(now);
  m.decided(now, o.code, was_queued, o.wait);
  agenda_.push(release_event{o.end, r.seq, held});
}

void replay_shard::run_until(usec limit) {
  run_events(limit);
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

void replay_shard::run_events(usec limit) {
  for (;;) {
    usec t_release = agenda_.empty() ? never : agenda_.top().at;
    usec t_deadline = engine_.next_deadline();
    usec t_arrival = arrivals_.empty() ? never : arrivals_.front().at;
    usec t = std::min({t_release, t_deadline, t_arrival});
    if (t >= limit || t == never) return;
    last_event_ = t;

    if (t_release == t) {
      // Every release at t, then the queue admissions they allow.
      while (!agenda_.empty() && agenda_.top().at == t) {
        auto ev = agenda_.top();
        agenda_.pop();
        engine_.release(ev.held, t);
        if (!ev.held.holds_connection) meters_[ev.held.account]->finished(t, ev.held.cost);
      }
      admitted_.clear();
      engine_.admit_waiting(t, admitted_);
      for (auto& a : admitted_) {
        auto info = waiting_[a.tag];
        free_tags_.push_back(a.tag);
        start(a.req, t, a.arrival, info.duration, info.fail, true, a.held);
        note_queue(a.req.account, t);
      }
      continue;
    }

    if (t_deadline == t) {
      timed_out_.clear();
      engine_.expire(t, timed_out_);
      for (auto& x : timed_out_) {
        free_tags_.push_back(x.tag);
        outcome o;
        o.seq = x.req.seq;
        o.wait = t - x.arrival;
        o.queued = true;
        o.code = status::timeout;
        o.why = reason::queue_timeout;
        outcomes_.push_back(o);
        meters_[x.req.account]->decided(t, o.code, true, o.wait);
        note_queue(x.req.account, t);
      }
      continue;
    }

    // One arrival; then look again, since it may have scheduled a release at t.
    arrival a = arrivals_.front();
    arrivals_.pop_front();
    auto& m = meter(a.req.account, a.profile);
    m.arrived(t);
    std::uint64_t tag;
    if (free_tags_.empty()) {
      tag = waiting_.size();
      waiting_.push_back({});
    } else {
      tag = free_tags_.back();
      free_tags_.pop_back();
    }
    auto d = engine_.arrive(a.req, a.profile, t, tag);
    switch (d.what) {
      case engine::verdict::admitted:
        free_tags_.push_back(tag);
        start(a.req, t, t, a.duration, a.fail, false, d.held);
        break;
      case engine::verdict::queued:
        waiting_[tag] = waiting_info{a.duration, a.fail};
        note_queue(a.req.account, t);
        m.enqueued(t);
        break;
      case engine::verdict::done: {
        free_tags_.push_back(tag);
        outcome o;
        o.seq = a.req.seq;
        o.code = d.code;
        o.why = d.why;
        if (d.code == status::ok) o.start = o.end = t;  // a ws_close
        outcomes_.push_back(o);
        m.decided(t, d.code, false, 0);
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

}  // namespace usher::actors::detail

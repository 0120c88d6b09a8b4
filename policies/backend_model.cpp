#include "policies/backend_model.hpp"

#include <algorithm>
#include <cmath>

namespace usher::policies {

namespace {

// Microseconds, rounded up, that `amount` takes at `per_second`, at most
// longest_time (a rate near zero, an absurd duration): every request ends,
// so every request gets its outcome (one whose work would take longer ends
// longest_time after its replica's last change, its work unfinished).
usec time_for(double amount, double per_second) {
  double us = std::ceil(amount / per_second * 1e6);
  return us >= static_cast<double>(longest_time) ? longest_time : static_cast<usec>(us);
}

}  // namespace

backend_model::backend_model(std::shared_ptr<const plan> p) : plan_(std::move(p)) {}

double backend_model::solo_tokens(id model, usec duration) const {
  return plan_->backend(model)->throughput_at(1) * static_cast<double>(duration) / 1e6;
}

std::uint32_t backend_model::server_of(id model) {
  std::size_t i = model == no_id ? 0 : static_cast<std::size_t>(model) + 1;
  if (i >= servers_.size()) servers_.resize(i + 1);
  auto& s = servers_[i];
  if (!s.params) {
    s.params = plan_->backend(model);
    s.replicas.resize(static_cast<std::size_t>(s.params->replicas));
  }
  return static_cast<std::uint32_t>(i);
}

void backend_model::bring_up_to(replica& r, usec now) {
  if (r.speed > 0) r.decoded += r.speed * static_cast<double>(now - r.at) / 1e6;
  r.at = now;
}

void backend_model::set_speed(server& s, replica& r) {
  if (r.running == 0) {
    r.speed = 0;
    r.decoded = 0;  // idle: start the count again, so it never grows large
    return;
  }
  r.speed = s.params->throughput_at(r.running) / static_cast<double>(r.running);
}

bool backend_model::live(const replica::mark& m, stream::phase p) const {
  const auto& st = streams_[m.tag];
  return st.generation == m.generation && st.now == p;
}

usec backend_model::decode_due(const replica& r, double key) const {
  if (key <= r.decoded) return r.at;
  return r.at + time_for(key - r.decoded, r.speed);
}

void backend_model::begin(replica& r, std::uint64_t tag, usec now) {
  auto& st = streams_[tag];
  ++r.running;
  if (st.prefill == 0) {
    begin_decode(r, tag);
    return;
  }
  st.now = stream::phase::prefill;
  r.prefilling.push(replica::mark{static_cast<double>(now + st.prefill), tag, st.generation});
}

void backend_model::begin_decode(replica& r, std::uint64_t tag) {
  auto& st = streams_[tag];
  st.now = stream::phase::decode;
  r.decoding.push(replica::mark{r.decoded + st.output, tag, st.generation});
}

void backend_model::finish(replica& r, std::uint64_t tag, std::vector<std::uint64_t>* done) {
  auto& st = streams_[tag];
  st.now = stream::phase::idle;
  --r.running;
  --active_;
  if (done) done->push_back(tag);
}

void backend_model::schedule(std::uint32_t s, std::uint32_t r) {
  auto& rep = servers_[s].replicas[r];
  ++rep.version;
  usec next = never;
  while (!rep.prefilling.empty() && !live(rep.prefilling.top(), stream::phase::prefill))
    rep.prefilling.pop();
  if (!rep.prefilling.empty()) next = static_cast<usec>(rep.prefilling.top().key);
  while (!rep.decoding.empty() && !live(rep.decoding.top(), stream::phase::decode))
    rep.decoding.pop();
  if (!rep.decoding.empty()) next = std::min(next, decode_due(rep, rep.decoding.top().key));
  scheduled_ += (next != never) - (rep.next != never);
  rep.next = next;
  if (next != never) dues_.push(due{next, s, r, rep.version});
  // Every change of load moves a replica's next event, leaving a stale
  // entry behind: rebuild before they crowd the heap.
  if (dues_.size() > 4 * scheduled_ + 64) {
    std::vector<due> live;
    live.reserve(scheduled_);
    for (std::uint32_t si = 0; si < servers_.size(); ++si)
      for (std::uint32_t ri = 0; ri < servers_[si].replicas.size(); ++ri) {
        const auto& x = servers_[si].replicas[ri];
        if (x.next != never) live.push_back(due{x.next, si, ri, x.version});
      }
    dues_ = decltype(dues_)(std::greater<>(), std::move(live));
  }
}

void backend_model::start(std::uint64_t tag, id model, std::uint32_t input_tokens,
                          double output_tokens, usec now) {
  auto si = server_of(model);
  auto& s = servers_[si];
  if (tag >= streams_.size()) streams_.resize(static_cast<std::size_t>(tag) + 1);
  auto& st = streams_[tag];
  ++st.generation;
  st.server = si;
  // The least loaded replica, as a least-connections balancer picks it.
  std::uint32_t best = 0;
  for (std::uint32_t i = 1; i < s.replicas.size(); ++i) {
    auto load = [&](const replica& r) { return r.running + static_cast<std::int64_t>(r.waiting.size()); };
    if (load(s.replicas[i]) < load(s.replicas[best])) best = i;
  }
  st.replica = best;
  st.prefill = input_tokens == 0 ? 0 : time_for(input_tokens, s.params->prefill_tokens_per_s);
  st.output = std::max(0.0, output_tokens);
  ++active_;
  auto& r = s.replicas[best];
  bring_up_to(r, now);
  if (r.running < s.params->max_streams) {
    begin(r, tag, now);
  } else {
    st.now = stream::phase::waiting;
    r.waiting.push_back(tag);
  }
  set_speed(s, r);
  schedule(si, best);
}

bool backend_model::stop(std::uint64_t tag, usec now) {
  if (tag >= streams_.size() || streams_[tag].now == stream::phase::idle) return false;
  auto& st = streams_[tag];
  auto& s = servers_[st.server];
  auto& r = s.replicas[st.replica];
  bring_up_to(r, now);
  if (st.now == stream::phase::waiting) {
    r.waiting.erase(std::find(r.waiting.begin(), r.waiting.end(), tag));
    st.now = stream::phase::idle;
    --active_;
  } else {
    finish(r, tag, nullptr);  // its heap entries are stale now
  }
  while (r.running < s.params->max_streams && !r.waiting.empty()) {
    auto next = r.waiting.front();
    r.waiting.pop_front();
    begin(r, next, now);
  }
  set_speed(s, r);
  schedule(st.server, st.replica);
  return true;
}

usec backend_model::next_completion() {
  while (!dues_.empty()) {
    const auto& d = dues_.top();
    if (servers_[d.server].replicas[d.replica].version == d.version) return d.at;
    dues_.pop();
  }
  return never;
}

void backend_model::complete(usec now, std::vector<std::uint64_t>& done) {
  auto first = done.size();
  while (next_completion() <= now) {
    auto d = dues_.top();
    dues_.pop();
    run(d.server, d.replica, now, &done);
  }
  std::sort(done.begin() + static_cast<std::ptrdiff_t>(first), done.end());
}

void backend_model::run(std::uint32_t si, std::uint32_t ri, usec now,
                        std::vector<std::uint64_t>* done) {
  auto& s = servers_[si];
  auto& r = s.replicas[ri];
  // What the schedule said is done by now, judged as it was judged then
  // (before this instant's changes of speed).
  finished_.clear();
  for (;;) {
    while (!r.decoding.empty() && !live(r.decoding.top(), stream::phase::decode)) r.decoding.pop();
    if (r.decoding.empty() || decode_due(r, r.decoding.top().key) > now) break;
    auto tag = r.decoding.top().tag;
    r.decoding.pop();
    finished_.push_back(tag);
  }
  bring_up_to(r, now);
  for (auto tag : finished_) finish(r, tag, done);
  // Then, until nothing changes: prompts read by now start decoding, streams
  // whose output is decoded (none left, or rounding) finish, waiting ones start.
  for (bool changed = true; changed;) {
    changed = false;
    while (!r.prefilling.empty()) {
      const auto& top = r.prefilling.top();
      if (!live(top, stream::phase::prefill)) {
        r.prefilling.pop();
        continue;
      }
      if (static_cast<usec>(top.key) > now) break;
      auto tag = top.tag;
      r.prefilling.pop();
      begin_decode(r, tag);
      changed = true;
    }
    while (!r.decoding.empty()) {
      const auto& top = r.decoding.top();
      if (!live(top, stream::phase::decode)) {
        r.decoding.pop();
        continue;
      }
      if (top.key > r.decoded) break;
      auto tag = top.tag;
      r.decoding.pop();
      finish(r, tag, done);
      changed = true;
    }
    while (r.running < s.params->max_streams && !r.waiting.empty()) {
      auto tag = r.waiting.front();
      r.waiting.pop_front();
      begin(r, tag, now);
      changed = true;
    }
  }
  set_speed(s, r);
  schedule(si, ri);
}

}  // namespace usher::policies

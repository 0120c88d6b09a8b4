#include "actors/clients/client_model.hpp"

#include <algorithm>
#include <cmath>

namespace usher::actors::clients {

using namespace policies;

usec distribution::draw(rng& g) const {
  double s = mean_s;
  switch (form) {
    case shape::fixed: break;
    case shape::exponential: s = exponential(g, mean_s); break;
    case shape::lognormal: s = lognormal(g, mean_s, std::sqrt(std::log1p(cv * cv))); break;
  }
  return static_cast<usec>(std::llround(s * 1e6));
}

bool retryable(status code) {
  switch (code) {
    case status::timeout:
    case status::rejected:
    case status::client_closed:
    case status::failed:
    case status::policy_close:
      return true;
    default:
      return false;
  }
}

client_model::client_model(const client_spec& spec, std::uint64_t seed)
    : spec_(spec), rng_(seed) {
  stats_.behaviour = spec.behaviour;
}

usec client_model::next_wakeup() const { return actions_.empty() ? never : actions_.top().at; }

void client_model::schedule(usec at, bool is_timer, std::uint64_t id, std::uint32_t number) {
  actions_.push(action{at, next_order_++, is_timer, id, number});
}

void client_model::set_timer(usec t, std::uint64_t tag) { schedule(t, true, tag, 0); }

void client_model::send_new(usec now, std::uint64_t tag) {
  auto request = next_request_++;
  open_.emplace(request, logical{tag, now});
  ++stats_.logical;
  schedule(now, false, request, 1);
}

void client_model::wake(usec now, std::vector<attempt>& out) {
  while (!actions_.empty() && actions_.top().at <= now) {
    auto a = actions_.top();
    actions_.pop();
    if (a.is_timer) {
      on_timer(now, a.request_or_tag);  // may schedule sends at `now`
      continue;
    }
    attempt x;
    x.at = now;
    x.request = a.request_or_tag;
    x.number = a.number;
    x.duration = draw_duration();
    x.deadline = spec_.timeout == never ? never : now + spec_.timeout;
    ++stats_.attempts;
    out.push_back(x);
  }
}

usec client_model::backoff(std::uint32_t failed_attempt, usec retry_after) {
  // As the OpenAI and Anthropic SDKs: a server hint of up to 60 s wins;
  // otherwise min(initial * 2^(n-1), max), shortened by up to 25 % of jitter.
  if (retry_after > 0 && retry_after <= seconds(60)) return retry_after;
  double base = static_cast<double>(spec_.backoff_initial) * std::pow(2.0, failed_attempt - 1);
  base = std::min(base, static_cast<double>(spec_.backoff_max));
  double jitter = 1.0 - 0.25 * uniform01(rng_);
  return static_cast<usec>(base * jitter);
}

bool client_model::on_result(const attempt_result& r, usec now) {
  auto it = open_.find(r.request);
  if (it == open_.end()) return true;
  auto tag = it->second.tag;
  if (r.code == status::ok) {
    open_.erase(it);
    ++stats_.succeeded;
    on_final(tag, true, r.end, now);
    return true;
  }
  // A failure the client sees only when its attempt ends (a 500 after the
  // request's time, a 499 at its own timeout) may be decided at the start:
  // the client waits for that end before it backs off or gives up.
  usec seen = std::max(now, r.end);
  if (retryable(r.code) && static_cast<int>(r.number) <= spec_.max_retries) {
    schedule(seen + backoff(r.number, r.retry_after), false, r.request, r.number + 1);
    return false;
  }
  open_.erase(it);
  ++stats_.failed;
  on_final(tag, false, seen, now);
  return true;
}

}  // namespace usher::actors::clients

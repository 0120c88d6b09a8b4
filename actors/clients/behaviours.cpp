// The four client behaviours, each a few timers on top of client_model's SDK.
#include <cmath>
#include <deque>

#include "actors/clients/client_model.hpp"

namespace usher::actors::clients {

using namespace policies;

namespace {

usec gap(rng& g, double rate) {
  return static_cast<usec>(std::llround(exponential(g, 1.0 / rate) * 1e6));
}

/// An application calling the API through a retrying SDK: logical requests
/// arrive as a Poisson process, each retried by the SDK.
class sdk_client : public client_model {
 public:
  using client_model::client_model;
  void begin() { arm(spec_.start + gap(rng_, spec_.rate)); }

 protected:
  void on_timer(usec now, std::uint64_t) override {
    send_new(now, 0);
    arm(now + gap(rng_, spec_.rate));
  }
  void on_final(std::uint64_t, bool, usec, usec) override {}

 private:
  void arm(usec t) {
    if (t < spec_.stop) set_timer(t, 0);
  }
};

/// N conversations, each alternating a request and a think time, never with
/// two turns in flight: the next turn starts `think` after the answer ends
/// (or after the turn was given up).
class conversation_client : public client_model {
 public:
  using client_model::client_model;
  void begin() {
    turns_left_.assign(static_cast<std::size_t>(spec_.conversations), spec_.turns);
    // Stagger the first turns over one think time, as users arrive apart.
    for (int c = 0; c < spec_.conversations; ++c)
      next_turn(spec_.start + static_cast<usec>(uniform01(rng_) * spec_.think.mean_s * 1e6), c);
  }

 protected:
  void on_timer(usec now, std::uint64_t conversation) override { send_new(now, conversation); }
  void on_final(std::uint64_t conversation, bool ok, usec done, usec) override {
    if (ok) ++stats_.turns;
    next_turn(done + spec_.think.draw(rng_), conversation);
  }

 private:
  void next_turn(usec t, std::uint64_t conversation) {
    auto& left = turns_left_[conversation];
    if (left == 0 || t >= spec_.stop) return;
    if (left > 0) --left;
    set_timer(t, conversation);
  }
  std::vector<std::int64_t> turns_left_;
};

/// A batch job: `documents` requests at parallelism k, either in fixed
/// chunks (the next chunk starts when every document of this one is done,
/// as Promise.all over batches) or as a sliding window (a new document starts
/// whenever one is done). Reports when the last document finished.
class batch_client : public client_model {
 public:
  using client_model::client_model;
  void begin() { set_timer(spec_.start, start_chunk); }

 protected:
  static constexpr std::uint64_t start_chunk = 0;
  static constexpr std::uint64_t doc_done = 1;

  void on_timer(usec now, std::uint64_t what) override {
    if (what == start_chunk) {
      for (int i = 0; i < spec_.parallelism && next_doc_ < spec_.documents; ++i) start_doc(now);
      return;
    }
    // A document is done (its answer complete, or given up).
    --in_flight_;
    ++done_;
    if (done_ == spec_.documents) {
      stats_.completed_at = now;
      return;
    }
    if (spec_.sliding_window) {
      if (next_doc_ < spec_.documents) start_doc(now);
    } else if (in_flight_ == 0) {
      on_timer(now, start_chunk);
    }
  }
  void on_final(std::uint64_t, bool, usec done, usec) override { set_timer(done, doc_done); }

 private:
  void start_doc(usec now) {
    ++next_doc_;
    ++in_flight_;
    send_new(now, next_doc_);
  }
  std::int64_t next_doc_ = 0;
  std::int64_t in_flight_ = 0;
  std::int64_t done_ = 0;
};

/// Poisson demand behind a client-side limiter (the per-model seed's advice):
/// a token bucket (rate, burst) or a cap on requests in flight. Requests wait
/// in a FIFO inside the client until the limiter lets them go.
class limited_client : public client_model {
 public:
  using client_model::client_model;
  void begin() {
    tokens_ = spec_.burst;
    refilled_at_ = spec_.start;
    arm_demand(spec_.start + gap(rng_, spec_.rate));
  }

 protected:
  static constexpr std::uint64_t demand = 0;
  static constexpr std::uint64_t token = 1;
  static constexpr std::uint64_t slot_free = 2;

  void on_timer(usec now, std::uint64_t what) override {
    if (what == demand) {
      waiting_.push_back(now);
      arm_demand(now + gap(rng_, spec_.rate));
    } else if (what == token) {
      token_timer_ = false;
    } else {
      --in_flight_;
    }
    drain(now);
  }
  void on_final(std::uint64_t, bool, usec done, usec) override {
    if (!spec_.token_bucket) set_timer(done, slot_free);
  }

 private:
  void arm_demand(usec t) {
    if (t < spec_.stop) set_timer(t, demand);
  }
  void drain(usec now) {
    if (spec_.token_bucket) {
      tokens_ = std::min(spec_.burst, tokens_ + static_cast<double>(now - refilled_at_) / 1e6 * spec_.limiter_rate);
      refilled_at_ = now;
      while (!waiting_.empty() && tokens_ >= 1.0) {
        tokens_ -= 1.0;
        go(now);
      }
      if (!waiting_.empty() && !token_timer_) {
        token_timer_ = true;
        set_timer(now + static_cast<usec>(std::ceil((1.0 - tokens_) / spec_.limiter_rate * 1e6)), token);
      }
      return;
    }
    while (!waiting_.empty() && in_flight_ < spec_.max_in_flight) {
      ++in_flight_;
      go(now);
    }
  }
  void go(usec now) {
    stats_.client_wait += now - waiting_.front();
    waiting_.pop_front();
    send_new(now, 0);
  }

  std::deque<usec> waiting_;
  double tokens_ = 0;
  usec refilled_at_ = 0;
  bool token_timer_ = false;
  std::int64_t in_flight_ = 0;
};

template <class Behaviour>
std::unique_ptr<client_model> started(const client_spec& spec, std::uint64_t seed) {
  auto c = std::make_unique<Behaviour>(spec, seed);
  c->begin();
  return c;
}

}  // namespace

std::unique_ptr<client_model> make_client(const client_spec& spec, std::uint64_t seed) {
  if (spec.behaviour == "conversations") return started<conversation_client>(spec, seed);
  if (spec.behaviour == "batch") return started<batch_client>(spec, seed);
  if (spec.behaviour == "limited") return started<limited_client>(spec, seed);
  return started<sdk_client>(spec, seed);
}

}  // namespace usher::actors::clients

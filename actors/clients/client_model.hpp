#pragma once
/// Client behaviours: what real clients of an inference API do with the
/// answers they get. A client model sends attempts, learns each attempt's
/// outcome when the account decides it, and reacts: an SDK retries 408, 429,
/// 5xx and its own timeouts with exponential backoff and jitter, honouring
/// Retry-After; a conversation waits for its answer and thinks before the next
/// turn; a batch job works through documents at a fixed parallelism; a
/// limited client throttles itself. Plain C++ (no CAF): the account actor
/// hosts the models of its accounts in its own event loop, so a reply costs
/// no message and the run stays exactly as deterministic as a trace replay
/// (docs/WORKLOADS.md, "Why clients live with their account").
///
/// Time is integer microseconds. A model is driven by three calls, in time
/// order: wake(now) when next_wakeup() comes, sending attempts; on_result()
/// when one of its attempts is decided. Not thread-safe.

#include <cstdint>
#include <memory>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

#include "policies/random.hpp"
#include "policies/records.hpp"
#include "policies/request.hpp"
#include "policies/time.hpp"

namespace usher::actors::clients {

using policies::usec;

/// A distribution of durations (request service times, think times).
struct distribution {
  enum class shape { fixed, exponential, lognormal };
  shape form = shape::exponential;
  double mean_s = 10;
  double cv = 1;  ///< lognormal only
  usec draw(policies::rng& g) const;
};

/// Every parameter of every behaviour (docs/WORKLOADS.md lists them).
struct client_spec {
  std::string behaviour = "sdk";  ///< sdk | conversations | batch | limited
  std::string model;              ///< sent with every request; empty: none
  std::int64_t cost = -1;         ///< -1: the plan decides
  distribution duration;          ///< service time of one request
  usec start = 0;                 ///< when the client starts
  usec stop = policies::never;    ///< no new logical requests from here on
  // The SDK under every behaviour.
  int max_retries = 2;
  usec timeout = policies::seconds(65);
  usec backoff_initial = 500'000;
  usec backoff_max = policies::seconds(8);
  // sdk and limited: logical requests arrive as a Poisson process.
  double rate = 1.0;  ///< per second
  // conversations
  int conversations = 4;
  distribution think{distribution::shape::exponential, 10, 1};
  std::int64_t turns = -1;  ///< per conversation; -1: until stop
  // batch
  std::int64_t documents = 100;
  int parallelism = 10;
  bool sliding_window = false;  ///< false: fixed chunks (Promise.all over batches)
  // limited
  bool token_bucket = true;     ///< false: a cap on requests in flight
  double limiter_rate = 1.0;    ///< tokens per second
  double burst = 1.0;
  std::int64_t max_in_flight = 1;
};

/// One attempt a client sends.
struct attempt {
  usec at = 0;
  std::uint64_t request = 0;  ///< logical request, numbered per client from 1
  std::uint32_t number = 1;   ///< 1 for the first try, 2 and 3 for retries
  usec duration = 0;
  usec deadline = policies::never;  ///< the client gives up at this time (its timeout)
};

/// What the client learns about one of its attempts.
struct attempt_result {
  std::uint64_t request = 0;
  std::uint32_t number = 1;
  policies::status code = policies::status::ok;
  usec start = -1;            ///< admitted: when it started
  usec end = -1;              ///< admitted: when its answer is complete
  usec retry_after = 0;       ///< the server's hint with a 429; 0: none
};

/// What a client achieved, for summary.json.
struct client_stats {
  std::string behaviour;
  std::int64_t logical = 0;     ///< logical requests started
  std::int64_t succeeded = 0;   ///< ended in 200 (perhaps after retries)
  std::int64_t failed = 0;      ///< gave up (retries exhausted or not retryable)
  std::int64_t attempts = 0;
  std::int64_t client_wait = 0; ///< us logical requests waited inside the client (limited)
  usec completed_at = -1;       ///< batch: when the last document finished
  std::int64_t turns = 0;       ///< conversations: turns answered
};

class client_model {
 public:
  client_model(const client_spec& spec, std::uint64_t seed);
  virtual ~client_model() = default;

  /// The earliest time the client wants to act, or policies::never.
  usec next_wakeup() const;

  /// Acts at `now` (== next_wakeup()): appends the attempts it sends now.
  void wake(usec now, std::vector<attempt>& out);

  /// Learns the outcome of one of its attempts, decided at `now`. Returns
  /// true when this attempt is the request's last (success or giving up).
  bool on_result(const attempt_result& r, usec now);

  const client_stats& stats() const { return stats_; }
  const client_spec& spec() const { return spec_; }

 protected:
  /// Starts a logical request now; `tag` is the behaviour's own label for it.
  void send_new(usec now, std::uint64_t tag);
  /// Asks for on_timer(t, tag) at time t.
  void set_timer(usec t, std::uint64_t tag);
  usec draw_duration() { return spec_.duration.draw(rng_); }

  /// A timer the behaviour set has come.
  virtual void on_timer(usec now, std::uint64_t tag) = 0;
  /// A logical request ended: `ok` (200; its answer is complete at `done`)
  /// or gave up (`done` is now). Called once per logical request.
  virtual void on_final(std::uint64_t tag, bool ok, usec done, usec now) = 0;

  client_spec spec_;
  policies::rng rng_;
  client_stats stats_;

 private:
  struct action {
    usec at;
    std::uint64_t order;  ///< FIFO among actions at one instant
    bool is_timer;
    std::uint64_t request_or_tag;
    std::uint32_t number;
    bool operator>(const action& o) const { return at != o.at ? at > o.at : order > o.order; }
  };
  struct logical {
    std::uint64_t tag;
    usec first_sent;
  };
  void schedule(usec at, bool is_timer, std::uint64_t id, std::uint32_t number);
  usec backoff(std::uint32_t failed_attempt, usec retry_after);

  std::priority_queue<action, std::vector<action>, std::greater<>> actions_;
  std::unordered_map<std::uint64_t, logical> open_;  ///< logical requests not yet final
  std::uint64_t next_request_ = 1;
  std::uint64_t next_order_ = 0;
};

/// Makes the model `spec.behaviour` names. REQUIRES: a valid behaviour name
/// (workload files are validated when read).
/// `seed` seeds the client's own random stream.
std::unique_ptr<client_model> make_client(const client_spec& spec, std::uint64_t seed);

/// Attempt `x` of client `client` as a request arriving from `account` for
/// `model`: the caller sets what its plan decides (cost, profile) and how it
/// numbers requests (seq).
inline policies::arrival arrival_of(const attempt& x, policies::id account, policies::id model,
                                    std::uint32_t client) {
  policies::arrival a;
  a.req.account = account;
  a.req.model = model;
  a.req.what = policies::kind::request;
  a.at = x.at;
  a.duration = x.duration;
  a.client = client;
  a.request_no = x.request;
  a.attempt_no = x.number;
  a.deadline = x.deadline;
  return a;
}

/// Whether an SDK retries this status (408, 429, 499, 5xx, 1008).
bool retryable(policies::status code);

}  // namespace usher::actors::clients

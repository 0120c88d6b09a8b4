#pragma once
/// Model servers that slow down under load: the simulator's backend model.
///
/// Without it a request holds its slot for the trace's `duration_s`, however
/// many others run beside it. With it (a plan's `backend.*` keys, docs/PLANS.md
/// "Backend model") each model runs on `replicas` servers of its own, and a
/// request's time follows from its tokens and the load it meets:
///
///   - it joins the replica with the fewest requests (running or waiting;
///     ties: the lowest index) and runs when that replica has fewer than
///     `max_streams` running, else waits there, first come first served;
///   - it first reads its prompt: input_tokens / prefill_tokens_per_s,
///     whatever the load (a simplification: decode dominates chat answers);
///   - then it decodes its output tokens at throughput(n) / n tokens per
///     second, n being the requests running on its replica (prefill
///     included): processor sharing, with the replica's aggregate rate
///     `throughput(n)` piecewise linear in n and flat after its last point.
///
/// A constant throughput curve makes each replica an exact processor-sharing
/// server (tests/policies/backend_model_test.cpp checks M/M/1-PS against
/// queueing theory). Progress is tracked per replica as the tokens one
/// stream has decoded since the replica was last idle (virtual time), so an
/// arrival or a departure costs O(log n), not a pass over the streams.
///
/// Clock-free like the rest of policies/: times are integer microseconds,
/// never decreasing between calls. Requests are named by the caller's tag (a
/// small integer it reuses once the request is done). Not thread-safe.

#include <cstdint>
#include <deque>
#include <queue>
#include <vector>

#include "policies/plan.hpp"

namespace usher::policies {

class backend_model {
 public:
  explicit backend_model(std::shared_ptr<const plan> p);

  /// Whether requests of `model` (no_id: none named) run on a modelled server.
  [[nodiscard]] bool runs(id model) const { return plan_->backend(model) != nullptr; }

  /// The output tokens a request without token counts stands for: what its
  /// replica decodes alone in `duration` (its trace time, run alone).
  [[nodiscard]] double solo_tokens(id model, usec duration) const;

  /// A request of `model` starts at `now`. REQUIRES: runs(model), `tag` is
  /// not running.
  void start(std::uint64_t tag, id model, std::uint32_t input_tokens, double output_tokens,
             usec now);

  /// The request stops before it is done (its client went away). False when
  /// `tag` is not running.
  bool stop(std::uint64_t tag, usec now);

  /// When the next request is done, or never.
  [[nodiscard]] usec next_completion();

  /// Runs the servers to `now` and appends the tags of the requests done at
  /// `now`, in tag order. REQUIRES: now <= next_completion().
  void complete(usec now, std::vector<std::uint64_t>& done);

  /// Requests on a server now (running or waiting there), for tests.
  [[nodiscard]] std::size_t active() const { return active_; }

 private:
  struct replica {
    std::int64_t running = 0;  ///< streams in prefill or decode
    double decoded = 0;        ///< tokens one stream decoded since the replica was idle
    usec at = 0;               ///< when `decoded` was brought up to date
    double speed = 0;          ///< tokens/s per decoding stream now
    std::uint32_t version = 0; ///< bumps when its next event moves
    usec next = never;         ///< its next event, as scheduled
    std::deque<std::uint64_t> waiting;  ///< tags over max_streams, first come first
    struct mark {
      double key;  ///< decode: `decoded` when done; prefill: the time it ends
      std::uint64_t tag;
      std::uint32_t generation;
      bool operator>(const mark& o) const { return key != o.key ? key > o.key : tag > o.tag; }
    };
    std::priority_queue<mark, std::vector<mark>, std::greater<>> decoding;
    std::priority_queue<mark, std::vector<mark>, std::greater<>> prefilling;
  };
  struct server {
    const backend_params* params = nullptr;
    std::vector<replica> replicas;
  };
  struct stream {
    enum class phase : std::uint8_t { idle, waiting, prefill, decode };
    phase now = phase::idle;
    std::uint32_t generation = 0;
    std::uint32_t server = 0;
    std::uint32_t replica = 0;
    usec prefill = 0;     ///< how long its prompt takes
    double output = 0;    ///< tokens to decode
  };
  struct due {
    usec at;
    std::uint32_t server;
    std::uint32_t replica;
    std::uint32_t version;
    bool operator>(const due& o) const {
      return at != o.at ? at > o.at : server != o.server ? server > o.server : replica > o.replica;
    }
  };

  std::uint32_t server_of(id model);
  void bring_up_to(replica& r, usec now);
  void set_speed(server& s, replica& r);
  void run(std::uint32_t s, std::uint32_t r, usec now, std::vector<std::uint64_t>* done);
  void begin(replica& r, std::uint64_t tag, usec now);
  void begin_decode(replica& r, std::uint64_t tag);
  void finish(replica& r, std::uint64_t tag, std::vector<std::uint64_t>* done);
  void schedule(std::uint32_t s, std::uint32_t r);
  bool live(const replica::mark& m, stream::phase p) const;
  usec decode_due(const replica& r, double key) const;

  std::shared_ptr<const plan> plan_;
  std::vector<server> servers_;       ///< by model id + 1 (0: no model); made on first use
  std::vector<stream> streams_;       ///< by tag
  /// Each replica's next event; entries of an older version are stale and
  /// skipped, and the heap is rebuilt when they outnumber the live ones.
  std::priority_queue<due, std::vector<due>, std::greater<>> dues_;
  std::size_t scheduled_ = 0;  ///< replicas with a next event
  std::size_t active_ = 0;
  std::vector<std::uint64_t> finished_;  ///< scratch of run()
};

}  // namespace usher::policies

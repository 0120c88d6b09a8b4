#pragma once
/// The yardstick of the replay benchmark: the streams model written as the
/// plainest event loop one core runs well, a std::priority_queue of events
/// and per-account counters, with no actors, no plan, no outputs. It shows
/// what a single core can do for the same model, so usher's rate reads as a
/// ratio to it (issue #2 asks for at least 1/6).
///
/// The model (the streams family with --set streams=C --set
/// queue.max_depth=D): each account has C streams and a FIFO queue of depth
/// D; a request that finds a free stream and nobody waiting runs at once
/// (200), else it queues (202, then 200 when it starts) or, with the queue
/// full, is refused (429); a waiter whose wait reaches max_wait times out
/// (408). Integer microseconds. At one instant: releases, then the queue
/// admissions they allow, then timeouts, then arrivals, each class in
/// arrival order -- usher's order, so the counts must equal usher's
/// summary.json (the driver checks that).
///
/// Online: feed rows in arrival order with arrive(), then finish().
/// Not thread-safe.

#include <cstdint>
#include <queue>
#include <string>
#include <vector>

namespace usher::bench {

/// What the loop decided, in total.
struct loop_counts {
  std::uint64_t requests = 0;
  std::uint64_t ok = 0;        ///< 200 (queued first or not)
  std::uint64_t queued = 0;    ///< saw 202 first
  std::uint64_t timeouts = 0;  ///< 408
  std::uint64_t rejected = 0;  ///< 429
  std::int64_t wait_sum = 0;   ///< us, over every request
};

class plain_loop {
 public:
  /// REQUIRES: streams > 0, 0 <= depth <= 64, max_wait_us >= 0.
  plain_loop(std::uint32_t accounts, int streams, int depth, std::int64_t max_wait_us);

  /// One arrival. REQUIRES: `at` not before the previous arrival; account
  /// below the count given to the constructor (grows otherwise).
  void arrive(std::int64_t at, std::uint32_t account, std::int64_t duration);

  /// Runs every event left.
  void finish() { drain(INT64_MAX); }

  const loop_counts& counts() const { return counts_; }

 private:
  enum : std::uint8_t { release_class = 0, timeout_class = 1 };
  struct event {
    std::int64_t at;
    std::uint64_t seq;  ///< arrival order of the request it belongs to
    std::uint32_t account;
    std::uint8_t cls;
    bool operator>(const event& o) const {
      if (at != o.at) return at > o.at;
      if (cls != o.cls) return cls > o.cls;
      return seq > o.seq;
    }
  };
  struct waiter {
    std::uint64_t seq;
    std::int64_t at;
    std::int64_t duration;
  };
  struct account_state {
    int busy = 0;
    std::uint32_t head = 0, size = 0;  ///< ring buffer in `ring`
    waiter ring[64];
  };

  void drain(std::int64_t until);
  void start(account_state& a, std::uint32_t account, std::uint64_t seq, std::int64_t now,
             std::int64_t duration);

  int streams_, depth_;
  std::int64_t max_wait_;
  std::uint64_t seq_ = 0;
  std::vector<account_state> accounts_;
  std::priority_queue<event, std::vector<event>, std::greater<>> events_;
  loop_counts counts_;
};

/// Runs the loop over in-memory rows (nothing parsed). The account count
/// sizes the per-account table.
loop_counts run_plain_arrays(const std::vector<std::int64_t>& at,
                             const std::vector<std::int64_t>& duration,
                             const std::vector<std::uint32_t>& account, std::uint32_t accounts,
                             int streams, int depth, std::int64_t max_wait_us);

/// Runs the loop over a trace CSV read with the Fast C++ CSV Parser
/// (io::CSVReader, columns by name as usher reads them; account names
/// interned in a hash map). With `simulate` false it only parses, so the
/// reader's own cost shows. Throws std::runtime_error on bad input.
loop_counts run_plain_csv(const std::string& path, bool simulate, int streams, int depth,
                          std::int64_t max_wait_us);

}  // namespace usher::bench

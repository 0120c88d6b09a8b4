#pragma once
/// A FIFO waiting room in front of an account's pools (the streams family).
///
/// A request that no pool can take right now waits here, in arrival order
/// within its priority level (a higher level stands ahead of every lower
/// one: docs/PLANS.md, "Sharing a model's capacity"; with one level, as
/// most plans have, that is plain arrival order), for at most max_wait.
/// Only the head may be admitted (strict FIFO: a later request of its level
/// that would fit does not overtake a blocked head). A request whose wait
/// reaches max_wait before it is admitted times out (408), wherever it
/// stands; one arriving to a queue at max_depth is refused (429).
///
/// Times are integer microseconds. Owned by one engine; not thread-safe.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <iterator>

#include "policies/request.hpp"

namespace usher::policies {

class queue_gate {
 public:
  static constexpr std::int64_t unbounded = -1;

  struct entry {
    request req;
    usec arrival = 0;
    usec deadline = never;   ///< arrival + max_wait
    std::uint64_t tag = 0;   ///< opaque to the queue: the caller's handle
  };

  /// REQUIRES: max_depth >= 0 or unbounded; max_wait >= 0 (never: no limit).
  queue_gate(std::int64_t max_depth, usec max_wait) : max_depth_(max_depth), max_wait_(max_wait) {}

  /// True when the queue takes waiters at all (max_depth != 0).
  bool enabled() const { return max_depth_ != 0; }
  [[nodiscard]] bool has_room() const {
    return max_depth_ == unbounded || static_cast<std::int64_t>(waiting_.size()) < max_depth_;
  }

  /// REQUIRES: has_room(), except when restoring a copied queue (then
  /// `now` is the waiter's own arrival, which gives its deadline back).
  /// Stands behind every waiter of its level (r.priority: the level it
  /// waits at, as the engine resolved it) or higher. Returns true when it
  /// stands at the head.
  bool push(const request& r, usec now, std::uint64_t tag) {
    usec deadline = max_wait_ == never ? never : now + max_wait_;
    if (waiting_.empty() || waiting_.back().req.priority >= r.priority) {  // the usual case
      waiting_.push_back(entry{r, now, deadline, tag});
      return waiting_.size() == 1;
    }
    auto at = std::prev(waiting_.end());
    while (at != waiting_.begin() && std::prev(at)->req.priority < r.priority) --at;
    ranked_ = true;  // arrival order no longer holds
    bool first = at == waiting_.begin();
    waiting_.insert(at, entry{r, now, deadline, tag});
    return first;
  }

  bool empty() const { return waiting_.empty(); }
  std::size_t depth() const { return waiting_.size(); }
  const entry& head() const { return waiting_.front(); }
  /// The waiter that arrived first (then by seq): the next to time out
  /// (one max_wait per queue). REQUIRES: !empty().
  const entry& oldest() const { return waiting_[oldest_index()]; }
  /// Every waiter, head first.
  const std::deque<entry>& entries() const { return waiting_; }
  entry pop() { return take(waiting_.begin()); }
  entry pop_oldest() { return take(waiting_.begin() + static_cast<std::ptrdiff_t>(oldest_index())); }

  /// Removes a waiter by tag wherever it stands (a client that left).
  /// Returns false when no waiter has that tag.
  bool remove(std::uint64_t tag) {
    for (auto i = waiting_.begin(); i != waiting_.end(); ++i)
      if (i->tag == tag) {
        take(i);
        return true;
      }
    return false;
  }

  std::int64_t max_depth() const { return max_depth_; }
  usec max_wait() const { return max_wait_; }

 private:
  entry take(std::deque<entry>::iterator i) {
    entry e = *i;
    waiting_.erase(i);
    if (waiting_.empty()) ranked_ = false;
    return e;
  }
  // The head, unless levels put a later arrival ahead of an earlier one
  // (then a scan: queues are short, and only plans with levels pay it).
  std::size_t oldest_index() const {
    if (!ranked_) return 0;
    std::size_t best = 0;
    for (std::size_t i = 1; i < waiting_.size(); ++i)
      if (waiting_[i].arrival < waiting_[best].arrival ||
          (waiting_[i].arrival == waiting_[best].arrival && waiting_[i].req.seq < waiting_[best].req.seq))
        best = i;
    return best;
  }

  std::int64_t max_depth_;
  usec max_wait_;
  std::deque<entry> waiting_;
  bool ranked_ = false;  ///< a waiter stands ahead of one that arrived before it
};

}  // namespace usher::policies

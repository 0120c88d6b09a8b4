#pragma once
/// A FIFO waiting room in front of an account's pools (the streams family).
///
/// A request that no pool can take right now waits here, in arrival order,
/// for at most max_wait. Only the head may be admitted (strict FIFO: a later
/// request that would fit does not overtake a blocked head). A request whose
/// wait reaches max_wait before it is admitted times out (408); one arriving
/// to a queue at max_depth is refused (429).
///
/// Times are integer microseconds. Owned by one engine; not thread-safe.

#include <cstdint>
#include <deque>

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
  void push(const request& r, usec now, std::uint64_t tag) {
    usec deadline = max_wait_ == never ? never : now + max_wait_;
    waiting_.push_back(entry{r, now, deadline, tag});
  }

  bool empty() const { return waiting_.empty(); }
  std::size_t depth() const { return waiting_.size(); }
  const entry& head() const { return waiting_.front(); }
  /// Every waiter, head first.
  const std::deque<entry>& entries() const { return waiting_; }
  entry pop() {
    entry e = waiting_.front();
    waiting_.pop_front();
    return e;
  }

  /// Removes a waiter by tag wherever it stands (a client that left).
  /// Returns false when no waiter has that tag.
  bool remove(std::uint64_t tag) {
    for (auto i = waiting_.begin(); i != waiting_.end(); ++i)
      if (i->tag == tag) {
        waiting_.erase(i);
        return true;
      }
    return false;
  }

  std::int64_t max_depth() const { return max_depth_; }
  usec max_wait() const { return max_wait_; }

 private:
  std::int64_t max_depth_;
  usec max_wait_;
  std::deque<entry> waiting_;
};

}  // namespace usher::policies

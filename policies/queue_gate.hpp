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
#include <vector>

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
    return max_depth_ == unbounded || static_cast<std::int64_t>(size_) < max_depth_;
  }

  /// REQUIRES: has_room(), except when restoring a copied queue (then
  /// `now` is the waiter's own arrival, which gives its deadline back).
  /// Waits at `level` (as the engine resolved it; kept in the entry's
  /// req.priority), behind every waiter of that level or higher. Returns
  /// true when it stands at the head.
  bool push(const request& r, std::int16_t level, usec now, std::uint64_t tag) {
    usec deadline = max_wait_ == never ? never : now + max_wait_;
    std::size_t b = 0;
    while (b < levels_.size() && levels_[b].level > level) ++b;
    if (b == levels_.size() || levels_[b].level != level) {
      if (size_ == 0 && levels_.size() == 1) {
        b = 0;  // the idle lone level (kept to spare an allocation) takes this one
        levels_[0].level = level;
      } else {
        levels_.insert(levels_.begin() + static_cast<std::ptrdiff_t>(b), level_fifo{level, {}});
      }
    }
    levels_[b].fifo.push_back(entry{r, now, deadline, tag});
    levels_[b].fifo.back().req.priority = level;
    ++size_;
    return b == 0 && levels_[0].fifo.size() == 1;
  }

  bool empty() const { return size_ == 0; }
  std::size_t depth() const { return size_; }
  /// The next to be admitted. REQUIRES: !empty().
  const entry& head() const { return levels_.front().fifo.front(); }
  /// The waiter that arrived first (then by seq): the next to time out
  /// (one max_wait per queue). REQUIRES: !empty().
  const entry& oldest() const { return levels_[oldest_level()].fifo.front(); }
  /// Calls visit(entry) for every waiter, head first.
  template <class Visit>
  void each(Visit&& visit) const {
    for (const auto& l : levels_)
      for (const auto& e : l.fifo) visit(e);
  }
  entry pop() { return pop_front_of(0); }
  entry pop_oldest() { return pop_front_of(oldest_level()); }

  /// Removes a waiter by tag wherever it stands (a client that left).
  /// Returns false when no waiter has that tag.
  bool remove(std::uint64_t tag) {
    for (std::size_t b = 0; b < levels_.size(); ++b) {
      auto& fifo = levels_[b].fifo;
      for (auto i = fifo.begin(); i != fifo.end(); ++i)
        if (i->tag == tag) {
          fifo.erase(i);
          left(b);
          return true;
        }
    }
    return false;
  }

  std::int64_t max_depth() const { return max_depth_; }
  usec max_wait() const { return max_wait_; }

 private:
  // The waiters of one level, in arrival order.
  struct level_fifo {
    std::int16_t level;
    std::deque<entry> fifo;
  };

  entry pop_front_of(std::size_t b) {
    auto& fifo = levels_[b].fifo;
    entry e = fifo.front();
    fifo.pop_front();
    left(b);
    return e;
  }
  // A waiter of level b left: drop the level once empty, unless it is the
  // only one (most plans have one level; its queue empties all the time).
  void left(std::size_t b) {
    --size_;
    if (levels_[b].fifo.empty() && levels_.size() > 1)
      levels_.erase(levels_.begin() + static_cast<std::ptrdiff_t>(b));
  }
  // Each level waits in arrival order, so the oldest is some level's
  // first: one look per level waiting, however deep the queue.
  std::size_t oldest_level() const {
    std::size_t best = 0;
    for (std::size_t b = 1; b < levels_.size(); ++b) {
      const entry& x = levels_[b].fifo.front();
      const entry& y = levels_[best].fifo.front();
      if (x.arrival < y.arrival || (x.arrival == y.arrival && x.req.seq < y.req.seq)) best = b;
    }
    return best;
  }

  std::int64_t max_depth_;
  usec max_wait_;
  /// Highest level first; none empty, but a lone one may be.
  std::vector<level_fifo> levels_;
  std::size_t size_ = 0;
};

}  // namespace usher::policies

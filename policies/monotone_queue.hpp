#pragma once
/// A priority queue for timers: integer keys (times) that mostly arrive at
/// or after the last one popped. Those go into a radix heap (Ahuja, Mehlhorn,
/// Orlin and Tarjan, 1990): an entry waits in the bucket of the highest bit
/// in which its key differs from the last key popped, and a pop that finds
/// bucket 0 empty moves the lowest bucket's entries down, each entry moving a
/// few times in all. Pushing is an append and popping touches one bucket, so
/// a timer costs no sift path of a binary heap over every pending timer (the
/// binary heap this replaced in the replay's peak sweep was a seventh of its
/// time). A key below the last one popped waits in a small binary heap
/// instead, so any order of pushes is correct and only the common one fast.
///
/// Entries of one key come out in `TieLess` order of their values (a strict
/// weak order), so the queue pops exactly what a binary heap ordered by
/// (key, TieLess) pops: same outputs, and top() is always what pop() takes.

#include <algorithm>
#include <cstdint>
#include <functional>
#include <vector>

namespace usher::policies {

template <class Value, class TieLess = std::less<Value>>
class monotone_queue {
 public:
  [[nodiscard]] bool empty() const { return size_ == 0; }
  [[nodiscard]] std::size_t size() const { return size_; }

  void push(std::uint64_t key, const Value& v) {
    ++size_;
    if (key < last_) {
      late_.push_back({key, v});
      std::push_heap(late_.begin(), late_.end(), later{});
      return;
    }
    place({key, v});
  }

  /// The least key; not empty().
  [[nodiscard]] std::uint64_t top_key() const { return least().key; }
  /// A value of the least key (the least in TieLess order); not empty().
  [[nodiscard]] const Value& top() const { return least().value; }

  /// Removes top().
  void pop() {
    --size_;
    if (!late_.empty() && (radix_empty() || before(late_.front(), radix_least()))) {
      std::pop_heap(late_.begin(), late_.end(), later{});
      late_.pop_back();
      return;
    }
    if (buckets_[0].empty()) settle();
    std::pop_heap(buckets_[0].begin(), buckets_[0].end(), later{});
    buckets_[0].pop_back();
  }

 private:
  struct entry {
    std::uint64_t key;
    Value value;
  };
  static bool before(const entry& a, const entry& b) {
    return a.key != b.key ? a.key < b.key : TieLess{}(a.value, b.value);
  }
  struct later {
    bool operator()(const entry& a, const entry& b) const { return before(b, a); }
  };

  std::size_t bucket_of(std::uint64_t key) const {
    return key == last_ ? 0 : 64 - static_cast<std::size_t>(__builtin_clzll(key ^ last_));
  }
  static std::uint64_t bit(std::size_t bucket) { return std::uint64_t{1} << (bucket - 1); }
  std::size_t lowest_bucket() const { return 1 + static_cast<std::size_t>(__builtin_ctzll(used_)); }
  bool radix_empty() const { return buckets_[0].empty() && used_ == 0; }

  // The least entry of the radix part: bucket 0's heap's top, else the
  // lowest bucket's least (kept as entries arrive, so looking moves nothing).
  const entry& radix_least() const {
    return buckets_[0].empty() ? least_[lowest_bucket()] : buckets_[0].front();
  }
  const entry& least() const {
    if (late_.empty()) return radix_least();
    if (radix_empty()) return late_.front();
    const entry& r = radix_least();
    return before(late_.front(), r) ? late_.front() : r;
  }

  void place(const entry& e) {
    auto b = bucket_of(e.key);
    if (b == 0) {
      buckets_[0].push_back(e);
      std::push_heap(buckets_[0].begin(), buckets_[0].end(), later{});
      return;
    }
    if (!(used_ & bit(b)) || before(e, least_[b])) least_[b] = e;
    used_ |= bit(b);
    buckets_[b].push_back(e);
  }

  // Bucket 0 is empty: the lowest bucket's least key becomes the last
  // popped, and its entries, differing from it in lower bits only, move to
  // lower buckets (those of that key to bucket 0).
  void settle() {
    auto b = lowest_bucket();
    last_ = least_[b].key;
    used_ &= ~bit(b);
    for (auto& e : buckets_[b]) place(e);
    buckets_[b].clear();
  }

  std::vector<entry> buckets_[65];  ///< 0: a heap of the entries of key last_
  entry least_[65] = {};            ///< the least entry of each used bucket
  std::uint64_t used_ = 0;          ///< bit b - 1: bucket b (1 to 64) holds entries
  std::vector<entry> late_;         ///< a heap of keys pushed below last_
  std::size_t size_ = 0;
  std::uint64_t last_ = 0;
};

}  // namespace usher::policies

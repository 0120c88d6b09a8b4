#pragma once
/// Quantiles of non-negative integer values (waits in microseconds) in
/// bounded memory. The first `exact_limit` values are kept as they are, so
/// small runs report exact percentiles; past that, values go into a
/// log-linear histogram: exact below 128, then 64 buckets per power of two,
/// so a percentile is within 1.6 % of the true value (and never above the
/// largest value seen). Memory grows with the largest value (about 11 KB for
/// a minute in microseconds), never with the count, which is what lets a
/// 10M-row trace run in bounded memory. Merging is exact and order-free, so
/// per-account results add up to totals deterministically.

#include <algorithm>
#include <cstdint>
#include <vector>

namespace usher::policies {

class wait_histogram {
 public:
  static constexpr std::size_t exact_limit = 1024;

  void add(std::int64_t v) {
    if (v < 0) v = 0;
    max_ = std::max(max_, v);
    ++count_;
    if (bucketed_) {
      bucket(v);
      return;
    }
    exact_.push_back(v);
    if (exact_.size() > exact_limit) spill();
  }

  void merge(const wait_histogram& o) {
    max_ = std::max(max_, o.max_);
    count_ += o.count_;
    if (!bucketed_ && !o.bucketed_ && exact_.size() + o.exact_.size() <= exact_limit) {
      exact_.insert(exact_.end(), o.exact_.begin(), o.exact_.end());
      return;
    }
    spill();
    for (auto v : o.exact_) bucket(v);
    if (o.counts_.size() > counts_.size()) counts_.resize(o.counts_.size(), 0);
    for (std::size_t i = 0; i < o.counts_.size(); ++i) counts_[i] += o.counts_[i];
  }

  std::uint64_t count() const { return count_; }

  /// The q-quantile (0 < q <= 1): the value of the ceil(q * count)-th
  /// smallest sample, as its bucket's midpoint. 0 when empty.
  std::int64_t quantile(double q) const {
    if (count_ == 0) return 0;
    auto rank = static_cast<std::uint64_t>(q * static_cast<double>(count_) + 0.999999999);
    rank = std::clamp<std::uint64_t>(rank, 1, count_);
    if (!bucketed_) {
      auto sorted = exact_;
      std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(rank - 1),
                       sorted.end());
      return sorted[rank - 1];
    }
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= rank) return std::min(midpoint(i), max_);
    }
    return max_;
  }

  std::int64_t max() const { return max_; }

  static std::size_t index_of(std::int64_t v) {
    auto u = static_cast<std::uint64_t>(v);
    if (u < 128) return static_cast<std::size_t>(u);
    int msb = 63 - __builtin_clzll(u);
    int shift = msb - 6;
    return 128 + static_cast<std::size_t>(shift - 1) * 64 + static_cast<std::size_t>((u >> shift) - 64);
  }

  static std::int64_t lower_bound(std::size_t i) {
    if (i < 128) return static_cast<std::int64_t>(i);
    std::size_t shift = (i - 128) / 64 + 1;
    std::uint64_t top = (i - 128) % 64 + 64;
    return static_cast<std::int64_t>(top << shift);
  }

  static std::int64_t midpoint(std::size_t i) {
    if (i < 128) return static_cast<std::int64_t>(i);
    std::size_t shift = (i - 128) / 64 + 1;
    return lower_bound(i) + (static_cast<std::int64_t>(1) << shift) / 2;
  }

  /// Serialization hook (CAF's inspector protocol; no CAF dependency here).
  template <class Inspector>
  friend typename Inspector::result_type inspect(Inspector& f, wait_histogram& x) {
    return f(x.exact_, x.counts_, x.count_, x.max_, x.bucketed_);
  }

 private:
  void bucket(std::int64_t v) {
    auto i = index_of(v);
    if (i >= counts_.size()) counts_.resize(i + 1, 0);
    ++counts_[i];
  }
  void spill() {
    if (bucketed_) return;
    bucketed_ = true;
    for (auto v : exact_) bucket(v);
    exact_.clear();
    exact_.shrink_to_fit();
  }

  std::vector<std::int64_t> exact_;
  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  std::int64_t max_ = 0;
  bool bucketed_ = false;
};

}  // namespace usher::policies

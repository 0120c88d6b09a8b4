#include "actors/detail/outcome_order.hpp"

namespace usher::actors::detail {

using policies::outcome;

void outcome_order::expect(std::uint64_t seq) {
  if (tail_ - head_ == slots_.size()) grow();
  seqs_[tail_ & mask_] = seq;
  filled_[tail_ & mask_] = 0;
  ++tail_;
}

bool outcome_order::add(const outcome& o) {
  if (o.seq & policies::generated_seq_bit) {
    generated_.push(o);
    return true;
  }
  auto place = place_of(o.seq);
  if (place == tail_ || filled_[place & mask_]) return false;
  slot(place) = o;
  filled_[place & mask_] = 1;
  return true;
}

std::uint64_t outcome_order::place_of(std::uint64_t seq) const {
  if (head_ != tail_) {
    std::uint64_t first = seqs_[head_ & mask_];
    // Seqs are read in increasing order: without gaps, distance is place.
    if (seq >= first && seq - first < tail_ - head_ && seqs_[(head_ + seq - first) & mask_] == seq)
      return head_ + (seq - first);
    std::uint64_t lo = head_, hi = tail_;
    while (lo < hi) {
      auto mid = lo + (hi - lo) / 2;
      if (seqs_[mid & mask_] < seq)
        lo = mid + 1;
      else
        hi = mid;
    }
    if (lo != tail_ && seqs_[lo & mask_] == seq) return lo;
  }
  return tail_;
}

void outcome_order::grow() {
  std::size_t size = slots_.empty() ? 1024 : slots_.size() * 2;
  std::vector<outcome> slots(size);
  std::vector<std::uint64_t> seqs(size);
  std::vector<std::uint8_t> filled(size);
  std::uint64_t mask = size - 1;
  for (auto p = head_; p != tail_; ++p) {
    slots[p & mask] = slots_[p & mask_];
    seqs[p & mask] = seqs_[p & mask_];
    filled[p & mask] = filled_[p & mask_];
  }
  slots_ = std::move(slots);
  seqs_ = std::move(seqs);
  filled_ = std::move(filled);
  mask_ = mask;
}

}  // namespace usher::actors::detail

#pragma once
/// A pool of capacity units: concurrent streams, concurrency slots or cost
/// units. A request fits when used + cost <= capacity; an unlimited pool takes
/// everything and still counts what it holds (for usage reports).
///
/// Invariant: 0 <= used <= capacity (when limited), except after an adoption:
/// a lease that exists already (one the live node adopts after a restart) is
/// counted even when it does not fit, and then nothing fits until used is
/// back under capacity, and after an adaptive limit lowered the capacity
/// (set_capacity). Plain value; owned by one engine, not thread-safe.

#include <cstdint>

namespace usher::policies {

class pool_gate {
 public:
  static constexpr std::int64_t unlimited = -1;

  /// REQUIRES: capacity >= 0 or capacity == unlimited.
  explicit pool_gate(std::int64_t capacity = unlimited) : capacity_(capacity) {}

  [[nodiscard]] bool fits(std::int64_t cost) const {
    return capacity_ == unlimited || used_ + cost <= capacity_;
  }

  /// REQUIRES: fits(cost), except for a lease that exists already
  /// (engine::adopt), which is counted even when used passes capacity.
  void charge(std::int64_t cost) {
    used_ += cost;
    ++holders_;
  }

  /// REQUIRES: `cost` was charged before and not yet released.
  void release(std::int64_t cost) {
    used_ -= cost;
    --holders_;
  }

  /// An adaptive limit moves the capacity (engine::release); what is held
  /// stays, and nothing new fits until used is back under it.
  void set_capacity(std::int64_t capacity) { capacity_ = capacity; }

  std::int64_t capacity() const { return capacity_; }
  bool limited() const { return capacity_ != unlimited; }
  std::int64_t used() const { return used_; }
  std::int64_t holders() const { return holders_; }

 private:
  std::int64_t capacity_;
  std::int64_t used_ = 0;
  std::int64_t holders_ = 0;
};

}  // namespace usher::policies

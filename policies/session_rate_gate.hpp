#pragma once
/// A cap on NEW sessions per window (the session-rate family), with the seed's
/// autoscaling: there is no cap on concurrent sessions, only on how many may
/// open in one window (60 s by default).
///
/// Windows are aligned to time 0. When a window ends, with `opened` sessions in
/// it and cap `c` in force:
///   opened * 100 >= c * scale_up_at      -> c += max(1, c * scale_up_pct / 100)
///   opened * 100 <  c * scale_down_below -> c -= max(1, c * scale_down_pct / 100),
///                                           never below the default
/// Integer arithmetic throughout, so both clocks agree exactly. The seed leaves
/// the step down open; scale_down_pct is that choice (docs/PLANS.md).
///
/// Owned by one engine; not thread-safe. Times are microseconds.

#include <cstdint>

#include "policies/time.hpp"

namespace usher::policies {

struct session_rate_params {
  std::int64_t per_window = 100;  ///< the default cap (sessions_per_minute)
  usec window = seconds(60);
  std::int64_t scale_up_at = 70;       ///< percent of cap
  std::int64_t scale_up_pct = 10;
  std::int64_t scale_down_below = 50;  ///< percent of cap
  std::int64_t scale_down_pct = 10;
};

class session_rate_gate {
 public:
  /// REQUIRES: p.per_window >= 1, p.window > 0.
  explicit session_rate_gate(const session_rate_params& p) : p_(p), cap_(p.per_window) {}

  /// Whether a session may open at `now`. REQUIRES: now never decreases.
  [[nodiscard]] bool fits(usec now) {
    roll(now);
    return opened_ < cap_;
  }

  /// REQUIRES: fits(now) just returned true.
  void charge() { ++opened_; }

  /// The cap in force at `now` (rolls windows forward first).
  std::int64_t cap(usec now) {
    roll(now);
    return cap_;
  }
  std::int64_t opened_in_window() const { return opened_; }
  /// When the current window ends (a refused session may fit then).
  usec window_end() const { return window_end_; }

  /// The whole state, to copy an account to another ledger (policies/ledger.hpp).
  struct state {
    std::int64_t cap = 0;
    std::int64_t opened = 0;
    usec window_end = 0;
  };
  state save() const { return state{cap_, opened_, window_end_}; }
  void restore(const state& s) {
    cap_ = s.cap;
    opened_ = s.opened;
    window_end_ = s.window_end;
  }

 private:
  void roll(usec now) {
    while (now >= window_end_) {
      if (opened_ == 0 && cap_ == p_.per_window) {
        // Idle at the default: nothing changes until `now`; skip ahead.
        window_end_ += (now - window_end_) / p_.window * p_.window + p_.window;
        break;
      }
      if (opened_ * 100 >= cap_ * p_.scale_up_at) {
        cap_ += step(p_.scale_up_pct);
      } else if (opened_ * 100 < cap_ * p_.scale_down_below) {
        cap_ -= step(p_.scale_down_pct);
        if (cap_ < p_.per_window) cap_ = p_.per_window;
      }
      opened_ = 0;
      window_end_ += p_.window;
    }
  }
  std::int64_t step(std::int64_t pct) const {
    auto s = cap_ * pct / 100;
    return s < 1 ? 1 : s;
  }

  session_rate_params p_;
  std::int64_t cap_;
  std::int64_t opened_ = 0;
  usec window_end_ = p_.window;
};

}  // namespace usher::policies

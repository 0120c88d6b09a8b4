#pragma once
/// Requests per minute and tokens per minute (the way most AI APIs sell
/// access): two token buckets per account, each refilled continuously at its
/// rate and holding at most `burst` worth of it (a minute by default, so a
/// fresh account may send a minute's worth at once). A request fits when
/// both buckets hold enough: one request, and its tokens (input plus output,
/// from the trace's columns or the admit's `tokens`); it is then charged in
/// both. Issue #13, docs/PLANS.md "Rate limits".
///
/// Exact integer arithmetic, so both clocks agree: a bucket's level is kept
/// in units x microseconds-per-minute (a level of 60,000,000 is one unit),
/// refilled by elapsed microseconds x the per-minute rate.
///
/// Owned by one engine; not thread-safe. Times are microseconds.

#include <algorithm>
#include <cstdint>

#include "policies/request.hpp"
#include "policies/time.hpp"

namespace usher::policies {

struct rate_limit_params {
  std::int64_t requests_per_minute = -1;  ///< -1: no request rate
  std::int64_t tokens_per_minute = -1;    ///< -1: no token rate
  usec burst = seconds(60);               ///< a bucket holds this long's worth of its rate

  bool limited() const { return requests_per_minute >= 0 || tokens_per_minute >= 0; }
};

/// The most a rate may be per minute, and a request's tokens: with a burst
/// of at most an hour, levels stay below 2^62.
inline constexpr std::int64_t max_rate_per_minute = 1'000'000'000;
inline constexpr std::int64_t max_request_tokens = 1'000'000'000;
inline constexpr usec max_rate_burst = seconds(3600);

class rate_limit_gate {
 public:
  /// Both buckets start full. REQUIRES: rates within [0, max_rate_per_minute],
  /// 0 < burst <= max_rate_burst.
  explicit rate_limit_gate(const rate_limit_params& p)
      : requests_(p.requests_per_minute, p.burst), tokens_(p.tokens_per_minute, p.burst) {}

  /// reason::none when a request of `tokens` fits at `now`, else which
  /// bucket refuses (request_rate first). REQUIRES: now never decreases.
  [[nodiscard]] reason fits(std::int64_t tokens, usec now) {
    requests_.refill(now);
    tokens_.refill(now);
    if (!requests_.holds(1)) return reason::request_rate;
    if (!tokens_.holds(tokens)) return reason::token_rate;
    return reason::none;
  }

  /// REQUIRES: fits(tokens, now) just returned reason::none.
  void charge(std::int64_t tokens) {
    requests_.take(1);
    tokens_.take(tokens);
  }

  /// How long from `now` until a request of `tokens` fits (0: it fits now;
  /// `never` when it is bigger than a full bucket). Call after fits().
  usec wait_for(std::int64_t tokens) const {
    return std::max(requests_.wait_for(1), tokens_.wait_for(tokens));
  }

  /// What is left now, in whole units (-1: that rate is not limited).
  std::int64_t remaining_requests() const { return requests_.whole(); }
  std::int64_t remaining_tokens() const { return tokens_.whole(); }

  /// What a bucket of `per_minute` with `burst` holds at `level` (scaled, as
  /// in state): whole units left, and microseconds until it is full again.
  static std::int64_t units_in(std::int64_t level) { return level / bucket::scale; }
  static usec until_full(std::int64_t per_minute, usec burst, std::int64_t level) {
    return (per_minute * burst - level + per_minute - 1) / per_minute;
  }

  /// The whole state, to copy an account to another ledger (policies/ledger.hpp).
  struct state {
    std::int64_t requests = 0;  ///< bucket levels, scaled
    std::int64_t tokens = 0;
    usec at = 0;                ///< when they were last refilled
  };
  state save() const { return state{requests_.level, tokens_.level, requests_.at}; }
  /// A state saved under another plan (a reload) is cut to this one's buckets.
  void restore(const state& s) {
    requests_.level = std::min(s.requests, requests_.cap);
    tokens_.level = std::min(s.tokens, tokens_.cap);
    requests_.at = tokens_.at = s.at;
  }

 private:
  struct bucket {
    static constexpr std::int64_t scale = 60'000'000;  ///< microseconds per minute

    bucket(std::int64_t per_minute, usec burst)
        : rate(per_minute), burst(burst), cap(per_minute < 0 ? 0 : per_minute * burst), level(cap) {}
    std::int64_t rate;  ///< per minute; -1: unlimited
    usec burst;
    std::int64_t cap;   ///< scaled
    std::int64_t level; ///< scaled
    usec at = 0;

    void refill(usec now) {
      if (rate < 0 || now <= at) return;
      usec elapsed = std::min(now - at, burst);  // a burst's time fills any bucket
      level = std::min(cap, level + elapsed * rate);
      at = now;
    }
    bool holds(std::int64_t units) const { return rate < 0 || level >= units * scale; }
    void take(std::int64_t units) {
      if (rate >= 0) level -= units * scale;
    }
    usec wait_for(std::int64_t units) const {
      if (rate < 0 || level >= units * scale) return 0;
      if (units * scale > cap || rate == 0) return never;
      return (units * scale - level + rate - 1) / rate;  // rounded up: it fits then
    }
    std::int64_t whole() const { return rate < 0 ? -1 : level / scale; }
  };

  bucket requests_, tokens_;
};

}  // namespace usher::policies

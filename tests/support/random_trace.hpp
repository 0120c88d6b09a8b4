#pragma once
/// Test support: seeded random numbers that give the same values with every
/// standard library, and Poisson traces built from them.
///
/// std::*_distribution are not specified bit for bit (libstdc++ and libc++
/// give different exponentials for one engine state), so tests draw only raw
/// std::mt19937_64 outputs, which the standard does fix, and shape them here.

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "policies/plan.hpp"
#include "policies/records.hpp"

namespace usher::testing {

/// A uniform double in [0, 1): the engine's top 53 bits.
inline double uniform01(std::mt19937_64& rng) {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

/// An integer in [lo, hi]. The modulo bias (< 2^-50 for these small ranges)
/// does not matter to a test; being identical everywhere does.
inline std::int64_t uniform_int(std::mt19937_64& rng, std::int64_t lo, std::int64_t hi) {
  return lo + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(hi - lo + 1));
}

/// True with probability `p`.
inline bool chance(std::mt19937_64& rng, double p) { return uniform01(rng) < p; }

/// An exponential variate of mean `mean`: -log(1 - u) * mean, finite since u < 1.
inline double exponential(std::mt19937_64& rng, double mean) {
  return -std::log(1.0 - uniform01(rng)) * mean;
}

/// A Poisson trace of one account ("a", id 0, default profile): `n` plain
/// requests with exponential gaps of mean 1 / `rate_per_s` and exponential
/// durations of mean `mean_duration_s`, in whole microseconds (times are
/// summed in seconds, then rounded, so rounding does not accumulate).
/// Sequence numbers are 0..n-1 in arrival order.
inline std::vector<policies::arrival> poisson_trace(const policies::plan& p, std::uint64_t seed,
                                                    std::size_t n, double rate_per_s,
                                                    double mean_duration_s) {
  std::mt19937_64 rng(seed);
  std::vector<policies::arrival> rows;
  rows.reserve(n);
  const std::uint16_t profile = p.profile_of("a");
  double t = 0;
  for (std::size_t i = 0; i < n; ++i) {
    t += exponential(rng, 1.0 / rate_per_s);
    policies::arrival a;
    a.req.seq = i;
    a.req.account = 0;
    a.req.what = policies::kind::request;
    a.profile = profile;
    a.req.cost = p.cost_of(profile, policies::no_id, -1);
    a.at = static_cast<policies::usec>(std::llround(t * 1e6));
    a.duration = static_cast<policies::usec>(std::llround(exponential(rng, mean_duration_s) * 1e6));
    rows.push_back(a);
  }
  return rows;
}

}  // namespace usher::testing

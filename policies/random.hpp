#pragma once
/// Seeded random draws for everything usher generates (client workloads,
/// trace converters and generators), written out here so a seed gives the
/// same numbers on every machine: the engine is
/// std::mt19937_64, whose output the standard fixes, while the standard
/// library's distributions (std::gamma_distribution, ...) may differ between
/// library versions. Every function takes the engine by reference and
/// consumes a documented number of draws, so callers can reason about
/// streams. Plain functions and one small table; not thread-safe per engine.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string_view>
#include <utility>
#include <vector>

namespace usher::policies {

using rng = std::mt19937_64;

/// A well-mixed 64-bit value from `x` (splitmix64's finalizer): for deriving
/// independent seeds from (seed, stream, index) tuples.
[[nodiscard]] inline std::uint64_t mix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/// A seed for substream (`a`, `b`, `c`) of `seed`: the same tuple gives the
/// same stream whatever else a run draws, so a filtered conversion is a
/// subset of the unfiltered one.
[[nodiscard]] inline std::uint64_t substream_seed(std::uint64_t seed, std::uint64_t a,
                                                  std::uint64_t b = 0, std::uint64_t c = 0) {
  return mix64(mix64(mix64(mix64(seed) ^ a) ^ b) ^ c);
}

/// FNV-1a of a name: a stable (cross-platform) hash for substream ids.
[[nodiscard]] inline std::uint64_t stable_hash(std::string_view s) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

/// Uniform in [0, 1) with 53 random bits (one draw).
[[nodiscard]] inline double uniform01(rng& g) {
  return static_cast<double>(g() >> 11) * (1.0 / 9007199254740992.0);
}

/// The same from a 64-bit value (for hash-derived draws).
[[nodiscard]] inline double uniform01(std::uint64_t bits) {
  return static_cast<double>(bits >> 11) * (1.0 / 9007199254740992.0);
}

/// Uniform integer in [0, n), without modulo bias (one draw, rarely more).
/// REQUIRES: n > 0.
[[nodiscard]] inline std::uint64_t uniform_below(rng& g, std::uint64_t n) {
  std::uint64_t limit = ~std::uint64_t{0} - (~std::uint64_t{0} % n);
  for (;;) {
    std::uint64_t x = g();
    if (x < limit) return x % n;
  }
}

/// Exponential with the given mean (one draw).
[[nodiscard]] inline double exponential(rng& g, double mean) {
  return -mean * std::log(1.0 - uniform01(g));
}

/// Standard normal, Marsaglia's polar method (two or more draws; no trig).
[[nodiscard]] inline double standard_normal(rng& g) {
  for (;;) {
    double u = 2.0 * uniform01(g) - 1.0, v = 2.0 * uniform01(g) - 1.0;
    double s = u * u + v * v;
    if (s > 0.0 && s < 1.0) return u * std::sqrt(-2.0 * std::log(s) / s);
  }
}

/// Gamma(shape, scale), mean shape * scale: Marsaglia and Tsang (2000); for
/// shape < 1 a Gamma(shape + 1) draw times U^(1/shape), computed in logs so
/// very small shapes (ServeGen has 0.06) underflow to 0 only at the end.
/// REQUIRES: shape > 0, scale > 0.
[[nodiscard]] inline double gamma(rng& g, double shape, double scale) {
  double boost_log = 0.0;
  if (shape < 1.0) {
    boost_log = std::log(1.0 - uniform01(g)) / shape;
    shape += 1.0;
  }
  const double d = shape - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    double x = standard_normal(g), v = 1.0 + c * x;
    if (v <= 0.0) continue;
    v = v * v * v;
    double u = 1.0 - uniform01(g);  // (0, 1]
    if (u < 1.0 - 0.0331 * x * x * x * x || std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v)))
      return scale * std::exp(std::log(d * v) + boost_log);
  }
}

/// Weibull(shape k, scale), as scipy's weibull_min(c=k, scale) (one draw).
/// REQUIRES: shape > 0, scale > 0.
[[nodiscard]] inline double weibull(rng& g, double shape, double scale) {
  return scale * std::pow(-std::log(1.0 - uniform01(g)), 1.0 / shape);
}

/// Log-normal with the given mean and sigma of the underlying normal.
[[nodiscard]] inline double lognormal(rng& g, double mean, double sigma) {
  return mean * std::exp(sigma * standard_normal(g) - 0.5 * sigma * sigma);
}

/// Zipf over ranks 0..n-1: P(k) proportional to 1 / (k + 1)^exponent. Built
/// once (O(n) memory), then each pick is a binary search.
class zipf_table {
 public:
  /// REQUIRES: n > 0, exponent >= 0 (0 is uniform).
  zipf_table(std::uint32_t n, double exponent) : cdf_(n) {
    double sum = 0.0;
    for (std::uint32_t k = 0; k < n; ++k) cdf_[k] = sum += std::pow(k + 1.0, -exponent);
    for (auto& c : cdf_) c /= sum;
    cdf_.back() = 1.0;
  }
  /// The rank for a uniform u in [0, 1).
  [[nodiscard]] std::uint32_t pick(double u) const {
    auto i = std::upper_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin();
    return static_cast<std::uint32_t>(
        std::min<std::ptrdiff_t>(i, static_cast<std::ptrdiff_t>(cdf_.size()) - 1));
  }
  [[nodiscard]] std::uint32_t operator()(rng& g) const { return pick(uniform01(g)); }
  [[nodiscard]] std::uint32_t size() const { return static_cast<std::uint32_t>(cdf_.size()); }

 private:
  std::vector<double> cdf_;
};

/// The inverse of a piecewise-linear CDF given as (probability, value)
/// points with increasing probabilities from 0 to 1: the value at u.
[[nodiscard]] inline double piecewise_linear_quantile(
    const std::vector<std::pair<double, double>>& points, double u) {
  for (std::size_t i = 1; i < points.size(); ++i) {
    if (u <= points[i].first || i + 1 == points.size()) {
      auto [p0, v0] = points[i - 1];
      auto [p1, v1] = points[i];
      double w = p1 > p0 ? (u - p0) / (p1 - p0) : 1.0;
      return v0 + std::clamp(w, 0.0, 1.0) * (v1 - v0);
    }
  }
  return points.empty() ? 0.0 : points.front().second;
}

}  // namespace usher::policies

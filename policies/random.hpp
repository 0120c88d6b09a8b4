#pragma once
/// Seeded random draws that give the same numbers with every standard library:
/// std::mt19937_64 is specified exactly, but std::*_distribution is not, so
/// usher draws from it with its own formulas. Everything generated (workloads,
/// converted traces) is deterministic by seed through this one header.

#include <cmath>
#include <cstdint>
#include <random>
#include <string_view>

namespace usher::policies {

class random_source {
 public:
  explicit random_source(std::uint64_t seed) : engine_(seed) {}

  /// Seeds a stream from a base seed and a name (an account, a client), so
  /// each stream is independent of how many others exist or which actor
  /// draws from it. FNV-1a over the name, mixed with the seed.
  static random_source for_stream(std::uint64_t seed, std::string_view name) {
    std::uint64_t h = 1469598103934665603ull ^ (seed * 0x9E3779B97F4A7C15ull);
    for (unsigned char c : name) {
      h ^= c;
      h *= 1099511628211ull;
    }
    return random_source(h);
  }

  /// Uniform in [0, 1): 53 random bits.
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

  /// Exponential with the given mean (> 0).
  double exponential(double mean) { return -std::log1p(-uniform()) * mean; }

  /// Standard normal (Box-Muller; one value per call, simple and exact enough).
  double normal() {
    double u1 = uniform();
    double u2 = uniform();
    return std::sqrt(-2.0 * std::log1p(-u1)) * std::cos(2.0 * M_PI * u2);
  }

  /// Log-normal with the given mean and coefficient of variation.
  double lognormal(double mean, double cv) {
    double sigma2 = std::log1p(cv * cv);
    double mu = std::log(mean) - sigma2 / 2;
    return std::exp(mu + std::sqrt(sigma2) * normal());
  }

  std::mt19937_64& engine() { return engine_; }

 private:
  std::mt19937_64 engine_;
};

}  // namespace usher::policies

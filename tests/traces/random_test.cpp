// traces/random.hpp: the hand-written distributions have the means and
// shapes they promise, and a seed fixes every draw.
#include "traces/random.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

using namespace usher::traces;

namespace {
template <class Draw>
std::pair<double, double> mean_and_variance(Draw draw, int n) {
  double sum = 0, sq = 0;
  for (int i = 0; i < n; ++i) {
    double x = draw();
    sum += x;
    sq += x * x;
  }
  double mean = sum / n;
  return {mean, sq / n - mean * mean};
}
}  // namespace

TEST_CASE("the same seed gives the same draws and another seed different ones") {
  rng a(7), b(7), c(8);
  for (int i = 0; i < 100; ++i) {
    double x = gamma(a, 0.3, 2.0);
    CHECK(x == gamma(b, 0.3, 2.0));
    (void)gamma(c, 0.3, 2.0);
  }
  CHECK(uniform01(a) != uniform01(c));
  // std::mt19937_64's 10000th output is fixed by the standard.
  rng d;
  d.discard(9999);
  CHECK(d() == 9981545732273789042ULL);
}

TEST_CASE("exponential, gamma, weibull and lognormal draws have their means") {
  rng g(42);
  const int n = 200000;
  SECTION("exponential") {
    auto [m, v] = mean_and_variance([&] { return exponential(g, 3.0); }, n);
    CHECK(m == Approx(3.0).epsilon(0.02));
    CHECK(v == Approx(9.0).epsilon(0.05));
  }
  SECTION("gamma with shape above and below 1") {
    for (double shape : {0.06, 0.5, 1.0, 2.5, 20.0}) {
      INFO("shape " << shape);
      auto [m, v] = mean_and_variance([&] { return gamma(g, shape, 2.0); }, n);
      CHECK(m == Approx(shape * 2.0).epsilon(0.05));
      CHECK(v == Approx(shape * 4.0).epsilon(0.15));
    }
  }
  SECTION("weibull") {
    for (double shape : {0.4, 1.0, 3.0}) {
      INFO("shape " << shape);
      auto [m, v] = mean_and_variance([&] { return weibull(g, shape, 2.0); }, n);
      CHECK(m == Approx(2.0 * std::tgamma(1 + 1 / shape)).epsilon(0.05));
    }
  }
  SECTION("lognormal") {
    auto [m, v] = mean_and_variance([&] { return lognormal(g, 5.0, 0.5); }, n);
    CHECK(m == Approx(5.0).epsilon(0.02));
  }
  SECTION("standard normal") {
    auto [m, v] = mean_and_variance([&] { return standard_normal(g); }, n);
    CHECK(m == Approx(0.0).margin(0.01));
    CHECK(v == Approx(1.0).epsilon(0.02));
  }
}

TEST_CASE("zipf picks rank k with probability proportional to 1 / k^s") {
  rng g(3);
  zipf_table z(4, 1.0);
  std::vector<int> counts(4, 0);
  const int n = 100000;
  for (int i = 0; i < n; ++i) ++counts[z(g)];
  double h = 1 + 1.0 / 2 + 1.0 / 3 + 1.0 / 4;
  for (int k = 0; k < 4; ++k)
    CHECK(counts[k] / double(n) == Approx(1.0 / (k + 1) / h).epsilon(0.03));
  CHECK(zipf_table(5, 0.0).pick(0.999) == 4);  // exponent 0 is uniform
  CHECK(zipf_table(5, 0.0).pick(0.0) == 0);
}

TEST_CASE("uniform_below covers its range evenly and piecewise-linear quantiles interpolate") {
  rng g(5);
  std::vector<int> counts(6, 0);
  for (int i = 0; i < 60000; ++i) ++counts[uniform_below(g, 6)];
  for (int c : counts) CHECK(c == Approx(10000).epsilon(0.05));
  std::vector<std::pair<double, double>> curve{{0, 10}, {0.5, 20}, {1, 100}};
  CHECK(piecewise_linear_quantile(curve, 0.0) == 10);
  CHECK(piecewise_linear_quantile(curve, 0.25) == 15);
  CHECK(piecewise_linear_quantile(curve, 0.75) == 60);
  CHECK(piecewise_linear_quantile(curve, 1.0) == 100);
}

// Agreement with queueing theory: Poisson traces (exponential gaps and
// durations, fixed seeds) replayed through the actors block and wait as the
// M/M/c/c (Erlang B) and M/M/c/K formulas say they must.
//
// Tolerance discipline, the same for every check here:
//  - Sampling: an estimate may be off by 4 standard errors. Consecutive
//    requests of one run are correlated (a request that finds the pool full
//    makes the next one likelier to), so the binomial or i.i.d. standard error
//    understates the noise. We estimate it by batch means (the run cut into
//    20 consecutive batches, whose means are nearly independent when a batch
//    spans thousands of mean durations), and never take less than the
//    i.i.d. one. With 19 degrees of freedom, |t| > 4 has probability < 0.1 %.
//  - Warm-up: the run starts empty, not in the stationary state. Nothing is
//    dropped from the estimates; instead we allow for the start's bias: it
//    fades once every request present at the start could have left, within a
//    few relaxation times T = mean duration x (1 + queue room / c), so it
//    reaches at most the lambda x 10 T requests of the first 10 T, each
//    moving a fraction by at most 1/n (and a mean wait by at most the
//    expected wait at the back of a full queue, over n).
// The seeds are fixed, so a run is the same everywhere (see random_trace.hpp);
// the tolerance is derived, not tuned to them.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

#include "support/random_trace.hpp"
#include "support/replay_harness.hpp"

using namespace usher;
using namespace usher::policies;
using usher::testing::poisson_trace;
using usher::testing::replay;

namespace {

// Erlang B by the stable recursion B(0) = 1, B(k) = a B(k-1) / (k + a B(k-1)).
double erlang_b(int c, double a) {
  double b = 1;
  for (int k = 1; k <= c; ++k) b = a * b / (k + a * b);
  return b;
}

// The stationary M/M/c/K system (c servers, K places in all, so K - c queue
// places), offered load a = lambda x mean duration.
struct mmck {
  double p_full = 0;  ///< P_K: an arrival finds every place taken (429)
  double lq = 0;      ///< mean number waiting
  double p_busy = 0;  ///< an arrival finds all c busy with room to wait
};

mmck mmck_stationary(int c, int K, double a) {
  // p_n / p_0 by the birth-death ratios a / min(n, c): no factorials, no overflow.
  std::vector<double> p(K + 1);
  p[0] = 1;
  for (int n = 1; n <= K; ++n) p[n] = p[n - 1] * a / std::min(n, c);
  double total = 0;
  for (double x : p) total += x;
  mmck m;
  for (int n = 0; n <= K; ++n) {
    p[n] /= total;
    if (n > c) m.lq += (n - c) * p[n];
    if (n >= c && n < K) m.p_busy += p[n];
  }
  m.p_full = p[K];
  return m;
}

// A mean over a run and its standard error (see the tolerance discipline).
struct estimate {
  double mean = 0;
  double se = 0;
};

estimate batch_means(const std::vector<double>& x, std::size_t batches = 20) {
  estimate e;
  const std::size_t n = x.size();
  REQUIRE(n >= batches * 100);
  double sum = 0, sum_sq = 0;
  for (double v : x) {
    sum += v;
    sum_sq += v * v;
  }
  e.mean = sum / n;
  double iid_var = std::max(0.0, sum_sq / n - e.mean * e.mean) / (n - 1);
  // Batches of equal size; the last takes the remainder.
  std::vector<double> means;
  const std::size_t size = n / batches;
  for (std::size_t b = 0; b < batches; ++b) {
    std::size_t from = b * size, to = b + 1 == batches ? n : from + size;
    double s = 0;
    for (std::size_t i = from; i < to; ++i) s += x[i];
    means.push_back(s / (to - from));
  }
  double m = 0;
  for (double v : means) m += v;
  m /= batches;
  double ss = 0;
  for (double v : means) ss += (v - m) * (v - m);
  double bm_var = ss / (batches - 1) / batches;
  e.se = std::sqrt(std::max(bm_var, iid_var));
  return e;
}

std::shared_ptr<const plan> pool(const std::string& preset, int c, const std::string& depth,
                                 const std::string& max_wait = "60") {
  return plan::build(preset, {{"limit", std::to_string(c), "test"},
                              {"queue.max_depth", depth, "test"},
                              {"queue.max_wait", max_wait, "test"}});
}

// Requests per run: the default keeps the standard error of a fraction near
// 1e-3 with a run well under a second (a few under the sanitizers); the slow
// runs take ten times more, with other seeds, for ~3x tighter tolerances.
constexpr std::size_t default_requests = 200000;
constexpr std::size_t slow_requests = 2000000;

void check_erlang_b(std::size_t n, std::uint64_t seed) {
  struct config {
    const char* preset;
    int c;
    double a;  // offered load, lambda x mean duration
  };
  // Loads from half the pool to 20 % over it; both no-queue families.
  const config configs[] = {
      {"per-model", 1, 0.5},     {"streams:team", 1, 1.2}, {"streams:team", 3, 1.5},
      {"per-model", 3, 2.7},     {"per-model", 3, 3.6},    {"streams:team", 10, 5.0},
      {"streams:team", 10, 9.0}, {"per-model", 10, 12.0},
  };
  for (const auto& cf : configs) {
    ++seed;
    DYNAMIC_SECTION(cf.preset << " c=" << cf.c << " a=" << cf.a) {
      const double mean_duration = 1.0;  // seconds; times are whole microseconds
      auto p = pool(cf.preset, cf.c, "0");
      auto rows = poisson_trace(*p, seed, n, cf.a / mean_duration, mean_duration);
      auto run = replay(p, rows);
      REQUIRE(run.result.ok);
      REQUIRE(run.outcomes.size() == n);

      std::vector<double> blocked(n);
      std::size_t other = 0;
      for (std::size_t i = 0; i < n; ++i) {
        blocked[i] = run.outcomes[i].code == status::rejected ? 1.0 : 0.0;
        if (run.outcomes[i].code != status::rejected && run.outcomes[i].code != status::ok) ++other;
      }
      CHECK(other == 0);  // no queue: admitted or refused, nothing else
      CHECK(run.result.peak_in_flight == cf.c);

      estimate e = batch_means(blocked);
      double theory = erlang_b(cf.c, cf.a);
      double warm = 10 * cf.a / n;  // lambda x 10 T with T = one mean duration
      double tolerance = 4 * e.se + warm;
      INFO("seed " << seed << ": 429 fraction " << e.mean << ", Erlang B " << theory << ", se "
                   << e.se << ", tolerance " << tolerance);
      CHECK(std::abs(e.mean - theory) <= tolerance);
    }
  }
}

void check_mmck(std::size_t n, std::uint64_t seed) {
  struct config {
    int c;
    int K;     // places in all: c slots and K - c queue places
    double a;  // offered load, lambda x mean duration
  };
  const config configs[] = {
      {1, 3, 0.8}, {1, 5, 1.2}, {3, 6, 2.4}, {3, 8, 3.6}, {10, 15, 9.0}, {10, 20, 12.0},
  };
  for (const auto& cf : configs) {
    ++seed;
    DYNAMIC_SECTION("c=" << cf.c << " K=" << cf.K << " a=" << cf.a) {
      const double mean_duration = 1.0;
      auto p = pool("streams:team", cf.c, std::to_string(cf.K - cf.c), "none");
      auto rows = poisson_trace(*p, seed, n, cf.a / mean_duration, mean_duration);
      auto run = replay(p, rows);
      REQUIRE(run.result.ok);
      REQUIRE(run.outcomes.size() == n);

      std::vector<double> blocked(n), waits, waited;
      std::size_t other = 0;
      for (std::size_t i = 0; i < n; ++i) {
        const auto& o = run.outcomes[i];
        blocked[i] = o.code == status::rejected ? 1.0 : 0.0;
        if (o.code == status::ok) {
          waits.push_back(static_cast<double>(o.wait) / 1e6);
          waited.push_back(o.queued ? 1.0 : 0.0);
        } else if (o.code != status::rejected) {
          ++other;  // no max wait: never a 408
        }
      }
      CHECK(other == 0);

      const mmck m = mmck_stationary(cf.c, cf.K, cf.a);
      const double lambda = cf.a / mean_duration;
      const double relax = mean_duration * (1.0 + double(cf.K - cf.c) / cf.c);
      const double warm = lambda * 10 * relax / n;
      // The same over admitted requests, for the estimates made over them.
      const double warm_admitted = lambda * 10 * relax / waits.size();
      // The expected wait of a request admitted at the back of a full queue.
      const double back_wait = double(cf.K - cf.c) * mean_duration / cf.c;

      estimate pk = batch_means(blocked);
      INFO("seed " << seed << ": 429 fraction " << pk.mean << ", P_K " << m.p_full << ", se "
                   << pk.se);
      CHECK(std::abs(pk.mean - m.p_full) <= 4 * pk.se + warm);

      // Little's law on the queue: Lq = (admitted rate) x Wq.
      const double wq = m.lq / (lambda * (1 - m.p_full));
      estimate w = batch_means(waits);
      INFO("mean wait " << w.mean << " s, Wq " << wq << " s, se " << w.se);
      CHECK(std::abs(w.mean - wq) <= 4 * w.se + warm_admitted * back_wait);

      // PASTA: an admitted request queues when it finds all c busy.
      const double p_wait = m.p_busy / (1 - m.p_full);
      estimate q = batch_means(waited);
      INFO("queued fraction " << q.mean << ", theory " << p_wait << ", se " << q.se);
      CHECK(std::abs(q.mean - p_wait) <= 4 * q.se + warm_admitted);
    }
  }
}

// The backend model with a flat throughput curve is a processor-sharing
// server: one replica decoding `rate` tokens/s in all, shared equally by the
// requests on it, no admission limit in front. M/M/1-PS: the mean time in
// the system is E[S] / (1 - rho), the same for any service distribution of
// that mean (insensitivity), so exponential and fixed work must agree with it.
void check_processor_sharing(std::size_t n, std::uint64_t seed) {
  struct config {
    double rho;
    bool fixed_work;  // every request the same tokens (M/D/1-PS), else exponential times
  };
  const config configs[] = {{0.5, false}, {0.8, false}, {0.5, true}, {0.8, true}};
  for (const auto& cf : configs) {
    ++seed;
    DYNAMIC_SECTION("rho=" << cf.rho << (cf.fixed_work ? " fixed work" : " exponential work")) {
      const double mean_service = 1.0;  // seconds alone on the replica
      const double rate = 1000;         // tokens/s of the replica, whatever the load
      auto p = plan::build("streams", {{"limit", "none", "test"},
                                       {"backend.replicas", "1", "test"},
                                       {"backend.max_streams", "1000000", "test"},
                                       {"backend.throughput", "1:1000", "test"}});
      auto rows = poisson_trace(*p, seed, n, cf.rho / mean_service, mean_service);
      if (cf.fixed_work) {
        // Token counts instead of times: 1000 tokens at 1000 tokens/s alone.
        for (auto& a : rows) {
          a.output_tokens = static_cast<std::uint32_t>(rate * mean_service);
          a.req.tokens = a.output_tokens;
          a.duration = 0;  // not used: the tokens say
        }
      }
      auto run = replay(p, rows);
      REQUIRE(run.result.ok);
      REQUIRE(run.outcomes.size() == n);
      std::vector<double> sojourn(n), stretch;
      for (std::size_t i = 0; i < n; ++i) {
        const auto& o = run.outcomes[i];
        REQUIRE(o.code == status::ok);
        REQUIRE(o.start == o.at);  // no limit: nobody waits for a slot
        sojourn[i] = static_cast<double>(o.end - o.at) / 1e6;
        // Alone, a request takes its work; never less under sharing.
        double alone = cf.fixed_work ? mean_service : static_cast<double>(rows[i].duration) / 1e6;
        REQUIRE(sojourn[i] >= alone - 1e-6);
      }
      const double theory = mean_service / (1 - cf.rho);
      // Relaxation of the number in system, about E[S] / (1 - rho)^2.
      const double relax = mean_service / ((1 - cf.rho) * (1 - cf.rho));
      const double warm = cf.rho / mean_service * 10 * relax / n * theory;
      estimate t = batch_means(sojourn);
      INFO("seed " << seed << ": mean time in system " << t.mean << " s, M/G/1-PS " << theory
                   << " s, se " << t.se);
      CHECK(std::abs(t.mean - theory) <= 4 * t.se + warm);
      if (cf.fixed_work) {
        // Everyone shared with others now and then: no request is ever alone throughout.
        CHECK(t.mean > mean_service * 1.1);
      }
    }
  }
}

}  // namespace

TEST_CASE("a backend model with flat throughput serves as M/G/1 processor sharing",
          "[actors][queueing][backend]") {
  check_processor_sharing(default_requests, 5000);
}

TEST_CASE("the 429 fraction of a pool without queue matches Erlang B", "[actors][queueing]") {
  check_erlang_b(default_requests, 1000);
}

TEST_CASE("the 429 fraction of a pool without queue matches Erlang B, long runs",
          "[actors][queueing][.slow]") {
  check_erlang_b(slow_requests, 3000);
}

TEST_CASE("a pool with a capped queue and no timeout blocks and waits as M/M/c/K",
          "[actors][queueing]") {
  check_mmck(default_requests, 2000);
}

TEST_CASE("a pool with a capped queue and no timeout blocks and waits as M/M/c/K, long runs",
          "[actors][queueing][.slow]") {
  check_mmck(slow_requests, 4000);
}

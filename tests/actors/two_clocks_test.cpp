// One behaviour, two clocks: the same actors give the same outcomes batched
// under the virtual clock, one event per timer under the virtual clock, and
// live under the real scheduler with time scaled down.
#include <catch2/catch.hpp>

#include "support/replay_harness.hpp"

using namespace usher;
using namespace usher::policies;
using usher::testing::replay;
using usher::testing::replay_options;
using usher::testing::trace_builder;

namespace {

// A small day in the life of two solo accounts: queueing, a timeout, a full
// queue, a failure, same-instant releases and arrivals.
std::vector<arrival> small_trace(std::shared_ptr<const plan> p) {
  trace_builder t(p);
  t.add(0, "acme", 10).add(0, "acme", 12).add(0, "acme", 14);
  t.add(1, "acme", 5).add(2, "acme", 5).add(2, "acme", 3);  // queue
  t.add(3, "beta", 70).add(3, "beta", 70).add(3, "beta", 70).add(4, "beta", 1);  // 408 at 64
  t.add(10, "acme", 2, kind::request, "", -1, "", true);  // arrives as a stream frees; fails
  t.add(12, "acme", 1).add(15, "acme", 1).add(17, "beta", 2);
  t.add(30, "acme", 4).add(30, "acme", 4).add(30, "acme", 4).add(30, "acme", 4);
  return t.rows();
}

void require_same(const std::vector<outcome>& a, const std::vector<outcome>& b) {
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    INFO("row " << i);
    CHECK(a[i].seq == b[i].seq);
    CHECK(a[i].code == b[i].code);
    CHECK(a[i].why == b[i].why);
    CHECK(a[i].start == b[i].start);
    CHECK(a[i].end == b[i].end);
    CHECK(a[i].wait == b[i].wait);
    CHECK(a[i].queued == b[i].queued);
  }
}

}  // namespace

TEST_CASE("a trace gives the same outcomes batched, clocked on the virtual clock, and live scaled down") {
  auto p = plan::build("streams:solo", {{"queue.max_depth", "2", "t"}});
  auto rows = small_trace(p);
  auto batched = replay(p, rows);
  REQUIRE(batched.result.ok);
  // Sanity: the trace exercises what it claims to.
  std::map<status, int> seen;
  for (auto& o : batched.outcomes) ++seen[o.code];
  CHECK(seen[status::timeout] >= 1);
  CHECK(seen[status::rejected] >= 1);
  CHECK(seen[status::failed] == 1);

  replay_options clocked;
  clocked.clocked = true;
  auto reference = replay(p, rows, clocked);
  require_same(batched.outcomes, reference.outcomes);
  CHECK(batched.series.size() == reference.series.size());

  // Live: 20 trace seconds per wall second, so ~75 s of trace take ~4 s.
  replay_options live;
  live.clock = actors::clock_kind::real_clock;
  live.clocked = true;
  live.time_scale = 20;
  live.threads = 2;
  live.shards = 2;
  auto real = replay(p, rows, live);
  REQUIRE(real.result.ok);
  require_same(batched.outcomes, real.outcomes);
  CHECK(real.result.peak_in_flight == batched.result.peak_in_flight);
}

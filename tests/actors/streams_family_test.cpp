// The streams seed (streams-with-queue.txt), replayed through the actors.
#include <catch2/catch.hpp>

#include "support/replay_harness.hpp"

using namespace usher;
using namespace usher::policies;
using usher::testing::replay;
using usher::testing::trace_builder;
using usher::testing::us;

namespace {
std::shared_ptr<const plan> solo(std::vector<plan::setting> s = {}) { return plan::build("streams:solo", s); }
}  // namespace

TEST_CASE("solo walkthrough: three run, the fourth and fifth queue and start the instant a stream frees") {
  trace_builder t(solo());
  t.add(0, "acme", 10).add(0, "acme", 12).add(0, "acme", 14).add(1, "acme", 5).add(2, "acme", 5);
  auto run = replay(solo(), t.rows());
  REQUIRE(run.result.ok);
  REQUIRE(run.outcomes.size() == 5);
  for (int i = 0; i < 3; ++i) {
    CHECK(run.outcomes[i].code == status::ok);
    CHECK_FALSE(run.outcomes[i].queued);
    CHECK(run.outcomes[i].start == 0);
  }
  // Stream 1 frees at 10: request 4 starts then; stream 2 frees at 12: request 5.
  CHECK(run.outcomes[3].queued);
  CHECK(run.outcomes[3].start == us(10));
  CHECK(run.outcomes[3].wait == us(9));
  CHECK(run.outcomes[4].queued);
  CHECK(run.outcomes[4].start == us(12));
  CHECK(run.outcomes[4].end == us(17));
  CHECK(run.result.peak_in_flight == 3);
}

TEST_CASE("a request queued longer than max_wait ends in 408") {
  trace_builder t(solo());
  t.add(0, "acme", 100).add(0, "acme", 100).add(0, "acme", 100).add(5, "acme", 1);
  auto run = replay(solo(), t.rows());
  REQUIRE(run.outcomes.size() == 4);
  CHECK(run.outcomes[3].code == status::timeout);
  CHECK(run.outcomes[3].queued);
  CHECK(run.outcomes[3].wait == us(60));
  CHECK(run.outcomes[3].start == -1);
}

TEST_CASE("a request arriving to a full queue ends in 429") {
  auto p = solo({{"queue.max_depth", "2", "test"}});
  trace_builder t(p);
  for (int i = 0; i < 6; ++i) t.add(0, "acme", 10);
  auto run = replay(p, t.rows());
  REQUIRE(run.outcomes.size() == 6);
  CHECK(run.outcomes[3].queued);
  CHECK(run.outcomes[4].queued);
  CHECK(run.outcomes[5].code == status::rejected);
  CHECK(run.outcomes[5].why == reason::queue_full);
}

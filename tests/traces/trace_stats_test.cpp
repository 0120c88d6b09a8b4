// traces/trace_stats: counts, spans, busiest accounts and the peak
// concurrency sweep (releases before starts at one instant).
#include "traces/trace_stats.hpp"

#include <catch2/catch.hpp>

#include "policies/input_error.hpp"
#include "tests/traces/converters/shared_traces.hpp"

using namespace usher;
using usher::test::write_file;

TEST_CASE("peak concurrency counts requests in flight from arrival until arrival plus duration") {
  auto path = write_file("peak.csv",
                         "arrival_s,account,duration_s,model\n"
                         "0,a,10,m\n"
                         "2,b,3,m\n"
                         "5,a,1,\n"
                         "5,c,0,m\n"
                         "5.5,b,4,n\n"
                         "9,a,3,m\n"
                         "10,a,1,m\n");
  // Intervals: [0,10) [2,5) [5,6) (c at 5 lasts 0: occupies nothing) [5.5,9.5) [9,12) [10,11).
  // At 5 the [2,5) release comes first: 2 in flight. At 5.5: 3, the peak. At 9: 3 again
  // (not a new peak). At 10 [0,10) releases before [10,11) starts: 2.
  auto s = traces::compute_trace_stats(path, 2);
  CHECK(s.rows == 7);
  CHECK(s.first == 0);
  CHECK(s.last == policies::seconds(10));
  CHECK(s.accounts == 3);
  CHECK(s.models == 2);
  CHECK(s.peak_concurrency == 3);
  CHECK(s.peak_at == 5'500'000);
  REQUIRE(s.top.size() == 2);
  CHECK(s.top[0].account == "a");
  CHECK(s.top[0].requests == 4);
  CHECK(s.top[1].account == "b");
  CHECK(s.duration_max == policies::seconds(10));
  CHECK(s.duration_p50 == policies::seconds(3));  // 0 1 1 3 3 4 10: the 4th
  auto text = traces::format_trace_stats(s);
  CHECK(text.find("peak      3 in flight with no limit, first at 5.5 s") != std::string::npos);
}

TEST_CASE("a request ending at t and one starting at t never overlap") {
  auto path = write_file("back_to_back.csv", "arrival_s,account,duration_s\n0,a,1\n1,a,1\n2,a,1\n");
  CHECK(traces::compute_trace_stats(path, 1).peak_concurrency == 1);
}

TEST_CASE("stats refuses what the simulator would refuse, naming file, line and column") {
  SECTION("unsorted") {
    auto path = write_file("stats_unsorted.csv", "arrival_s,account,duration_s\n2,a,1\n1,a,1\n");
    CHECK_THROWS_WITH(traces::compute_trace_stats(path, 1),
                      Catch::EndsWith("stats_unsorted.csv:3: column 'arrival_s': rows must be "
                                      "sorted by arrival_s: 1 comes after 2"));
  }
  SECTION("a missing column") {
    auto path = write_file("stats_missing.csv", "arrival_s,account\n2,a\n");
    CHECK_THROWS_WITH(traces::compute_trace_stats(path, 1),
                      Catch::EndsWith("stats_missing.csv:1: column 'duration_s': missing from the "
                                      "header (required: arrival_s, account, duration_s)"));
  }
  SECTION("a bad number") {
    auto path = write_file("stats_bad.csv", "arrival_s,account,duration_s\n2,a,-1\n");
    CHECK_THROWS_WITH(traces::compute_trace_stats(path, 1),
                      Catch::EndsWith("stats_bad.csv:2: column 'duration_s': expected a "
                                      "non-negative number of seconds, got \"-1\""));
  }
}

TEST_CASE("stats reads the bundled sample trace") {
  auto s =
      traces::compute_trace_stats(std::string(USHER_SOURCE_DIR) + "/samples/sample-trace.csv", 3);
  CHECK(s.rows > 1000);
  CHECK(s.accounts == 3);
  CHECK(s.peak_concurrency > 0);
}

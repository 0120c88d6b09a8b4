// Regressions found by the fuzz targets of fuzz/ (docs/SECURITY.md,
// "Fuzzing"): each test feeds the input that broke a rule through the
// normal API and checks what must happen instead. The same input is kept
// in fuzz/corpus/TARGET/ (named in each test), so the fuzzer starts from it.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <limits>

#include "policies/input_error.hpp"
#include "policies/plan.hpp"
#include "policies/usage_meter.hpp"
#include "traces/trace_reader.hpp"

using namespace usher;
using namespace usher::policies;

namespace {

std::string write_temp(const std::string& name, const std::string& text) {
  auto p = std::filesystem::temp_directory_path() / name;
  std::ofstream(p) << text;
  return p.string();
}

std::string build_error(const std::string& preset, const std::vector<plan::setting>& settings) {
  try {
    plan::build(preset, settings);
  } catch (const input_error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

// fuzz_ini_files, fuzz/corpus/ini_files/regression_limit_near_2p63.ini: a
// queue depth `auto` (5 x the capacity) and a connection cap
// (ws.per_concurrency x the capacity) were computed in 64-bit signed
// arithmetic that overflowed (UBSan: signed integer overflow in plan.cpp).
TEST_CASE("fuzz regression: a capacity near 2^63 gives an unbounded queue and cap, no overflow") {
  auto p = plan::build("streams:team", {{"limit", "9223372036854775807", "t"}});
  CHECK(p->profile(0).limit == 9223372036854775807);
  CHECK(p->profile(0).queue_max_depth == -1);  // 5 x the limit bounds nothing
  auto big = plan::build("exclusive", {{"limit", "4611686018427387904", "t"},
                                       {"ws.per_concurrency", "5", "t"}});
  CHECK(big->profile(0).max_connections == -1);
  // Ordinary sizes keep their exact products.
  CHECK(plan::build("streams:team", {{"limit", "7", "t"}})->profile(0).queue_max_depth == 35);
  CHECK(plan::build("exclusive", {{"limit", "3", "t"}})->profile(0).max_connections == 15);
}

// Found next to the one above (a replay of
// fuzz/corpus/trace_reader/regression_cost_near_2p63.csv by the UBSan-built
// usher of build-fuzz/): a cost near 2^63 (from the trace, `cost` or
// `cost.MODEL`) overflowed the usage meter's units x microseconds at the
// first step (signed integer overflow in usage_meter.cpp). fuzz_trace_reader
// and fuzz_ini_files now check the bound. Costs are now 10^9 at most
// (policies::max_cost), as an admission's over HTTP always was.
TEST_CASE("fuzz regression: a cost over 10^9 is refused where it is written") {
  CHECK_THAT(build_error("weighted", {{"cost", "9223372036854775807", "plan.ini:3"}}),
             Catch::Contains("plan.ini:3") &&
                 Catch::Contains("expected an integer from 1 to 1000000000"));
  CHECK_THAT(build_error("weighted", {{"cost.big", "1000000001", "t"}}),
             Catch::Contains("cost.big") && Catch::Contains("from 1 to 1000000000"));
  CHECK(build_error("weighted", {{"cost", "1000000000", "t"}, {"cost.big", "1000000000", "t"}})
            .empty());

  auto p = plan::build("session-rate", {});
  auto path = write_temp("usher-fuzz-regression-cost.csv",
                         "arrival_s,account,duration_s,cost\n"
                         "0,a,10,1000000000\n"
                         "1,a,10,9223372036854775807\n");
  traces::trace_reader reader(path, p);
  std::vector<arrival> rows;
  std::string error;
  CHECK_FALSE(reader.read(rows, 10, error));
  REQUIRE(rows.size() == 1);  // the largest allowed cost reads
  CHECK(rows[0].req.cost == 1000000000);
  CHECK_THAT(error, Catch::EndsWith(":3: column 'cost': expected an integer from 0 to "
                                    "1000000000, got \"9223372036854775807\""));
}

// Found with the UBSan-built usher of build-fuzz/ while following the two
// above (fuzz/corpus/ini_files/regression_sessions_near_2p63.ini): the
// session-rate gate multiplies its cap by percents, which overflowed for a
// sessions_per_minute near 2^63; and `sessions.scale_up_at = 0` raised the
// cap every window even without a session, until it overflowed.
TEST_CASE("fuzz regression: session-rate settings are bounded where they are written") {
  CHECK_THAT(build_error("session-rate", {{"sessions_per_minute", "9223372036854775807", "t"}}),
             Catch::Contains("sessions_per_minute: expected an integer from 1 to 1000000000"));
  CHECK_THAT(build_error("session-rate", {{"sessions.scale_up_at", "0", "t"}}),
             Catch::Contains("sessions.scale_up_at: expected an integer from 1 to 1000"));
  CHECK_THAT(build_error("session-rate", {{"sessions.scale_up_pct", "1001", "t"}}),
             Catch::Contains("from 0 to 1000"));
  CHECK(build_error("session-rate", {{"sessions_per_minute", "1000000000", "t"},
                                     {"sessions.scale_up_at", "1000", "t"},
                                     {"sessions.scale_down_below", "0", "t"}})
            .empty());
}

// Found the same way (a per-model plan with capacities near 2^63 and a row
// held for 922,337,203,685 s at cost 10^9): the usage meter's integrals
// (units x microseconds) and the merged limit of the "(all)" line wrapped.
// They now stop at the int64 ceiling; below it they are exact.
TEST_CASE("fuzz regression: the usage meter saturates instead of overflowing") {
  // One interval of 10^12 s, so the span is integrated in one step.
  usage_meter m(0, -1, seconds(1'000'000'000'000), signal_params{}, nullptr);
  m.started(0, max_cost);
  m.advance(seconds(922337203685));
  CHECK(m.totals().used_area == std::numeric_limits<std::int64_t>::max());
  CHECK(m.totals().in_flight_area == seconds(922337203685));  // 1 x the span: exact

  usage_meter small(1, 8, seconds(60), signal_params{}, nullptr);
  small.started(0, 3);
  small.advance(seconds(10));
  CHECK(small.totals().used_area == 3 * seconds(10));

  usage_totals a, b;
  a.limit = b.limit = std::numeric_limits<std::int64_t>::max();
  a.used_area = b.used_area = std::numeric_limits<std::int64_t>::max();
  a.merge(b);
  CHECK(a.limit == std::numeric_limits<std::int64_t>::max());
  CHECK(a.used_area == std::numeric_limits<std::int64_t>::max());
}

// fuzz_trace_reader, fuzz/corpus/trace_reader/libfccp_stale_newline.csv: the
// CSV parser (libfccp) read the byte just past a file's data before its
// bounds check; after a last line without '\n', a '\n' in that
// (uninitialized) byte sent its next read past the end of its 48 MiB
// buffer: a heap over-read, hidden with glibc because the fresh pages of an
// allocation that large are zero. The reader now hands the parser every
// file ended with '\n'. The fuzz target fills reused buffers with '\n' and
// reproduces the over-read at once without that; here the rows of such
// files must read exactly as with the newline.
TEST_CASE("fuzz regression: a trace whose last line has no newline reads every row") {
  auto p = plan::build("streams:team", {});
  auto rows_of = [&](const std::string& name, const std::string& text) {
    traces::trace_reader reader(write_temp(name, text), p);
    std::vector<arrival> rows;
    std::string error;
    REQUIRE(reader.read(rows, 10, error));
    CHECK(error.empty());
    return rows;
  };
  auto ended = rows_of("usher-fuzz-ended.csv", "arrival_s,account,duration_s\n0,a,1\n2,b,3\n");
  for (std::string tail : {"", "\r", "\r\n"}) {
    auto cut = rows_of("usher-fuzz-cut.csv", "arrival_s,account,duration_s\n0,a,1\n2,b,3" + tail);
    REQUIRE(cut.size() == ended.size());
    CHECK(cut[1].at == seconds(2));
    CHECK(cut[1].duration == seconds(3));
  }
  // A header alone, without its newline: no rows, no error.
  CHECK(rows_of("usher-fuzz-header.csv", "arrival_s,account,duration_s").empty());
  // An empty file is still an empty file.
  CHECK_THROWS_AS(traces::trace_reader(write_temp("usher-fuzz-empty.csv", ""), p), input_error);
}

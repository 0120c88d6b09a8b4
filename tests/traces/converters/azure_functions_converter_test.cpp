// The Azure Functions converter: per-minute counts become that many
// arrivals inside the minute, durations come from each function's
// percentile curve, and the invitro sample holds 996,503 invocations.
#include <array>
#include <catch2/catch.hpp>
#include <map>

#include "policies/input_error.hpp"
#include "tests/traces/converters/shared_traces.hpp"
#include "traces/converters/converters.hpp"
#include "traces/trace_stats.hpp"

using namespace usher;
using usher::test::csv_rows;
using usher::test::scratch_file;
using usher::test::slurp;
using usher::test::write_file;

namespace {
const char* run_csv =
    "HashOwner,HashApp,HashFunction,Average,Count,Minimum,Maximum,percentile_Average_0,"
    "percentile_Average_1,percentile_Average_25,percentile_Average_50,percentile_Average_75,"
    "percentile_Average_99,percentile_Average_100\n"
    "o,a,aaaaaaaaaaaaaaaaaaaa,874,3,414.0,1736.0,100,100,100,100,100,100,100\n"
    "o,a,bbbbbbbbbbbbbbbbbbbb,21,288,10.0,328.0,1000,1000,2000,3000,4000,5000,5000\n";
}

TEST_CASE(
    "azure-functions places each minute's count inside the minute with durations from the curve") {
  traces::convert_options o;
  o.input = write_file("tiny_inv.csv",
                       "HashFunction,HashOwner,HashApp,1_minute,2_minute,3_minute\n"
                       "aaaaaaaaaaaaaaaaaaaa,o,a,3,0,1\n"
                       "bbbbbbbbbbbbbbbbbbbb,o,a,0,5,2\n");
  write_file("tiny_run.csv", run_csv);  // found next to tiny_inv.csv
  o.output = scratch_file("tiny_inv.out.csv");
  auto r = traces::convert_trace("azure-functions", o);
  CHECK(r.source_records == 11);
  CHECK(r.rows == 11);
  auto rows = csv_rows(o.output);
  REQUIRE(rows.size() == 12);
  CHECK(rows[0] == std::vector<std::string>{"id", "arrival_s", "account", "model", "duration_s"});
  std::map<std::string, std::array<int, 3>> per_minute;
  double last = 0;
  for (std::size_t i = 1; i < rows.size(); ++i) {
    double t = std::stod(rows[i][1]), d = std::stod(rows[i][4]);
    CHECK(t >= last);
    last = t;
    CHECK(rows[i][2] == rows[i][3]);
    CHECK(rows[i][2].size() == 16);  // the hash's first 16 hex digits
    ++per_minute[rows[i][2]][static_cast<std::size_t>(t / 60)];
    if (rows[i][2][0] == 'a')
      CHECK(d == 0.1);
    else
      CHECK((d >= 1 && d <= 5));
  }
  CHECK(per_minute["aaaaaaaaaaaaaaaa"] == std::array<int, 3>{3, 0, 1});
  CHECK(per_minute["bbbbbbbbbbbbbbbb"] == std::array<int, 3>{0, 5, 2});
}

TEST_CASE("azure-functions refuses a function without a duration row") {
  traces::convert_options o;
  o.input = write_file("lonely_inv.csv", "HashFunction,HashOwner,HashApp,1_minute\ncccc,o,a,3\n");
  o.durations_file = write_file("lonely_run.csv", run_csv);
  o.output = scratch_file("lonely.out.csv");
  CHECK_THROWS_WITH(
      traces::convert_trace("azure-functions", o),
      Catch::Contains("lonely_inv.csv:2: column 'HashFunction': function \"cccc\" has no row in"));
}

TEST_CASE(
    "the Azure Functions sample holds 996503 invocations and a window converts just its minutes") {
  USHER_SHARED_TRACE(inv, "azure-functions-2019-invitro/1350_inv.csv.gz");
  traces::convert_options o;
  o.input = inv;
  o.output = scratch_file("functions-20min.csv");
  o.to = policies::seconds(1200);
  auto whole = traces::convert_trace("azure-functions", o);
  CHECK(whole.source_records == 996503);
  CHECK(whole.rows == 12875);  // minutes 1-20 of 1350_inv.csv
  CHECK(whole.last < policies::seconds(1200));

  // Minutes 11-20 alone are exactly the second half of minutes 1-20, rebased.
  auto part = o;
  part.from = policies::seconds(600);
  part.output = scratch_file("functions-10min.csv");
  auto half = traces::convert_trace("azure-functions", part);
  CHECK(half.rows == 12875 - 6765);
  auto a = csv_rows(o.output), b = csv_rows(part.output);
  REQUIRE(b.size() == half.rows + 1);
  std::size_t offset = a.size() - b.size();
  for (std::size_t i = 1; i < b.size(); ++i) {
    CHECK(std::stod(b[i][1]) == Approx(std::stod(a[i + offset][1]) - 600).margin(1e-6));
    CHECK(b[i][2] == a[i + offset][2]);
    CHECK(b[i][4] == a[i + offset][4]);
  }
}

TEST_CASE("the whole Azure Functions day converts to 996503 rows", "[.slow]") {
  USHER_SHARED_TRACE(inv, "azure-functions-2019-invitro/1350_inv.csv.gz");
  traces::convert_options o;
  o.input = inv;
  o.output = scratch_file("functions-day.csv");
  auto r = traces::convert_trace("azure-functions", o);
  CHECK(r.rows == 996503);
  auto s = traces::compute_trace_stats(o.output, 1);
  CHECK(s.rows == 996503);
  CHECK(s.accounts == 1350);
  CHECK(s.last < policies::seconds(86400));
  std::filesystem::remove(o.output);
}

// The usher binary as users meet it: exit codes, exact error text (golden
// files in tests/tools/golden/), and outputs that are complete or absent.
#include <catch2/catch.hpp>
#include <filesystem>

#include "support/usher_cli.hpp"

namespace fs = std::filesystem;

using namespace usher::testing;

namespace {

const std::string sample = "--trace samples/sample-trace.csv --plan samples/plans/team.ini";

}  // namespace

TEST_CASE("bad input exits 2 with a message naming file, line and column") {
  auto out = scratch("bad").string();
  struct example {
    const char* args;
    const char* golden;
  };
  for (auto ex : {example{"--plan streams --trace tests/tools/data/missing_column.csv", "missing_column.err"},
                  example{"--plan streams --trace tests/tools/data/bad_number.csv", "bad_number.err"},
                  example{"--plan streams --trace tests/tools/data/negative_duration.csv", "negative_duration.err"},
                  example{"--plan streams --trace tests/tools/data/unsorted.csv", "unsorted.err"},
                  example{"--plan streams --trace tests/tools/data/too_few_columns.csv", "too_few_columns.err"},
                  example{"--plan exclusive --trace tests/tools/data/missing_conn.csv", "missing_conn.err"},
                  example{"--plan tests/tools/data/bad_unit.ini --trace samples/sample-trace.csv", "bad_unit.err"},
                  example{"--plan tests/tools/data/unknown_key.ini --trace samples/sample-trace.csv", "unknown_key.err"},
                  example{"--plan streams:gold --trace samples/sample-trace.csv", "unknown_plan.err"},
                  example{"--plan streams --set queue.max_wait=soon --trace samples/sample-trace.csv", "bad_set.err"},
                  example{"--plan streams --trace no/such/file.csv", "missing_file.err"}}) {
    INFO(ex.args);
    auto r = run_usher(std::string("simulate ") + ex.args + " --out " + out);
    CHECK(r.code == 2);
    CHECK(r.err == golden(ex.golden));
    CHECK(r.out.empty());
    // No output that could pass for a complete run.
    CHECK_FALSE(fs::exists(fs::path(out) / "outcomes.csv"));
    CHECK_FALSE(fs::exists(fs::path(out) / "summary.json"));
    CHECK_FALSE(fs::exists(fs::path(out) / "timeseries.csv"));
  }
}

TEST_CASE("a failed run removes the outputs of an earlier run in the same directory") {
  auto out = scratch("stale").string();
  REQUIRE(run_usher("simulate -q " + sample + " --out " + out).code == 0);
  REQUIRE(fs::exists(fs::path(out) / "outcomes.csv"));
  CHECK(run_usher("simulate --plan streams --trace tests/tools/data/unsorted.csv --out " + out).code == 2);
  CHECK_FALSE(fs::exists(fs::path(out) / "outcomes.csv"));
  CHECK(fs::is_empty(out));
  // The same when the run fails before its first row: a bad plan, a bad header.
  for (std::string failing : {std::string("simulate --plan nosuch --trace samples/sample-trace.csv"),
                              std::string("simulate --plan streams --trace tests/tools/data/missing_column.csv")}) {
    INFO(failing);
    REQUIRE(run_usher("simulate -q " + sample + " --out " + out).code == 0);
    REQUIRE(fs::exists(fs::path(out) / "summary.json"));
    CHECK(run_usher(failing + " --out " + out).code == 2);
    CHECK(fs::is_empty(out));
  }
}

TEST_CASE("missing options and unknown commands exit 2 and --help exits 0") {
  CHECK(run_usher("simulate --plan streams").code == 2);
  CHECK(run_usher("frobnicate").code == 2);
  auto help = run_usher("simulate --help");
  CHECK(help.code == 0);
  CHECK(help.out.find("--plan") != std::string::npos);
  CHECK(run_usher("--help").code == 0);
}

TEST_CASE("the same trace and plan give byte-identical outputs, at any thread count") {
  auto a = scratch("det-a"), b = scratch("det-b"), c = scratch("det-c");
  auto ra = run_usher("simulate " + sample + " --out " + a.string());
  REQUIRE(ra.code == 0);
  REQUIRE(run_usher("simulate " + sample + " --out " + b.string()).code == 0);
  REQUIRE(run_usher("simulate " + sample + " --threads 2 --out " + c.string()).code == 0);
  for (auto* f : {"outcomes.csv", "summary.json", "timeseries.csv"}) {
    INFO(f);
    auto first = slurp(a / f);
    CHECK(first.size() > 100);
    CHECK(first == slurp(b / f));
    CHECK(first == slurp(c / f));
  }
  CHECK(ra.out.find("(all)") != std::string::npos);
}

TEST_CASE("outcomes.csv has one row per trace row, in trace order, with the documented header") {
  auto out = scratch("rows");
  REQUIRE(run_usher("simulate -q " + sample + " --out " + out.string()).code == 0);
  std::ifstream in(out / "outcomes.csv");
  std::string line;
  std::getline(in, line);
  CHECK(line == "id,account,key,model,arrival_s,start_s,end_s,wait_s,status,queued,reason");
  std::ifstream trace(fs::path(USHER_SOURCE_DIR) / "samples/sample-trace.csv");
  std::string trace_line;
  std::getline(trace, trace_line);
  std::size_t rows = 0;
  while (std::getline(in, line)) {
    REQUIRE(std::getline(trace, trace_line));
    // Same id, same order.
    CHECK(line.substr(0, line.find(',')) == trace_line.substr(0, trace_line.find(',')));
    ++rows;
  }
  CHECK(rows > 10000);
  CHECK_FALSE(std::getline(trace, trace_line));
}

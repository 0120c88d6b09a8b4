// A replay from a trace held in memory gives exactly the summary of a replay
// from the file (tools/loaded_run.hpp, traces/loaded_trace.hpp): what lets
// sweep and advise parse a trace once.
#include <catch2/catch.hpp>

#include <filesystem>

#include "policies/input_error.hpp"
#include "support/usher_cli.hpp"
#include "tools/loaded_run.hpp"
#include "tools/simulation_run.hpp"
#include "traces/loaded_trace.hpp"
#include "traces/plan_file.hpp"

using namespace usher;
namespace fs = std::filesystem;

TEST_CASE("a run from a loaded trace gives the summary of simulate for the same plan") {
  auto trace_path = testing::source_path("samples/sample-trace.csv");
  traces::loaded_trace trace(trace_path);
  REQUIRE(trace.rows().size() == 17627);
  // Plans that resolve profiles, costs and model ids differently: named
  // accounts, costs by model (the plan's models take the first ids), and
  // pools per model.
  for (std::string spec : {testing::source_path("samples/plans/team.ini"),
                           std::string("streams:solo@limit=4,queue.max_wait=20"),
                           std::string("weighted@cost.llama-3.1-70b-instruct=4,limit=12"),
                           std::string("per-model@limit=6"), std::string("exclusive@limit=3")}) {
    INFO(spec);
    tools::simulation_request r;
    r.plan = spec;
    r.trace = trace_path;
    auto expected = tools::run_simulation(r).summary;
    auto got = tools::run_loaded(trace, traces::load_plan(spec, {}), spec);
    CHECK(got == expected);
  }
}

TEST_CASE("a loaded trace reports bad rows with file, line and column as the reader does") {
  try {
    traces::loaded_trace trace(testing::source_path("tests/tools/data/unsorted.csv"));
    FAIL("no error");
  } catch (const policies::input_error& e) {
    CHECK(std::string(e.what()).find("unsorted.csv:") != std::string::npos);
    CHECK(std::string(e.what()).find("arrival_s") != std::string::npos);
  }
}

TEST_CASE("a plan spec carries overrides after @ and account names may hold @") {
  auto s = traces::split_plan_spec("streams:team@limit=12,queue.max_wait=30");
  CHECK(s.base == "streams:team");
  CHECK(s.overrides == std::vector<std::string>{"limit=12", "queue.max_wait=30"});
  auto a = traces::split_plan_spec("streams:team@account.bob@corp.example.tier=solo");
  CHECK(a.base == "streams:team");
  CHECK(a.overrides == std::vector<std::string>{"account.bob@corp.example.tier=solo"});
  CHECK(traces::split_plan_spec("weighted").overrides.empty());
  auto plan = traces::load_plan("streams:team@account.bob@corp.example.tier=solo", {});
  CHECK(plan->profile(plan->profile_of("bob@corp.example")).limit == 3);
  // --set applies after the spec's own overrides.
  CHECK(traces::load_plan("streams:team@limit=12", {"limit=7"})->profile(0).limit == 7);
  CHECK_THROWS_WITH(traces::load_plan("streams:team@limit", {}),
                    "--plan streams:team@limit: expected KEY=VALUE, got \"limit\"");
}

TEST_CASE("a run without an output directory leaves /dev/null in place, even when it fails") {
  // Such a run stages its outputs to /dev/null; a cleanup that removed its
  // "temporary files" once deleted the device (run as root, as CI is).
  auto is_device = [] { return fs::is_character_file("/dev/null"); };
  REQUIRE(is_device());
  tools::simulation_request ok;
  ok.plan = "streams:team";
  ok.trace = testing::source_path("samples/sample-trace.csv");
  CHECK(tools::run_simulation(ok).summary.contains("overall"));
  CHECK(is_device());
  tools::simulation_request bad = ok;
  bad.trace = testing::source_path("tests/tools/data/unsorted.csv");
  CHECK_THROWS_AS(tools::run_simulation(bad), policies::input_error);
  CHECK(is_device());
}

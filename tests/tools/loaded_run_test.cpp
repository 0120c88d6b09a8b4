// A replay from a trace held in memory gives exactly the summary of a replay
// from the file (tools/loaded_run.hpp, traces/loaded_trace.hpp): what lets
// sweep and advise parse a trace once.
#include <catch2/catch.hpp>

#include <filesystem>

#include "policies/input_error.hpp"
#include "support/usher_cli.hpp"
#include "tests/traces/converters/shared_traces.hpp"
#include "tools/loaded_run.hpp"
#include "tools/simulation_run.hpp"
#include "tools/workload_file.hpp"
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

TEST_CASE("a run from a loaded trace with a workload gives the summary of simulate with it") {
  // Generated clients beside the trace's rows; one account (initech) is in
  // both, and a client model the trace never names comes before the trace's.
  auto trace_path = testing::source_path("samples/sample-trace.csv");
  std::string groups =
      "seed = 5\nstop = 20m\n"
      "[clients.bots]\naccounts = 2\nbehaviour = conversations\nconversations = 3\n"
      "duration = exp:4s\nthink = exp:10s\nmodel = bot-model\n"
      "[clients.initech]\nbehaviour = sdk\nrate = 0.5\nduration = exp:8s\n";
  for (bool with_trace : {true, false}) {
    INFO((with_trace ? "with" : "without") << " a trace");
    auto path = test::write_file("clients.ini",
                                 (with_trace ? "trace = " + trace_path + "\n" : "") + groups);
    auto w = tools::read_workload_file(path);
    traces::loaded_trace trace(w.trace, 2);
    for (std::string spec : {std::string("streams:team@limit=3,queue.max_wait=20"),
                             std::string("weighted@cost.bot-model=2,limit=6")}) {
      INFO(spec);
      tools::simulation_request r;
      r.plan = spec;
      r.workload = path;
      auto expected = tools::run_simulation(r).summary;
      REQUIRE(expected.contains("clients"));
      auto got = tools::run_loaded(trace, traces::load_plan(spec, {}), spec, nullptr, &w);
      CHECK(got == expected);
    }
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

namespace {

// What a loaded trace holds, field by field, for comparing two reads.
std::string contents(const traces::loaded_trace& t) {
  std::string out;
  for (auto& r : t.rows())
    out += std::to_string(r.at) + ' ' + std::to_string(r.duration) + ' ' +
           std::to_string(r.own_cost) + ' ' + std::to_string(r.account) + ' ' +
           std::to_string(r.model) + ' ' + std::to_string(r.product) + ' ' +
           std::to_string(r.conn) + ' ' + std::to_string(static_cast<int>(r.what)) + ' ' +
           (r.fail ? "f" : "-") + '\n';
  for (std::uint32_t i = 0; i < t.accounts().size(); ++i) out += "account " + t.accounts().name(i) + '\n';
  for (std::uint32_t i = 0; i < t.models().size(); ++i) out += "model " + t.models().name(i) + '\n';
  return out;
}

// The error a load gives, or "" when it succeeds.
std::string load_error(const std::string& path, std::size_t threads) {
  try {
    traces::loaded_trace t(path, threads);
  } catch (const policies::input_error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("a trace read in pieces at once holds what the serial read holds") {
  // Every kind of field a row has, names first seen in later pieces,
  // connections that span pieces, CRLF and blank lines, quotes, and a last
  // line without its line break.
  std::string text = "id,arrival_s,account,key,model,product,cost,kind,conn,fail,duration_s\r\n";
  for (int i = 0; i < 600; ++i) {
    std::string account = "acct-" + std::to_string(i * 7 % (i < 300 ? 5 : 13));
    std::string model = i % 3 == 0 ? "" : "m" + std::to_string(i % (i < 400 ? 2 : 4));
    std::string kinds[] = {"request", "ws_open", "ws_request", "ws_close", "session", ""};
    std::string kind = kinds[i % 6];
    std::string conn = kind.rfind("ws_", 0) == 0 ? "c" + std::to_string(i / 60) : "";
    text += (i % 13 == 5 ? "" : "r" + std::to_string(i)) + "," + std::to_string(i / 4) + "." + std::to_string(i % 4) +
            "," + (i % 11 == 0 ? "\"" + account + "\"" : account) + ",k" +
            std::to_string(i % (i < 300 ? 2 : 5)) + "," + model + "," +
            (i % 5 == 0 ? "p" + std::to_string(i % 3) : "") + "," +
            (i % 7 == 0 ? std::to_string(i % 4) : "") + "," + kind + "," + conn + "," +
            (i % 9 == 0 ? "1" : "") + "," + std::to_string(i % 17) + ".25" +
            (i % 2 ? "\r\n" : "\n") + (i % 50 == 0 ? "\n  \n" : "");
  }
  text += "r600,150.0,late-account,k,m9,,,request,,,1";  // no line break
  auto path = test::write_file("pieces.csv", text);
  traces::loaded_trace serial(path, 1);
  REQUIRE(serial.rows().size() == 601);
  REQUIRE(serial.accounts().name(serial.accounts().size() - 1) == "late-account");
  for (std::size_t threads : {2, 3, 7, 64}) {
    INFO(threads << " pieces");
    traces::loaded_trace pieces(path, threads);
    CHECK(contents(pieces) == contents(serial));
  }
  // Kept labels too: ids as written (empty where the row has none), keys.
  auto labels = [](const traces::loaded_trace& t) {
    std::string out;
    for (std::size_t i = 0; i < t.rows().size(); ++i)
      out += std::string(t.label_id(i)) + "|" + t.keys().name(t.key_of(i)) + '\n';
    return out;
  };
  traces::loaded_trace serial_labels(path, 1, true);
  CHECK(contents(serial_labels) == contents(serial));
  CHECK(labels(serial_labels).rfind("r0|k0\nr1|k1\nr2|k0\nr3|k1\nr4|k0\n|k1\n", 0) == 0);
  for (std::size_t threads : {2, 3, 7})
    CHECK(labels(traces::loaded_trace(path, threads, true)) == labels(serial_labels));
  traces::loaded_trace gzip(test::write_gzip("pieces.csv.gz", text), 2);  // read serially
  CHECK(contents(gzip) == contents(serial));
  // A sample trace, and a run from it, as simulate sees the file.
  auto sample = testing::source_path("samples/sample-trace.csv");
  traces::loaded_trace whole(sample, 1), split(sample, 2);
  CHECK(contents(split) == contents(whole));
  auto plan = traces::load_plan("per-model@limit=6", {});
  CHECK(tools::run_loaded(split, plan, "p") == tools::run_loaded(whole, plan, "p"));
}

TEST_CASE("a bad row read in pieces is reported as the serial read reports it") {
  // Equal lines, times starting over at line `restart`: for some of these
  // a piece begins exactly there, and only the seam between two pieces is
  // out of order; for the others the piece itself is.
  std::string path;
  for (int restart = 90; restart <= 112; ++restart) {
    std::string text = "arrival_s,account,duration_s\n";
    for (int i = 0; i < 200; ++i)
      text += std::to_string(100 + (i < restart ? i : i - restart)) + ",a,1\n";
    path = test::write_file("restart.csv", text);
    auto expected = load_error(path, 1);
    REQUIRE(expected.find("rows must be sorted by arrival_s") != std::string::npos);
    CHECK(load_error(path, 2) == expected);
    CHECK(load_error(path, 3) == expected);
  }
  // Bad rows in two pieces: the first in the file is the one reported, with
  // its line; nothing is read past it.
  std::string text = "arrival_s,account,duration_s,kind\n";
  for (int i = 0; i < 400; ++i)
    text += std::to_string(i) + ",a," + (i == 150 ? "x" : "1") + "," + (i == 350 ? "ws_open" : "") + "\n";
  path = test::write_file("two-bad.csv", text);
  auto expected = load_error(path, 1);
  CHECK(expected == path + ":152: column 'duration_s': expected a non-negative number of seconds, got \"x\"");
  for (std::size_t threads : {2, 4}) CHECK(load_error(path, threads) == expected);
  // A header without a required column.
  path = test::write_file("no-duration.csv", "arrival_s,account\n1,a\n2,b\n");
  CHECK(load_error(path, 2) == load_error(path, 1));
  CHECK(load_error(path, 2).find("column 'duration_s'") != std::string::npos);
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

// usher compare and usher sweep as users meet them: their rows are the
// numbers of single simulate runs, the files do not depend on --jobs, and
// bad input exits 2 with the message pinned in tests/tools/golden/.
#include <signal.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <chrono>
#include <fstream>
#include <thread>
#include <nlohmann/json.hpp>

#include "support/usher_cli.hpp"
#include "tools/outcome_metrics.hpp"

using namespace usher;
using testing::run_usher;
using testing::scratch;
using testing::slurp;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const std::string trace = "--trace samples/sample-trace.csv";

json read_json(const fs::path& p) { return json::parse(slurp(p)); }

// The summary.json of one simulate run.
json simulate_summary(const std::string& args) {
  auto out = scratch("simulate-one");
  auto r = run_usher("simulate -q " + trace + " " + args + " --out " + out.string());
  REQUIRE(r.code == 0);
  return read_json(out / "summary.json");
}

// Its overall and per-account metrics.
json simulate_metrics(const std::string& args) {
  auto summary = simulate_summary(args);
  json m;
  m["overall"] = tools::outcome_metrics::of(summary["overall"]).to_json();
  for (auto& [name, a] : summary["accounts"].items()) m["accounts"][name] = tools::outcome_metrics::of(a).to_json();
  return m;
}

// CSV fields as one line without its line break.
std::string joined(const std::vector<std::string>& fields) {
  auto line = tools::csv_line(fields);
  return line.substr(0, line.size() - 1);
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::size_t from = 0;
  while (from < text.size()) {
    auto nl = text.find('\n', from);
    out.push_back(text.substr(from, nl - from));
    from = nl + 1;
  }
  return out;
}

std::string golden(const std::string& name) {
  return slurp(fs::path(USHER_SOURCE_DIR) / "tests/tools/golden" / name);
}

}  // namespace

TEST_CASE("compare rows equal single simulate runs of the same plans") {
  auto out = scratch("compare");
  auto r = run_usher("compare " + trace + " --plan samples/plans/team.ini --plan streams:team@limit=12 --jobs 2 --out " +
                     out.string());
  REQUIRE(r.code == 0);
  CHECK(r.err.empty());
  CHECK(r.out.find("changed most") != std::string::npos);
  auto cmp = read_json(out / "compare.json");
  REQUIRE(cmp["plans"].size() == 2);
  auto first = simulate_metrics("--plan samples/plans/team.ini");
  auto second = simulate_metrics("--plan streams:team --set limit=12");
  CHECK(cmp["plans"][0]["overall"] == first["overall"]);
  CHECK(cmp["plans"][1]["overall"] == second["overall"]);
  for (auto& [name, per] : cmp["accounts"].items()) {
    INFO(name);
    CHECK(per[0] == first["accounts"][name]);
    CHECK(per[1] == second["accounts"][name]);
  }
  // Each plan's run is a complete simulate output.
  CHECK(slurp(out / "plan2" / "summary.json").size() > 100);
  // compare.csv: a header, then 2 overall rows and 2 rows per account.
  CHECK(lines_of(slurp(out / "compare.csv")).size() == 1 + 2 + 2 * 3);
  // Changed most: largest change in the share not answered 200 first.
  auto changed = cmp["changed_most"]["accounts"];
  REQUIRE(changed.size() >= 2);
  CHECK(changed[0]["change"].get<double>() >= changed[1]["change"].get<double>());
}

TEST_CASE("sweep rows equal single simulate runs of the same variants") {
  auto out = scratch("sweep");
  auto r = run_usher("sweep " + trace +
                     " --plan samples/plans/team.ini --vary limit=8,12 --vary queue.max_wait=30..60:30 "
                     "--jobs 2 --out " + out.string());
  REQUIRE(r.code == 0);
  auto rows = lines_of(slurp(out / "sweep.csv"));
  REQUIRE(rows.size() == 5);
  CHECK(rows[0].rfind("variant,limit,queue.max_wait,requests,rate_200,", 0) == 0);
  auto accounts = lines_of(slurp(out / "sweep_accounts.csv"));
  REQUIRE(accounts.size() == 1 + 4 * 3);
  const char* variants[][2] = {{"8", "30"}, {"8", "60"}, {"12", "30"}, {"12", "60"}};
  for (int v = 0; v < 4; ++v) {
    std::string limit = variants[v][0], wait = variants[v][1];
    INFO("limit " << limit << ", max wait " << wait);
    auto summary = simulate_summary("--plan samples/plans/team.ini --set limit=" + limit +
                                    " --set queue.max_wait=" + wait);
    std::string lead = std::to_string(v + 1) + "," + limit + "," + wait + ",";
    CHECK(rows[v + 1] == lead + joined(tools::outcome_metrics::of(summary["overall"]).csv_fields()));
    // Per account, in name order.
    std::size_t i = 1 + static_cast<std::size_t>(v) * 3;
    for (auto& [name, a] : summary["accounts"].items())
      CHECK(accounts[i++] == lead + name + "," + joined(tools::outcome_metrics::of(a).csv_fields()));
  }
}

TEST_CASE("a sweep tries a plan with and without a gate: type none is the gate off") {
  auto out = scratch("sweep-gate-off");
  auto r = run_usher("sweep " + trace + " --plan streams:team --vary gate.k.type=none,key_cap --set gate.k.limit=1 "
                     "--out " + out.string());
  REQUIRE(r.code == 0);
  auto rows = lines_of(slurp(out / "sweep.csv"));
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].rfind("variant,gate.k.type,requests,", 0) == 0);
  auto off = simulate_summary("--plan streams:team");
  auto on = simulate_summary("--plan streams:team@gate.k.type=key_cap,gate.k.limit=1");
  CHECK(rows[1] == "1,none," + joined(tools::outcome_metrics::of(off["overall"]).csv_fields()));
  CHECK(rows[2] == "2,key_cap," + joined(tools::outcome_metrics::of(on["overall"]).csv_fields()));
  CHECK(rows[1].substr(7) != rows[2].substr(10));  // one key at a time changes what the trace gets
}

TEST_CASE("sweep and advise take a workload, its clients beside the trace in every variant") {
  auto dir = scratch("sweep-workload");
  fs::create_directories(dir);
  auto workload = (dir / "clients.ini").string();
  std::ofstream(workload) << "seed = 9\nstop = 15m\n[clients.bots]\naccounts = 2\n"
                             "behaviour = conversations\nconversations = 4\nduration = exp:5s\n"
                             "think = exp:8s\n";
  auto out = dir / "out";
  auto r = run_usher("sweep " + trace + " --workload " + workload +
                     " --plan streams:team --vary limit=1,4 -q --jobs 2 --out " + out.string());
  REQUIRE(r.code == 0);
  auto rows = lines_of(slurp(out / "sweep.csv"));
  REQUIRE(rows.size() == 3);
  for (std::string limit : {"1", "4"}) {
    INFO("limit " << limit);
    auto one = dir / ("simulate-" + limit);
    REQUIRE(run_usher("simulate -q " + trace + " --workload " + workload +
                      " --plan streams:team --set limit=" + limit + " --out " + one.string())
                .code == 0);
    auto summary = read_json(one / "summary.json");
    REQUIRE(summary["accounts"].contains("bots-1"));
    std::string lead = (limit == "1" ? "1," : "2,") + limit + ",";
    CHECK(rows[limit == "1" ? 1 : 2] ==
          lead + joined(tools::outcome_metrics::of(summary["overall"]).csv_fields()));
  }
  // A workload alone (no trace), and advise over trace and workload.
  auto alone = run_usher("sweep --workload " + workload +
                         " --plan streams:team --vary limit=1,2 -q --out " + (dir / "alone").string());
  CHECK(alone.code == 0);
  // The report counts the accounts the clients bring, beside the trace's.
  auto told = run_usher("sweep " + trace + " --workload " + workload +
                        " --plan streams:team --vary limit=1 --out " + (dir / "told").string());
  CHECK(told.out.find("trace rows, 5 accounts, 1 client group): 1 variant, 1 job,") != std::string::npos);
  CHECK(lines_of(slurp(dir / "alone" / "sweep_accounts.csv")).size() == 1 + 2 * 2);
  auto advice = run_usher("advise " + trace + " --workload " + workload +
                          " --family streams --out " + (dir / "advise").string());
  CHECK(advice.code == 0);
  CHECK(slurp(dir / "advise" / "advise.csv").find("bots-2") != std::string::npos);
}

TEST_CASE("sweep output is byte-identical at 1 and 2 jobs") {
  auto one = scratch("jobs1"), two = scratch("jobs2");
  std::string args = "sweep " + trace +
                     " --plan streams:team --vary limit=4..10:2 --vary queue.max_wait=20,60 -q --out ";
  REQUIRE(run_usher(args + one.string() + " --jobs 1").code == 0);
  REQUIRE(run_usher(args + two.string() + " --jobs 2").code == 0);
  for (auto* f : {"sweep.csv", "sweep_accounts.csv"}) {
    INFO(f);
    auto a = slurp(one / f);
    CHECK(a.size() > 500);
    CHECK(a == slurp(two / f));
  }
}

TEST_CASE("a killed sweep resumes from its journal and writes what an uninterrupted one writes") {
  auto dir = scratch("resume");
  fs::create_directories(dir);
  auto trace_path = (dir / "day.csv").string();
  REQUIRE(run_usher("trace gen --out " + trace_path +
                    " --pattern diurnal --span 7200 --rate 12 --accounts 20 --mean-duration 10 --seed 3")
              .code == 0);
  std::string sweep = "sweep --trace " + trace_path +
                      " --plan streams:team --vary limit=1..20 --vary queue.max_wait=30,60 -q";
  auto whole = dir / "whole";
  REQUIRE(run_usher(sweep + " --jobs 2 --out " + whole.string()).code == 0);
  CHECK_FALSE(fs::exists(whole / ".usher-sweep-journal.jsonl"));  // gone once done

  // The same sweep, killed (SIGKILL: no chance to tidy up) once its journal
  // holds a few variants.
  auto cut = dir / "cut";
  auto journal = cut / ".usher-sweep-journal.jsonl";
  auto pid_file = dir / "pid";
  std::string cmd = "cd '" + std::string(USHER_SOURCE_DIR) + "' && { '" + USHER_BINARY + "' " + sweep +
                    " --jobs 1 --out " + cut.string() + " >/dev/null 2>&1 & echo $! >'" +
                    pid_file.string() + "'; }";
  REQUIRE(std::system(cmd.c_str()) == 0);
  auto lines = [&] {
    auto text = slurp(journal);
    return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
  };
  for (int i = 0; i < 6000 && lines() < 4; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  pid_t pid = std::stoi(slurp(pid_file));
  REQUIRE(::kill(pid, SIGKILL) == 0);
  // Gone, or a zombie that writes nothing more (its parent shell has ended).
  for (int i = 0; i < 400 && ::kill(pid, 0) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto kept = lines();
  REQUIRE(kept >= 4);
  REQUIRE(kept < 41);  // killed before the end
  INFO(kept - 1 << " variants in the journal");

  // Another sweep into that directory is refused with --resume, naming what differs.
  auto other = run_usher("sweep --trace " + trace_path +
                         " --plan streams:team --vary limit=1..3 --resume --out " + cut.string());
  CHECK(other.code == 2);
  CHECK(other.err.find("differs from this one in: vary") != std::string::npos);
  CHECK(lines() == kept);  // and the journal is left as it was

  auto resumed = run_usher(sweep.substr(0, sweep.size() - 3) + " --resume --jobs 2 --out " + cut.string());
  REQUIRE(resumed.code == 0);
  CHECK(resumed.out.find("resumed: ") != std::string::npos);
  CHECK(resumed.out.find(" of 40 variants taken from the interrupted sweep") != std::string::npos);
  CHECK(resumed.out.find("resumed: 0 of") == std::string::npos);
  for (auto* f : {"sweep.csv", "sweep_accounts.csv"}) {
    INFO(f);
    CHECK(slurp(cut / f) == slurp(whole / f));
  }
  CHECK_FALSE(fs::exists(journal));
}

TEST_CASE("bad --vary syntax exits 2 with a clear message and writes nothing") {
  auto out = scratch("bad-vary");
  struct example {
    const char* vary;
    const char* golden;
  };
  for (auto ex : {example{"--vary limit", "vary_no_equals.err"},
                  example{"--vary limit=9..3", "vary_reversed_range.err"},
                  example{"--vary limit=1..3:0", "vary_zero_step.err"},
                  example{"--vary limit=1,,3", "vary_empty_value.err"},
                  example{"--vary limt=1,2", "vary_unknown_key.err"},
                  example{"--vary limit=1,x", "vary_bad_value.err"}}) {
    INFO(ex.vary);
    auto r = run_usher("sweep " + trace + " --plan streams:team " + ex.vary + " --out " + out.string());
    CHECK(r.code == 2);
    CHECK(r.err == golden(ex.golden));
    CHECK(r.out.empty());
    CHECK_FALSE(fs::exists(out / "sweep.csv"));
  }
  CHECK(run_usher("sweep " + trace + " --plan streams:team --out " + out.string()).code == 2);
}

TEST_CASE("compare and sweep print no progress when stderr is not a terminal") {
  auto out = scratch("quiet-progress");
  auto r = run_usher("sweep " + trace + " --plan streams:team --vary limit=5,6,7 --jobs 2 --out " + out.string());
  CHECK(r.code == 0);
  CHECK(r.err.empty());
  auto c = run_usher("compare " + trace + " --plan streams:solo --plan streams:team --out " + out.string());
  CHECK(c.code == 0);
  CHECK(c.err.empty());
}

TEST_CASE("a compare needs two plans and a sweep needs a trace") {
  CHECK(run_usher("compare " + trace + " --plan streams --out /tmp/x").code == 2);
  CHECK(run_usher("sweep --plan streams --vary limit=1,2 --out /tmp/x").code == 2);
  CHECK(run_usher("compare " + trace + " --plan streams --plan streams:gold --out /tmp/x").code == 2);
  for (auto* c : {"compare", "sweep", "advise", "plot"}) {
    auto h = run_usher(std::string(c) + " --help");
    CHECK(h.code == 0);
    CHECK(h.out.find("docs/WHATIF.md") != std::string::npos);
  }
}

// An out-of-tree gate type end to end (issue #13 part 1, docs/GATES.md): the
// example library examples/peak_hours_gate, built as its own target, loaded
// by a plan's `library` key, caps peak hours (an account may have its own
// cap) and leaves off-peak alone; a library beside a plan file is found
// there; a library that does not load is refused with its place; a live
// node runs plug-in gates from its config and reports them.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

#include "support/live_node.hpp"
#include "support/usher_cli.hpp"

using usher::testing::key_line;
using usher::testing::live_node;
using usher::testing::run_usher;
using usher::testing::scratch;

namespace {

struct row {
  double arrival = 0, start = 0, end = 0;
  std::string status;
};

std::vector<row> outcomes(const std::filesystem::path& file) {
  std::vector<row> out;
  for (auto& f : usher::testing::csv_rows(file)) {
    row r;
    r.arrival = std::stod(f["arrival_s"]);
    r.status = f["status"];
    if (r.status == "200") {
      r.start = std::stod(f["start_s"]);
      r.end = std::stod(f["end_s"]);
    }
    out.push_back(r);
  }
  return out;
}

// The most of `rows` running at once, over [from, to).
int most_running(const std::vector<row>& rows, double from, double to) {
  int most = 0;
  for (const auto& at : rows) {
    if (at.status != "200" || at.start < from || at.start >= to) continue;
    int n = 0;
    for (const auto& r : rows) n += r.status == "200" && r.start <= at.start && at.start < r.end;
    most = std::max(most, n);
  }
  return most;
}

std::filesystem::path write_trace() {
  auto trace = scratch("peak-trace.csv");
  std::ofstream out(trace);
  out << "arrival_s,account,duration_s\n";
  for (int i = 0; i < 6; ++i) out << 8 * 3600 << ",acme,100\n";   // 08:00: off-peak
  for (int i = 0; i < 6; ++i) out << 10 * 3600 << ",acme,100\n";  // 10:00: peak
  return trace;
}

}  // namespace

TEST_CASE("an out-of-tree gate library caps peak hours and leaves off-peak alone") {
  auto trace = write_trace();
  auto dir = scratch("peak-out");
  auto r = run_usher("simulate -q --trace " + trace.string() +
                     " --plan examples/peak_hours_gate/plan.ini --set gate.peak.library=" +
                     PEAK_HOURS_GATE_LIBRARY + " --out " + dir.string());
  INFO(r.err);
  REQUIRE(r.code == 0);
  auto rows = outcomes(dir / "outcomes.csv");
  REQUIRE(rows.size() == 12);
  // Off-peak Team's 10 streams hold all six at once; in peak hours two run
  // at a time, and the rest wait their turn in the queue.
  CHECK(most_running(rows, 8 * 3600, 9 * 3600) == 6);
  CHECK(most_running(rows, 10 * 3600, 11 * 3600) == 2);
  int started_at_once = 0;
  for (const auto& x : rows)
    if (x.arrival == 10 * 3600 && x.status == "200" && x.start == x.arrival) ++started_at_once;
  CHECK(started_at_once == 2);
  // Without the gate the same trace runs six at once at 10:00 too.
  auto plain = scratch("peak-plain");
  REQUIRE(run_usher("simulate -q --trace " + trace.string() + " --plan streams:team --out " + plain.string())
              .code == 0);
  CHECK(most_running(outcomes(plain / "outcomes.csv"), 10 * 3600, 11 * 3600) == 6);
  // An account's own peak_limit (the library reads it with count_by_profile).
  auto own = scratch("peak-own");
  auto o = run_usher("simulate -q --trace " + trace.string() +
                     " --plan examples/peak_hours_gate/plan.ini --set gate.peak.library=" +
                     PEAK_HOURS_GATE_LIBRARY + " --set account.acme.gate.peak.peak_limit=4 --out " +
                     own.string());
  INFO(o.err);
  REQUIRE(o.code == 0);
  CHECK(most_running(outcomes(own / "outcomes.csv"), 10 * 3600, 11 * 3600) == 4);
}

TEST_CASE("a gate library named in a plan file is found beside the file") {
  auto dir = scratch("peak-plan-dir");
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(PEAK_HOURS_GATE_LIBRARY, dir / "libpeak_hours_gate.so");
  {
    std::ofstream out(dir / "plan.ini");
    out << "preset = streams:team\n[gate.peak]\ntype = peak_hours\nlibrary = libpeak_hours_gate.so\n"
        << "peak_limit = 1\nhours = 0-24\n";
  }
  auto out = scratch("peak-plan-out");
  auto r = run_usher("simulate -q --trace " + write_trace().string() + " --plan " + (dir / "plan.ini").string() +
                     " --out " + out.string());
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(most_running(outcomes(out / "outcomes.csv"), 0, 24 * 3600) == 1);
}

TEST_CASE("a gate library that cannot be used is refused with its place") {
  auto trace = write_trace();
  SECTION("no such file") {
    auto r = run_usher("simulate -q --trace " + trace.string() +
                       " --plan examples/peak_hours_gate/plan.ini --set gate.peak.library=no/such/lib.so --out " +
                       scratch("peak-bad").string());
    CHECK(r.code == 2);
    CHECK_THAT(r.err, Catch::Contains("--set") && Catch::Contains("gate.peak.library") &&
                          Catch::Contains("cannot load the gate library"));
  }
  SECTION("no library at all: the type is unknown") {
    auto r = run_usher("simulate -q --trace " + trace.string() +
                       " --plan examples/peak_hours_gate/plan.ini --out " + scratch("peak-none").string());
    CHECK(r.code == 2);
    CHECK_THAT(r.err, Catch::Contains("examples/peak_hours_gate/plan.ini:7") &&
                          Catch::Contains("unknown gate type \"peak_hours\""));
  }
  SECTION("a shared object that is not a gate library") {
    // The example's own library renamed is still one; libc is not.
    auto r = run_usher("simulate -q --trace " + trace.string() +
                       " --plan examples/peak_hours_gate/plan.ini --set gate.peak.library=/lib/x86_64-linux-gnu/libz.so.1 --out " +
                       scratch("peak-notlib").string());
    CHECK(r.code == 2);
    CHECK_THAT(r.err, Catch::Contains("is not a gate library"));
  }
}

TEST_CASE("a live node runs a plan's plug-in gates, a library's too, and reports them") {
  live_node node(std::string("[plan.gated]\npreset = streams\nlimit = 10\nqueue.max_depth = 0\n") +
                 "gate.tif.type = tokens_in_flight\ngate.tif.limit = 100\n"
                 "gate.peak.type = peak_hours\ngate.peak.library = " + PEAK_HOURS_GATE_LIBRARY +
                 "\ngate.peak.peak_limit = 2\ngate.peak.hours = 0-24\n"
                 "[account.acme]\nplan = gated\n" + key_line("acme-key"));
  auto first = node.admit("acme-key", {{"tokens", 60}});
  REQUIRE(first.status == 200);
  // 60 + 50 tokens > 100: the token room refuses, nothing is charged anywhere.
  auto refused = node.admit("acme-key", {{"tokens", 50}});
  CHECK(refused.status == 429);
  CHECK(refused.json()["error"]["code"] == "gate");
  CHECK(refused.json()["error"]["message"] == "Rate limited: the plan's gate tif has no room");
  auto second = node.admit("acme-key", {{"tokens", 40}});
  REQUIRE(second.status == 200);
  // Two running: the peak cap of the library's gate (all day long) refuses a third.
  auto third = node.admit("acme-key").json();
  CHECK(third["error"]["code"] == "gate");
  CHECK(third["error"]["message"] == "Rate limited: the plan's gate peak has no room");
  auto usage = node.call(boost::beast::http::verb::get, "/account/metrics", "acme-key").json();
  INFO(usage.dump());
  CHECK(usage["gates"]["tif.tokens_in_flight"] == 100);
  CHECK(usage["gates"]["peak.running"] == 2);
  CHECK(usage["requests"] == 2);
  auto released = node.call(boost::beast::http::verb::delete_,
                            "/v1/leases/" + first.json()["lease"].get<std::string>(), "acme-key");
  REQUIRE(released.status / 100 == 2);
  usage = node.call(boost::beast::http::verb::get, "/account/metrics", "acme-key").json();
  CHECK(usage["gates"]["tif.tokens_in_flight"] == 40);
  CHECK(usage["gates"]["peak.running"] == 1);
  CHECK(node.admit("acme-key", {{"tokens", 50}}).status == 200);
}

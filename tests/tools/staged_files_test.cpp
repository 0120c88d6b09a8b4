// Reruns into the same --out (tools/staged_files.hpp), issue #15: a run
// that fails leaves the earlier outputs byte for byte as they were; one that
// succeeds replaces them whole, stale pictures included, and never touches
// the user's own files.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "support/usher_cli.hpp"

namespace fs = std::filesystem;

using namespace usher::testing;

namespace {

const std::string sample = "--trace samples/sample-trace.csv";

// Every entry under `dir` (hidden ones too), with the content of files.
std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (auto& e : fs::recursive_directory_iterator(dir)) {
    auto name = fs::relative(e.path(), dir).string();
    out[name] = e.is_directory() ? "<dir>" : slurp(e.path());
  }
  return out;
}

void write_file(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
}

}  // namespace

TEST_CASE("a failed simulate rerun leaves the earlier outputs and pictures byte-identical") {
  auto out = scratch("rerun-simulate");
  REQUIRE(run_usher("simulate -q --plan samples/plans/team.ini " + sample + " --plots --out " +
                    out.string())
              .code == 0);
  write_file(out / "notes.txt", "mine\n");
  auto before = snapshot(out);
  REQUIRE(before.count("outcomes.csv"));
  REQUIRE(before.count("inflight.svg"));
  REQUIRE(before.count("plots/inflight.gp"));
  // Each fails at another stage: a missing trace, a plan, an override, a
  // workload, an option, a directory given as the trace, a row halfway.
  for (std::string failing :
       {std::string("--plan streams --trace tyop.csv"), std::string("--plan nosuch " + sample),
        std::string("--plan streams --set queue.max_wiat=3 " + sample),
        std::string("--plan streams --workload no/such.ini"),
        std::string("--plan streams --interval 5mins " + sample),
        std::string("--plan streams --trace samples"),
        std::string("--plan streams --trace tests/tools/data/unsorted.csv"),
        std::string("--plan streams --trace tests/tools/data/missing_column.csv --plots")}) {
    INFO(failing);
    auto r = run_usher("simulate " + failing + " --out " + out.string());
    CHECK(r.code == 2);
    CHECK(snapshot(out) == before);
  }
}

TEST_CASE(
    "a good simulate rerun replaces the outputs and removes the pictures of the earlier run") {
  auto out = scratch("rerun-replace");
  REQUIRE(run_usher("simulate -q --plan samples/plans/team.ini " + sample + " --plots --out " +
                    out.string())
              .code == 0);
  write_file(out / "notes.txt", "mine\n");
  auto old_summary = slurp(out / "summary.json");
  REQUIRE(run_usher("simulate -q --plan streams:solo " + sample + " --out " + out.string()).code ==
          0);
  CHECK(slurp(out / "summary.json") != old_summary);
  CHECK(slurp(out / "summary.json").find("streams:solo") != std::string::npos);
  for (auto* stale : {"inflight.svg", "waits.svg", "outcomes.svg", "index.html", "plots"}) {
    INFO(stale);
    CHECK_FALSE(fs::exists(out / stale));
  }
  CHECK(slurp(out / "notes.txt") == "mine\n");
  // Nothing but the run's files and the user's: no staging left behind.
  std::set<std::string> names;
  for (auto& e : fs::directory_iterator(out)) names.insert(e.path().filename().string());
  CHECK(names ==
        std::set<std::string>{"notes.txt", "outcomes.csv", "summary.json", "timeseries.csv"});
  // Byte-identical to the same run into a fresh directory.
  auto fresh = scratch("rerun-fresh");
  REQUIRE(
      run_usher("simulate -q --plan streams:solo " + sample + " --out " + fresh.string()).code ==
      0);
  for (auto* f : {"outcomes.csv", "summary.json", "timeseries.csv"})
    CHECK(slurp(out / f) == slurp(fresh / f));
}

TEST_CASE("a failed run into a new directory leaves no directory behind") {
  auto out = scratch("rerun-new") / "a" / "b";
  CHECK(run_usher("simulate --plan nosuch " + sample + " --out " + out.string()).code == 2);
  CHECK_FALSE(fs::exists(out.parent_path()));
  CHECK(run_usher("simulate --plan streams --trace tests/tools/data/unsorted.csv --out " +
                  out.string())
            .code == 2);
  CHECK_FALSE(fs::exists(out.parent_path()));
  auto file = scratch("rerun-file");
  write_file(file, "x");
  auto r = run_usher("simulate -q --plan streams " + sample + " --out " + file.string());
  CHECK(r.code == 2);
  CHECK(r.err.find("not a directory") != std::string::npos);
}

TEST_CASE(
    "compare, sweep and advise reruns: a failure changes nothing, a success replaces everything") {
  SECTION("compare") {
    auto out = scratch("rerun-compare");
    REQUIRE(run_usher("compare -q -j1 " + sample +
                      " --plan streams:solo --plan streams:team --plan weighted --plots --out " +
                      out.string())
                .code == 0);
    auto before = snapshot(out);
    REQUIRE(before.count("plan3/summary.json"));
    REQUIRE(before.count("index.html"));
    CHECK(run_usher("compare -j1 " + sample + " --plan streams:solo --plan streams:gold --out " +
                    out.string())
              .code == 2);
    CHECK(run_usher("compare -j1 --trace tests/tools/data/unsorted.csv --plan streams:solo --plan "
                    "streams --out " +
                    out.string())
              .code == 2);
    CHECK(snapshot(out) == before);
    REQUIRE(run_usher("compare -q -j1 " + sample +
                      " --plan streams:solo --plan streams:team --out " + out.string())
                .code == 0);
    CHECK(fs::exists(out / "plan2" / "outcomes.csv"));
    CHECK_FALSE(fs::exists(out / "plan3"));
    CHECK_FALSE(fs::exists(out / "index.html"));
    CHECK_FALSE(fs::exists(out / "plan1" / "inflight.svg"));
  }
  SECTION("sweep") {
    auto out = scratch("rerun-sweep");
    REQUIRE(run_usher("sweep -q -j1 " + sample +
                      " --plan streams:team --vary limit=8,12 --plots --out " + out.string())
                .code == 0);
    auto before = snapshot(out);
    REQUIRE(before.count("sweep_not_200_rate.svg"));
    CHECK(run_usher("sweep -j1 " + sample + " --plan streams:team --vary limt=8,12 --out " +
                    out.string())
              .code == 2);
    CHECK(run_usher("sweep -j1 --trace tyop.csv --plan streams:team --vary limit=8,12 --out " +
                    out.string())
              .code == 2);
    CHECK(snapshot(out) == before);
    REQUIRE(run_usher("sweep -q -j1 " + sample + " --plan streams:team --vary limit=9 --out " +
                      out.string())
                .code == 0);
    CHECK(slurp(out / "sweep.csv").find("\n1,9,") != std::string::npos);
    CHECK_FALSE(fs::exists(out / "sweep_not_200_rate.svg"));
    CHECK_FALSE(fs::exists(out / "plots"));
  }
  SECTION("advise") {
    auto out = scratch("rerun-advise");
    REQUIRE(
        run_usher("advise -q -j1 " + sample + " --family weighted --out " + out.string()).code ==
        0);
    auto before = snapshot(out);
    REQUIRE(before.count("advise.json"));
    CHECK(run_usher("advise -j1 --trace tyop.csv --family weighted --out " + out.string()).code ==
          2);
    CHECK(run_usher("advise -j1 " + sample + " --family weighted --set limitt=3 --out " +
                    out.string())
              .code == 2);
    CHECK(snapshot(out) == before);
    REQUIRE(
        run_usher("advise -q -j1 " + sample + " --family exclusive --out " + out.string()).code ==
        0);
    CHECK(slurp(out / "advise.json").find("\"family\": \"exclusive\"") != std::string::npos);
  }
}

TEST_CASE("a failed redraw with usher plot keeps the earlier pictures") {
  auto out = scratch("rerun-plot");
  REQUIRE(run_usher("simulate -q --plan samples/plans/team.ini " + sample + " --plots --out " +
                    out.string())
              .code == 0);
  // A time series that lost a column: the redraw cannot read it.
  write_file(out / "timeseries.csv", "interval_start_s,account\n0,acme\n");
  auto before = snapshot(out);
  CHECK(run_usher("plot -q --run " + out.string()).code == 2);
  CHECK(snapshot(out) == before);
}

TEST_CASE("a run removes the staging directories that killed runs left, and no other") {
  auto out = scratch("abandoned");
  fs::create_directories(out);
  // A process that is gone: a child that has exited and been reaped.
  pid_t gone = ::fork();
  if (gone == 0) ::_exit(0);
  REQUIRE(gone > 0);
  int status = 0;
  REQUIRE(::waitpid(gone, &status, 0) == gone);
  auto dead = out / (".usher-staging-" + std::to_string(gone) + "-abc123");
  auto dead_trash = out / (".usher-replaced-" + std::to_string(gone) + "-def456");
  auto alive = out / (".usher-staging-" + std::to_string(::getpid()) + "-ghi789");
  auto old_style = out / ".usher-staging-Xy12Zq";
  for (auto& d : {dead, dead_trash, alive, old_style}) {
    fs::create_directories(d);
    write_file(d / "outcomes.csv", "id\n");
  }
  write_file(out / ".usher-staging-notes", "the user's own file");
  REQUIRE(run_usher("simulate -q --plan streams " + sample + " --out " + out.string()).code == 0);
  CHECK_FALSE(fs::exists(dead));
  CHECK_FALSE(fs::exists(dead_trash));
  CHECK(fs::exists(alive / "outcomes.csv"));
  CHECK(fs::exists(old_style / "outcomes.csv"));
  CHECK(slurp(out / ".usher-staging-notes") == "the user's own file");
  CHECK(fs::exists(out / "outcomes.csv"));
  // The run's own staging directory is gone too.
  std::size_t hidden = 0;
  for (auto& e : fs::directory_iterator(out)) hidden += e.path().filename().string()[0] == '.';
  CHECK(hidden == 3);
}

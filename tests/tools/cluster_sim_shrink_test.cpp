// usher cluster-sim --shrink: the fewest faults of a failing run that still
// break what it broke, each checked by running it again here.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "support/usher_cli.hpp"
#include "tools/cluster_sim.hpp"
#include "tools/cluster_sim_shrink.hpp"

using namespace usher;
using usher::testing::csv_rows;
using usher::testing::scratch;
using usher::testing::slurp;

namespace {

// Members a, b and c; one account of one stream; lease_ttl 6 s. Its first
// request holds for 30 s, the others for 3 s from 12 s on: a holder that
// goes on after its lease is lost (--holders-keep-going) overlaps them.
tools::cluster_sim_request one_stream(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  tools::cluster_sim_request r;
  r.config = (dir / "cluster.ini").string();
  std::ofstream(r.config) << "[node]\nlease_ttl = 6s\n[cluster]\n"
                             "peers = a@127.0.0.1:7401, b@127.0.0.1:7402, c@127.0.0.1:7403\n"
                             "replicas = 0\nheartbeat = 500ms\nfailure_timeout = 2s\n"
                             "[account.solo]\nplan = streams:solo\nlimit = 1\n";
  r.trace = (dir / "trace.csv").string();
  std::ofstream trace(r.trace);
  // (Ids with a comma: a cut trace keeps its rows as they were.)
  trace << "id,arrival_s,account,duration_s\n\"first, long\",1,solo,30\n";
  for (int t = 12; t <= 40; t += 4) trace << "\"r," << t << "\"," << t << ",solo,3\n";
  r.holders_keep_going = true;
  return r;
}

std::vector<std::string> lines_of(const std::string& path) {
  std::vector<std::string> out;
  std::istringstream in(slurp(path));
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// What `r` breaks with exactly these faults.
tools::broken_promises breaks(tools::cluster_sim_request r, const std::vector<std::string>& lines,
                              const std::filesystem::path& dir) {
  auto path = dir / "check.txt";
  std::ofstream out(path);
  for (auto& l : lines) out << l << "\n";
  out.close();
  r.faults = path.string();
  r.random_faults = 0;
  r.out_dir.clear();
  return tools::broken_by(tools::run_cluster_sim(r));
}

}  // namespace

TEST_CASE("cluster-sim --shrink: of a schedule that puts an account over its limit, the fewest faults that still do, and no fewer") {
  auto dir = scratch("cluster-sim-shrink");
  auto r = one_stream(dir);
  // The first request's member (a: the members in turn) cut off past a
  // lease TTL: its holder's renewals fail there, its lease is lost, and the
  // holder goes on. Among faults that change nothing of that: a short
  // pause, a crash and restart of c after it, a delay.
  std::string cut = "partition a | b c 2s..12s";
  std::ofstream(dir / "faults.txt") << "delay 0ms..1ms\npause b 0.5s..0.7s\n"
                                    << cut << "\ncrash c at 20s\nrestart c at 21s\n";
  r.faults = (dir / "faults.txt").string();

  auto schedule = (dir / "shrunk.txt").string();
  std::vector<std::string> steps;
  auto s = tools::shrink_faults(r, schedule, (dir / "cut.csv").string(), [&](const std::string& step) { steps.push_back(step); });
  CHECK(s.broken.over_limit);
  CHECK(s.reproduced);
  CHECK(s.whole.size() == 5);
  CHECK(s.lines.size() < s.whole.size());
  CHECK(s.runs > 2);
  // The cut is kept, its window shortened to what still does it (its end
  // bisected: a lease TTL of 6 s needs more than 4 s).
  REQUIRE(s.lines.size() == 1);
  const std::string kept_cut = s.lines[0];
  REQUIRE(kept_cut.rfind("partition a | b c 2s..", 0) == 0);
  auto end = std::stod(kept_cut.substr(kept_cut.find("..") + 2));
  CHECK(end > 4);
  CHECK(end < 12);
  CHECK(std::find(steps.begin(), steps.end(), cut + ": still breaks them as " + kept_cut) != steps.end());
  // Over the limit first at 12 s: the rows after it are cut, as written.
  REQUIRE(s.trace == (dir / "cut.csv").string());
  CHECK(s.rows == 9);
  CHECK(s.rows_kept == 2);
  CHECK(slurp(s.trace) == "id,arrival_s,account,duration_s\n\"first, long\",1,solo,30\n\"r,12\",12,solo,3\n");
  // The file holds the schedule, and with the cut trace it breaks the same
  // promises; without any one of its lines it does not.
  CHECK(lines_of(schedule) == s.lines);
  auto short_run = r;
  short_run.trace = s.trace;
  CHECK(breaks(short_run, s.lines, dir).covers(s.broken));
  for (std::size_t i = 0; i < s.lines.size(); ++i) {
    auto fewer = s.lines;
    fewer.erase(fewer.begin() + static_cast<std::ptrdiff_t>(i));
    INFO("without " << s.lines[i]);
    CHECK_FALSE(breaks(short_run, fewer, dir).covers(s.broken));
  }
  REQUIRE_FALSE(steps.empty());
  CHECK_THAT(steps.front(), Catch::Contains("5 faults break: over a limit"));

  // Clients that keep the rules: the same faults break nothing, and
  // nothing is shrunk (one run; the file holds the whole schedule).
  r.holders_keep_going = false;
  auto kept = tools::shrink_faults(r, schedule, (dir / "cut.csv").string(), [](const std::string&) {});
  CHECK_FALSE(kept.broken.any());
  CHECK(kept.runs == 1);
  CHECK(kept.trace.empty());
  CHECK(lines_of(schedule) == kept.whole);
  CHECK(kept.whole.size() == 5);
}

TEST_CASE("cluster-sim --shrink: random faults come out as lines a schedule file takes, and --out gets the smallest run with its schedule") {
  auto dir = scratch("cluster-sim-shrink-cli");
  auto r = one_stream(dir);
  // The drawn schedule, written out, is the same run: byte for byte.
  r.random_faults = 6;
  r.seed = 4;
  r.out_dir = (dir / "drawn").string();
  std::filesystem::create_directories(r.out_dir);
  auto drawn = tools::run_cluster_sim(r);
  REQUIRE(drawn.schedule.size() >= 7);  // a delay, six faults (a crash is two lines), reloads
  std::ofstream file(dir / "drawn.txt");
  for (auto& l : drawn.schedule) file << l << "\n";
  file.close();
  auto again = r;
  again.random_faults = 0;
  again.faults = (dir / "drawn.txt").string();
  again.out_dir = (dir / "again").string();
  std::filesystem::create_directories(again.out_dir);
  tools::run_cluster_sim(again);
  for (auto* name : {"outcomes.csv", "leases.csv", "events.log"}) {
    INFO(name);
    CHECK(slurp(dir / "drawn" / name) == slurp(dir / "again" / name));
  }

  // The command: the cut of the test above between two short pauses.
  std::ofstream(dir / "faults.txt") << "pause b 1s..1.2s\npartition a | b c 2s..12s\npause c 26s..26.2s\n";
  auto out = dir / "run";
  auto run = usher::testing::run_usher("cluster-sim --config " + r.config + " --trace " + r.trace +
                                       " --faults " + (dir / "faults.txt").string() +
                                       " --holders-keep-going --shrink --out " + out.string());
  REQUIRE(run.code == 0);
  CHECK_THAT(run.out, Catch::Contains("shrunk 3 faults to 1 and the trace to 2 of 9 rows") &&
                          Catch::Contains("still break: over a limit") &&
                          Catch::Contains("--trace " + (out / "shrunk-trace.csv").string()) &&
                          Catch::Contains("--faults " + (out / "shrunk-faults.txt").string()));
  CHECK_THAT(run.err, Catch::Contains("shrink: 3 faults break: over a limit"));
  auto shrunk = lines_of((out / "shrunk-faults.txt").string());
  REQUIRE(shrunk.size() == 1);
  CHECK(shrunk[0].rfind("partition a | b c 2s..", 0) == 0);
  CHECK(shrunk[0] != "partition a | b c 2s..12s");  // shortened
  // --out's files are the shrunk schedule's run: it was over the limit.
  auto summary = nlohmann::json::parse(slurp(out / "summary.json"));
  CHECK_THAT(summary["replay"].get<std::string>(), Catch::Contains("shrunk-faults.txt"));
  CHECK(summary["overall"]["unit_seconds_over_limit"].get<double>() > 0);
  CHECK(summary["overall"]["first_over_limit_s"].get<double>() == 12);
  CHECK(summary["accounts"]["solo"]["first_over_limit_s"].get<double>() == 12);
  CHECK(csv_rows(out / "outcomes.csv").size() == 2);
  // Its events.log follows the account first over its limit, as its
  // clients saw it: the first holder cut off with a, losing its lease and
  // going on, and the next one granted meanwhile.
  auto events = slurp(out / "events.log");
  CHECK_THAT(events, Catch::Contains("fault " + shrunk.front()));
  CHECK_THAT(events, Catch::Contains("1 client solo first, long sent to a") &&
                         Catch::Contains("client solo first, long answered 200: lease ") &&
                         Catch::Contains("client solo first, long renews through a") &&
                         Catch::Contains("client solo first, long lost its lease and goes on using it") &&
                         Catch::Contains("12 client solo r,12 sent to b") &&
                         Catch::Contains("client solo r,12 answered 200"));
  CHECK_THAT(run.out, Catch::Contains("--follow solo"));
  // Its replay line writes the same files.
  auto replay = run.out.substr(run.out.find("replay: usher ") + 14);
  replay = replay.substr(0, replay.find('\n'));
  REQUIRE(replay.size() > 4);
  REQUIRE(replay.substr(replay.size() - 4) == " DIR");
  auto replayed = usher::testing::run_usher(replay.substr(0, replay.size() - 3) + (dir / "replayed").string() + " -q");
  REQUIRE(replayed.code == 0);
  for (auto* name : {"outcomes.csv", "leases.csv", "events.log"}) {
    INFO(name);
    CHECK(slurp(out / name) == slurp(dir / "replayed" / name));
  }
  auto unknown = usher::testing::run_usher("cluster-sim --config " + r.config + " --trace " + r.trace +
                                           " --follow nobody --out " + (dir / "unknown").string());
  CHECK(unknown.code != 0);
  CHECK_THAT(unknown.err, Catch::Contains("--follow") && Catch::Contains("nobody"));
}

// The backend model end to end (issue #13 part 3, docs/PLANS.md "Backend
// model"): a simulation's end times follow from tokens and load, by a hand
// computation; a plan without it replays durations as before; more streams
// per account mean longer holds; --threads gives the same bytes; advise and
// bad keys are refused with their place.
#include <catch2/catch.hpp>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "support/usher_cli.hpp"

using usher::testing::run_usher;
using usher::testing::scratch;
using usher::testing::slurp;

namespace {

// (start_s, end_s, status) of each outcomes.csv row, in trace order.
std::vector<std::string> spans(const std::filesystem::path& outcomes) {
  std::vector<std::string> out;
  for (auto& row : usher::testing::csv_rows(outcomes))
    out.push_back(row["start_s"] + "-" + row["end_s"] + " " + row["status"]);
  return out;
}

}  // namespace

TEST_CASE("under a backend model, a request's end follows from its tokens and the load it meets") {
  auto trace = scratch("backend-trace.csv");
  {
    std::ofstream out(trace);
    out << "arrival_s,account,duration_s,model,input_tokens,output_tokens\n"
        // a and b together on one replica at 100 tokens/s in all: 50 each.
        << "0,a,9,m,0,100\n"
        << "0,b,9,m,0,100\n"
        // c reads 200 prompt tokens at 1000/s (0.2 s), then 20 tokens alone.
        << "10,c,9,m,200,20\n"
        // d has no token counts: its 1.5 s is its time alone (150 tokens)...
        << "20,d,1.5,m,,\n"
        // ... shared with e from 20.5 s: 50 tokens by then, 100 more at 50/s (2 s),
        // while e decodes 100 in those 2 s and is done with d.
        << "20.5,e,9,m,0,100\n"
        // A model without servers keeps the trace's duration.
        << "30,f,2.5,other,0,100\n";
  }
  const std::string plan =
      " --plan streams:team@backend.replicas=1,backend.throughput=1:100,backend.prefill=1000,"
      "backend.other.replicas=none";
  auto out = scratch("backend-out");
  auto r = run_usher("simulate -q --trace " + trace.string() + plan + " --out " + out.string());
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(spans(out / "outcomes.csv") == std::vector<std::string>{
                                           "0-2 200", "0-2 200", "10-10.4 200", "20-22.5 200",
                                           "20.5-22.5 200", "30-32.5 200"});
  auto summary = nlohmann::json::parse(slurp(out / "summary.json"));
  CHECK(summary["plan"]["settings"]["backend.replicas"] == "1");
  CHECK(summary["overall"]["hold_s"]["max"] == 2.5);

  // Without the keys the same trace replays its durations.
  auto plain = scratch("backend-plain");
  REQUIRE(run_usher("simulate -q --trace " + trace.string() + " --plan streams:team --out " +
                    plain.string())
              .code == 0);
  CHECK(spans(plain / "outcomes.csv") ==
        std::vector<std::string>{"0-9 200", "0-9 200", "10-19 200", "20-21.5 200", "20.5-29.5 200",
                                 "30-32.5 200"});
  CHECK(nlohmann::json::parse(slurp(plain / "summary.json"))["plan"]["settings"].count(
            "backend.replicas") == 0);
}

TEST_CASE("under a backend model, a bigger plan holds its slots longer, and threads change no byte") {
  // 40 requests of one account at once, 200 tokens each, on one replica
  // whose throughput stops growing at 8 streams: Team (10) runs 10 at a time
  // at 20 tokens/s each, a limit of 40 runs all 40 at 5 tokens/s each.
  auto trace = scratch("backend-load.csv");
  {
    std::ofstream out(trace);
    out << "arrival_s,account,duration_s,input_tokens,output_tokens\n";
    for (int i = 0; i < 40; ++i) out << "0,acme,1,0,200\n";
    for (int i = 0; i < 40; ++i) out << "0,other,1,0,200\n";
  }
  auto run = [&](const std::string& plan, const std::string& name, const std::string& extra = "") {
    auto out = scratch(name);
    auto r = run_usher("simulate -q --trace " + trace.string() + " --plan '" + plan + "' --out " +
                       out.string() + extra);
    INFO(r.err);
    REQUIRE(r.code == 0);
    return out;
  };
  auto team = run("streams:team@queue.max_depth=100,queue.max_wait=none,backend.replicas=1,"
                  "backend.throughput=1:50",
                  "backend-team");
  auto big = run("streams:team@limit=40,queue.max_depth=100,queue.max_wait=none,"
                 "backend.replicas=1,backend.throughput=1:50",
                 "backend-big");
  auto hold = [](const std::filesystem::path& out) {
    return nlohmann::json::parse(slurp(out / "summary.json"))["accounts"]["acme"]["hold_s"];
  };
  // 80 requests of 200 tokens at 50 tokens/s in all: the replica is busy
  // 320 s either way; holds: Team runs 20 at once (2.5 tokens/s each: 80 s),
  // limit 40 runs all 80 at once (0.625 tokens/s: 320 s).
  CHECK(hold(team)["mean"] == 80);
  CHECK(hold(big)["mean"] == 320);
  // The same bytes on two threads (the accounts share the servers: one shard).
  auto two = run("streams:team@queue.max_depth=100,queue.max_wait=none,backend.replicas=1,"
                 "backend.throughput=1:50",
                 "backend-team-2", " --threads 2");
  for (auto f : {"outcomes.csv", "summary.json", "timeseries.csv"})
    CHECK(slurp(team / f) == slurp(two / f));
}

TEST_CASE("backend keys: bad values name the key, advise refuses a backend model") {
  auto r = run_usher("simulate -q --trace samples/sample-trace.csv --plan streams --set "
                     "'backend.throughput=2:100 4:200' --out " +
                     scratch("backend-bad").string());
  CHECK(r.code != 0);
  CHECK(r.err.find("backend.throughput: expected points STREAMS:TOKENS_PER_S") != std::string::npos);
  auto a = run_usher("advise --trace samples/sample-trace.csv --plan streams --set "
                     "backend.replicas=2 --out " +
                     scratch("backend-advise").string());
  CHECK(a.code != 0);
  CHECK(a.err.find("backend model couples the accounts") != std::string::npos);
}

TEST_CASE("an adaptive limit under a backend model keeps holds near its target by admitting fewer") {
  // Two requests a second for 10 minutes, 100 tokens each, on one replica
  // whose tokens per stream fall with load (20/s alone, 10/s at 10 streams,
  // 3/s at 50): more than it can serve. A fixed limit of 50 runs 50 at once,
  // each slowly; an AIMD limit with a 12 s target settles where holds are
  // near 12 s, and refuses what does not fit.
  auto trace = scratch("adaptive-load.csv");
  {
    std::ofstream out(trace);
    out << "arrival_s,account,duration_s,input_tokens,output_tokens\n";
    for (int i = 0; i < 1200; ++i) out << i / 2 << (i % 2 ? ".5" : "") << ",acme,1,0,100\n";
  }
  const std::string backend = "limit=50,backend.replicas=1,backend.throughput=1:20 10:100 50:150";
  auto run = [&](const std::string& plan, const std::string& name) {
    auto out = scratch(name);
    auto r = run_usher("simulate -q --trace " + trace.string() + " --plan 'streams@" + plan + "' --out " +
                       out.string());
    INFO(r.err);
    REQUIRE(r.code == 0);
    return nlohmann::json::parse(slurp(out / "summary.json"))["accounts"]["acme"];
  };
  auto fixed = run(backend, "adaptive-fixed");
  auto adaptive = run(backend + ",adaptive=aimd,adaptive.target=12s", "adaptive-aimd");
  INFO("fixed: " << fixed.dump() << "\nadaptive: " << adaptive.dump());
  double fixed_hold = fixed["hold_s"]["mean"], adaptive_hold = adaptive["hold_s"]["mean"];
  CHECK(fixed_hold > 25);
  CHECK(adaptive_hold < 15);
  CHECK(adaptive["in_flight"]["mean"] < fixed["in_flight"]["mean"]);
  // Per token the same target is 120 ms a token (100 tokens each): the same pressure.
  auto per_token = run(backend + ",adaptive=aimd,adaptive.signal=per_token,adaptive.target=120ms", "adaptive-token");
  INFO("per token: " << per_token.dump());
  CHECK(per_token["hold_s"]["mean"].get<double>() < 15);
  CHECK(per_token["in_flight"]["mean"] < fixed["in_flight"]["mean"]);
}

TEST_CASE("a per-token adaptive limit tells a long answer from a slow one, which a limit on the hold cannot") {
  // One request every 2 s for 20 minutes, answers of 40 or 2,000 tokens in
  // turn, on a replica that serves every stream at 20 tokens a second
  // whatever the load (never slowed): 2 s or 100 s holds, 50 ms a token.
  auto trace = scratch("adaptive-lengths.csv");
  {
    std::ofstream out(trace);
    out << "arrival_s,account,duration_s,input_tokens,output_tokens\n";
    for (int i = 0; i < 600; ++i) out << 2 * i << ",acme,1,0," << (i % 2 ? 2000 : 40) << "\n";
  }
  const std::string plan = "limit=60,queue.max_depth=0,backend.replicas=1,backend.throughput=1:20 100:2000,"
                           "adaptive=aimd";
  auto run = [&](const std::string& signal, const std::string& name) {
    auto out = scratch(name);
    auto r = run_usher("simulate -q --trace " + trace.string() + " --plan 'streams@" + plan + "," + signal +
                       "' --out " + out.string());
    INFO(r.err);
    REQUIRE(r.code == 0);
    return nlohmann::json::parse(slurp(out / "summary.json"))["accounts"]["acme"];
  };
  // A 30 s target on the hold backs off on every long answer: the limit
  // falls below the 25 or so long answers running at once, and requests are refused.
  auto by_hold = run("adaptive.target=30s", "adaptive-hold");
  // 100 ms a token: never slow here, nothing refused.
  auto by_token = run("adaptive.signal=per_token,adaptive.target=100ms", "adaptive-per-token");
  INFO("hold: " << by_hold.dump() << "\nper token: " << by_token.dump());
  CHECK(by_hold["status"]["429"].get<std::int64_t>() > 100);
  CHECK(!by_token["status"].contains("429"));
  CHECK(by_token["status"]["200"].get<std::int64_t>() == 600);
}

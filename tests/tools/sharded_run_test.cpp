// `usher simulate --threads N` over a trace (tools/sharded_run.hpp): the
// accounts replayed in shards at once, and every output file byte for byte
// the one of `--threads 1`, under every plan family, with a plan whose
// accounts share a model's capacity (one shard), and with bad input.
#include <catch2/catch.hpp>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "policies/plan.hpp"
#include "support/random_trace.hpp"
#include "support/usher_cli.hpp"
#include "tools/sharded_run.hpp"
#include "traces/loaded_trace.hpp"
#include "traces/plan_file.hpp"

namespace fs = std::filesystem;
using namespace usher::testing;

namespace {

// A trace of many accounts, with overlapping requests, WebSocket
// connections, sessions, models, keys that need quoting, and rows without
// an id (their row number is printed instead).
std::string varied_trace(std::uint64_t seed, int rows, int accounts) {
  std::mt19937_64 rng(seed);
  std::string text = "id,arrival_s,account,key,model,kind,conn,fail,duration_s\n";
  double t = 0;
  const char* models[] = {"", "llama-70b", "gpt-x", "whisper"};
  for (int i = 0; i < rows; ++i) {
    t += exponential(rng, 0.05);
    auto a = uniform_int(rng, 0, accounts - 1);
    std::string account = "acct-" + std::to_string(a * a % 97);
    std::string key = chance(rng, 0.1) ? "\"k,ey " + std::to_string(a) + "\"" : "k" + std::to_string(a % 3);
    std::string kind, conn;
    if (a % 5 == 4) {  // connection accounts: opens, requests, closes in turn
      const char* kinds[] = {"ws_open", "ws_request", "ws_request", "ws_close"};
      kind = kinds[i % 4];
      conn = account + "-c" + std::to_string(i / 40);
    } else if (a % 7 == 6) {
      kind = "session";
    }
    char times[64];
    std::snprintf(times, sizeof times, "%.6f", t);
    char duration[64];
    std::snprintf(duration, sizeof duration, "%.6f", exponential(rng, 2.0));
    // A third of the accounts never call llama-70b.
    std::string model = models[uniform_int(rng, 0, 3)];
    if (a % 3 == 0 && model == "llama-70b") model = "gpt-x";
    text += (i % 9 == 0 ? std::string() : "r" + std::to_string(i)) + "," + times + "," + account +
            "," + key + "," + model + "," + kind + "," + conn + "," +
            (chance(rng, 0.03) ? "1" : "") + "," + duration + "\n";
  }
  return text;
}

std::string run_files(const std::string& args, const std::string& name) {
  auto out = scratch(name);
  auto r = run_usher("simulate -q " + args + " --out " + out.string());
  INFO(r.err);
  REQUIRE(r.code == 0);
  std::string all;
  for (auto* f : {"outcomes.csv", "timeseries.csv", "summary.json"})
    all += std::string("== ") + f + "\n" + slurp(out / f);
  return all;
}

}  // namespace

TEST_CASE("simulate on several threads writes the files of one thread, byte for byte") {
  auto trace = scratch_root() / "varied.csv";
  {
    std::ofstream(trace) << varied_trace(7, 6000, 40);
  }
  for (std::string plan : {"streams@limit=3", "streams:team", "exclusive", "session-rate",
                           "per-model@limit=2", "weighted",
                           // Accounts that share a model's capacity run in one shard,
                           // the others in shards of their own.
                           "per-model@limit=3 --set model_capacity.llama-70b=4",
                           "streams@limit=2 --set model_capacity=5"}) {
    INFO(plan);
    std::string args = "--plan " + plan + " --interval 10 --trace " + trace.string();
    auto one = run_files(args, "one");
    CHECK(one.size() > 100000);
    CHECK(run_files(args + " --threads 2", "two") == one);
    CHECK(run_files(args + " --threads 3", "three") == one);
  }
  // More threads than accounts, and a trace of no rows.
  auto sample = "--plan samples/plans/team.ini --trace samples/sample-trace.csv";
  CHECK(run_files(std::string(sample) + " --threads 64", "many") == run_files(sample, "single"));
  auto empty = scratch_root() / "empty.csv";
  {
    std::ofstream(empty) << "arrival_s,account,duration_s\n";
  }
  auto none = "--plan streams --trace " + empty.string();
  CHECK(run_files(none + " --threads 2", "none-2") == run_files(none, "none-1"));
}

TEST_CASE("simulate on several threads refuses bad input as one thread does") {
  // The error of a row in the second half (in the second piece read) names
  // its line, as the serial reader does; nothing is written.
  auto trace = scratch_root() / "late-bad.csv";
  {
    std::ofstream out(trace);
    out << "arrival_s,account,duration_s\n";
    for (int i = 0; i < 5000; ++i) out << i << ",a" << i % 10 << "," << (i == 4321 ? "-1" : "1") << "\n";
  }
  for (std::string threads : {"1", "2", "4"}) {
    INFO(threads);
    auto out = scratch("bad-" + threads);
    auto r = run_usher("simulate --plan streams --threads " + threads + " --trace " + trace.string() +
                       " --out " + out.string());
    CHECK(r.code == 2);
    CHECK(r.err.find(trace.string() + ":4323: column 'duration_s'") != std::string::npos);
    CHECK_FALSE(fs::exists(out / "outcomes.csv"));
  }
}

TEST_CASE("accounts that share a model's capacity are dealt to one shard, the others by rows") {
  auto trace = scratch_root() / "deal.csv";
  {
    std::ofstream out(trace);
    out << "arrival_s,account,model,duration_s\n";
    // a: 5 rows, b: 4, c: 3 (one of them to big), d: 2, e: 1; only c and e call "big".
    const char* rows[] = {"a,small", "a,", "b,small", "c,big", "a,small", "b,",   "c,small", "d,",
                          "a,small", "e,big", "b,small", "a,", "d,small", "b,", "c,"};
    int t = 0;
    for (auto* r : rows) out << t++ << "," << r << ",1\n";
  }
  usher::traces::loaded_trace t(trace.string());
  auto id = [&](const std::string& name) {
    for (std::uint32_t i = 0; i < t.accounts().size(); ++i)
      if (t.accounts().name(i) == name) return i;
    FAIL("no account " << name);
    return 0u;
  };
  auto deal = [&](const std::string& spec, std::size_t threads) {
    return usher::tools::deal_accounts(t, usher::traces::load_plan(spec, {}), threads);
  };
  // No shared capacity: by rows (a 5, b 4, c 3, d 2, e 1), each to the
  // shard with fewest rows so far: a 0, b 1, c 1 (4 < 5), d 0 (5 < 7), e 0
  // (7 = 7: the lower).
  auto free = deal("streams", 2);
  CHECK(free[id("a")] == 0);
  CHECK(free[id("b")] == 1);
  CHECK(free[id("c")] == 1);
  CHECK(free[id("d")] == 0);
  CHECK(free[id("e")] == 0);
  // One shard per account at most.
  auto many = deal("streams", 64);
  CHECK(*std::max_element(many.begin(), many.end()) == 4);
  // "big" shared: c and e (4 rows together) go as one, to one shard: a 0,
  // b 1, c and e 2, d 1.
  auto shared = deal("per-model@model_capacity.big=2", 3);
  CHECK(shared[id("a")] == 0);
  CHECK(shared[id("b")] == 1);
  CHECK(shared[id("c")] == 2);
  CHECK(shared[id("e")] == 2);
  CHECK(shared[id("d")] == 1);
  // Every model shared: one shard for all who name a model (e only names "big").
  auto all = deal("per-model@model_capacity=3", 2);
  for (auto* n : {"a", "b", "c", "d", "e"}) CHECK(all[id(n)] == all[id("a")]);
}

TEST_CASE("a trace's priority column decides who gets a model's freed capacity, on any thread count") {
  // The model's capacity is 2; a holds both (until 10 and 20 s); b waits
  // from 1 s asking for no level, a from 2 s asking for 2. When a unit frees
  // at 10 s the older request goes first unless a's level counts.
  auto trace = scratch_root() / "priority.csv";
  std::ofstream(trace) << "id,arrival_s,account,duration_s,model,priority\n"
                          "r1,0,a,10,m,\nr2,0,a,20,m,\nr3,1,b,1,m,\nr4,2,a,1,m,2\n";
  auto run = [&](const std::string& extra, const std::string& name) {
    auto out = scratch(name);
    auto r = run_usher("simulate -q --plan per-model@limit=5 --set model_capacity.m=2 --set "
                       "queue.max_depth=5 " + extra + " --trace " + trace.string() + " --out " +
                       out.string());
    INFO(r.err);
    REQUIRE(r.code == 0);
    return out / "outcomes.csv";
  };
  auto starts = [&](const std::string& extra, const std::string& name) {
    std::map<std::string, std::string> start;
    for (auto& row : csv_rows(run(extra, name))) start[row["id"]] = row["start_s"];
    return start;
  };
  auto fifo = starts("", "priority-none");
  CHECK(std::stod(fifo.at("r3")) == 10);
  CHECK(std::stod(fifo.at("r4")) == 11);
  auto ranked = starts("--set priority.max=2", "priority-max");
  CHECK(std::stod(ranked.at("r4")) == 10);
  CHECK(std::stod(ranked.at("r3")) == 11);
  // outcomes.csv ends with the level each row asked for (as the trace gives
  // it), the same bytes on any thread count.
  auto one = run("--set priority.max=2", "priority-one");
  auto rows = csv_rows(one);
  REQUIRE(rows.size() == 4);
  for (auto& row : rows) CHECK(row["priority"] == (row["id"] == "r4" ? "2" : ""));
  auto text = slurp(one);
  CHECK(text.substr(0, text.find('\n')) ==
        "id,account,key,model,arrival_s,start_s,end_s,wait_s,status,queued,reason,priority");
  CHECK(slurp(run("--set priority.max=2 --threads 2", "priority-two")) == text);
}

TEST_CASE("outcomes.csv has no priority column when the trace has none") {
  auto trace = scratch_root() / "no-priority.csv";
  std::ofstream(trace) << "arrival_s,account,duration_s\n0,a,1\n";
  for (const char* threads : {"1", "2"}) {
    auto out = scratch(std::string("no-priority-") + threads);
    auto r = run_usher("simulate -q --plan streams --threads " + std::string(threads) + " --trace " +
                       trace.string() + " --out " + out.string());
    REQUIRE(r.code == 0);
    auto text = slurp(out / "outcomes.csv");
    CHECK(text.substr(0, text.find('\n')) ==
          "id,account,key,model,arrival_s,start_s,end_s,wait_s,status,queued,reason");
  }
}

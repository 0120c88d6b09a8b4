// `usher simulate --threads N` over a trace (tools/sharded_run.hpp): the
// accounts replayed in shards at once, and every output file byte for byte
// the one of `--threads 1`, under every plan family, with a plan whose
// accounts share a model's capacity (one shard), and with bad input.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <random>

#include "support/random_trace.hpp"
#include "support/usher_cli.hpp"

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
    text += (i % 9 == 0 ? std::string() : "r" + std::to_string(i)) + "," + times + "," + account +
            "," + key + "," + models[uniform_int(rng, 0, 3)] + "," + kind + "," + conn + "," +
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
                           // Accounts that share a model's capacity run in one shard.
                           "per-model@limit=3 --set model_capacity.llama-70b=4"}) {
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

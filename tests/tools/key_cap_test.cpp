// Per-key caps end to end (issue #13 part 2, docs/GATES.md "key_cap"): a
// simulation caps each key of the trace's `key` column inside its account's
// pool, the same at any --threads; a live node caps each of an account's
// API keys, also for a lease adopted after a restart.
#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <thread>
#include <vector>

#include "support/live_node.hpp"
#include "support/usher_cli.hpp"

using usher::testing::key_line;
using usher::testing::live_node;
using usher::testing::run_usher;
using usher::testing::scratch;

namespace {

// "key start_s status" of each outcomes.csv row, in trace order, and its
// reason when it has one.
std::vector<std::string> starts(const std::filesystem::path& outcomes) {
  std::vector<std::string> out;
  for (auto& row : usher::testing::csv_rows(outcomes))
    out.push_back(row["key"] + " " + row["start_s"] + " " + row["status"] +
                  (row["reason"].empty() ? "" : " " + row["reason"]));
  return out;
}

}  // namespace

TEST_CASE("a simulation caps each key of an account inside the account's pool") {
  auto trace = scratch("key-cap-trace.csv");
  {
    std::ofstream out(trace);
    out << "arrival_s,account,duration_s,key\n"
        // The script's key sends three at once: one runs.
        << "0,team,10,script\n0,team,10,script\n0,team,10,script\n"
        // A person's key of the same account is not held back by the script.
        << "1,team,10,alice\n"
        // A row without a key meets the account's pool alone.
        << "2,team,10,\n2,team,10,\n";
  }
  auto run = [&](const std::string& threads, const std::string& on_full = "refuse") {
    auto out = scratch("key-cap-out" + threads + on_full);
    auto r = run_usher("simulate -q --trace " + trace.string() +
                       " --plan streams:team@gate.k.type=key_cap,gate.k.limit=1,gate.k.on_full=" + on_full +
                       " --threads " + threads + " --out " + out.string());
    INFO(r.err);
    REQUIRE(r.code == 0);
    return starts(out / "outcomes.csv");
  };
  // The others of the script's key are refused at once (429, by gate k);
  // alice's and the keyless rows run beside the script's one.
  auto one = run("1");
  CHECK(one == std::vector<std::string>{"script 0 200", "script  429 gate:k", "script  429 gate:k", "alice 1 200",
                                        " 2 200", " 2 200"});
  CHECK(run("2") == one);
  // on_full = wait: they wait their turn instead, and hold back the
  // account's queue behind them (FIFO): alice starts only when they have.
  CHECK(run("1", "wait") == std::vector<std::string>{"script 0 200", "script 10 200", "script 20 200",
                                                     "alice 20 200", " 20 200", " 20 200"});
  // Without the gate all six run at once (Team: 10 streams).
  auto out = scratch("key-cap-plain");
  REQUIRE(run_usher("simulate -q --trace " + trace.string() + " --plan streams:team --out " + out.string()).code == 0);
  CHECK(starts(out / "outcomes.csv") == std::vector<std::string>{"script 0 200", "script 0 200", "script 0 200",
                                                                 "alice 1 200", " 2 200", " 2 200"});
}

TEST_CASE("a live node caps each API key of an account") {
  live_node node("[plan.per-key]\npreset = streams\nlimit = 10\nqueue.max_depth = 0\n"
                 "gate.k.type = key_cap\ngate.k.limit = 1\n"
                 "[account.team]\nplan = per-key\n" + key_line("script-key") + key_line("alice-key"));
  auto script = node.admit("script-key");
  REQUIRE(script.status == 200);
  auto again = node.admit("script-key");
  CHECK(again.status == 429);
  CHECK(again.json()["error"]["code"] == "gate");
  CHECK(node.admit("alice-key").status == 200);  // the account's other key has its own cap
  auto released = node.call(boost::beast::http::verb::delete_,
                            "/v1/leases/" + script.json()["lease"].get<std::string>(), "script-key");
  REQUIRE(released.status / 100 == 2);
  CHECK(node.admit("script-key").status == 200);
}

TEST_CASE("a restarted node counts an adopted lease against the key that renews it") {
  const std::string plan = "[plan.per-key]\npreset = streams\nlimit = 10\nqueue.max_depth = 0\n"
                           "gate.k.type = key_cap\ngate.k.limit = 1\n"
                           "[account.team]\nplan = per-key\n" +
                           key_line("script-key") + key_line("alice-key");
  std::string lease;
  std::uint16_t port = 0;
  {
    live_node first("[node]\nlease_ttl = 2s\n" + plan);  // the fixture adds recovery = off
    port = first.port;
    auto r = first.admit("script-key");
    REQUIRE(r.status == 200);
    lease = r.json()["lease"].get<std::string>();
    first.kill_hard();  // the lease, and which key holds it, are gone with it
  }
  live_node second("[node]\nlisten = 127.0.0.1:" + std::to_string(port) +
                   "\nlease_ttl = 2s\nrecovery = ttl\n" + plan);
  auto renew = [&] {
    return second.call(boost::beast::http::verb::post, "/v1/leases/" + lease + "/renew",
                       "script-key", R"({"cost":1})");
  };
  REQUIRE(renew().status == 200);  // adopted, and charged to script-key
  CHECK(second.metric("usher_recovery_adopted_total{account=\"team\"}") == 1);
  // Once the recovery window is over, the account's other key is granted...
  usher::testing::http_result alice;
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  do {
    REQUIRE(renew().status == 200);
    alice = second.admit("alice-key");
    if (alice.status == 503) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  } while (alice.status == 503 && std::chrono::steady_clock::now() < give_up);
  CHECK(alice.status == 200);
  // ...and the key whose lease was adopted is at its cap.
  auto again = second.admit("script-key");
  CHECK(again.status == 429);
  CHECK(again.json()["error"]["code"] == "gate");
}

TEST_CASE("a live node takes an account's own cap per key from the account's section of its config") {
  live_node node("[plan.per-key]\npreset = streams\nlimit = 10\nqueue.max_depth = 0\n"
                 "gate.k.type = key_cap\ngate.k.limit = 1\n"
                 "[account.team]\nplan = per-key\n" + key_line("team-key") +
                 "[account.vip]\nplan = per-key\ngate.k.limit = 2\n" + key_line("vip-key"));
  CHECK(node.admit("team-key").status == 200);
  CHECK(node.admit("team-key").status == 429);  // the plan's cap of 1 per key
  CHECK(node.admit("vip-key").status == 200);
  CHECK(node.admit("vip-key").status == 200);  // its own cap of 2
  auto third = node.admit("vip-key");
  CHECK(third.status == 429);
  CHECK(third.json()["error"]["code"] == "gate");
}

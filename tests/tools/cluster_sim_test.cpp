// usher cluster-sim (issue #11): the serve's cluster code under the virtual
// clock with a simulated network and faults. The property test is the
// cluster's strictness claim checked from the holders' side: over many
// seeds of random crashes, pauses and partitions, the units each account's
// holders used at once (recomputed from leases.csv's times, not from what
// usher counted) never pass its limit, and every request is answered.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <random>
#include <set>

#include <nlohmann/json.hpp>

#include "policies/input_error.hpp"
#include "support/live_node.hpp"
#include "support/usher_cli.hpp"
#include "tools/cluster_sim.hpp"
#include "tools/serve_config.hpp"
#include "tools/simulation_run.hpp"

using namespace usher;
using usher::testing::csv_rows;
using usher::testing::scratch;
using usher::testing::slurp;

namespace {

// A config of `members` members, a few plans: weighted units, a queue, a
// team's ten streams, and small solo accounts. No keys: cluster-sim's
// clients name accounts (the bundled example, with keys, is run below).
std::string write_config(const std::filesystem::path& dir, std::size_t members,
                         const std::string& lease_ttl = "6s", int replicas = 0) {
  std::string peers;
  for (std::size_t i = 0; i < members; ++i)
    peers += (i ? ", " : "") + std::string(1, char('a' + i)) + "@127.0.0.1:" + std::to_string(7401 + i);
  std::string text = "[node]\nlease_ttl = " + lease_ttl + "\n[cluster]\npeers = " + peers +
                     "\nreplicas = " + std::to_string(replicas) +
                     "\nheartbeat = 500ms\nfailure_timeout = 2s\n"
                     "[account.acme]\nplan = weighted\nlimit = 3\n" +
                     "[account.beta]\nplan = streams:solo\nlimit = 2\nqueue.max_depth = 4\n"
                     "queue.max_wait = 30s\n"
                     "[account.gamma]\nplan = streams:team\n"
                     // Realtime: two streams, at most four open WebSocket connections.
                     "[account.rt]\nplan = streams:solo\nlimit = 2\nws.per_concurrency = 2\n";
  for (int i = 0; i < 6; ++i)
    text += "[account.s" + std::to_string(i) + "]\nplan = streams:solo\nlimit = " +
            std::to_string(1 + i % 3) + "\nqueue.max_depth = 2\nqueue.max_wait = 5s\n";
  std::filesystem::create_directories(dir);
  auto path = dir / ("cluster-" + std::to_string(replicas) + ".ini");
  std::ofstream(path) << text;
  return path.string();
}

// A config of members a, b and c, lease_ttl 6 s, heartbeat 500 ms,
// failure_timeout 2 s, with `sections` after [cluster].
std::string abc_config(int replicas, const std::string& sections) {
  return "[node]\nlease_ttl = 6s\n[cluster]\npeers = a@127.0.0.1:7401, b@127.0.0.1:7402, c@127.0.0.1:7403\n"
         "replicas = " + std::to_string(replicas) + "\nheartbeat = 500ms\nfailure_timeout = 2s\n" + sections;
}

// A run of members a, b and c (abc_config) in `dir`, over the trace file
// `trace` there (the caller writes it), its files in dir/out.
tools::cluster_sim_request abc_run(const std::filesystem::path& dir, int replicas,
                                   const std::string& sections, const std::string& trace) {
  std::filesystem::create_directories(dir / "out");
  tools::cluster_sim_request r;
  r.config = (dir / "cluster.ini").string();
  std::ofstream(r.config) << abc_config(replicas, sections);
  r.trace = (dir / trace).string();
  r.out_dir = (dir / "out").string();
  return r;
}

// What refusing `r` before its run said (input_error); fails when it ran.
std::string refusal(const tools::cluster_sim_request& r) {
  try {
    tools::run_cluster_sim(r);
  } catch (const policies::input_error& e) {
    return e.what();
  }
  FAIL("it was played");
  return "";
}

// A run of a 3-member cluster (write_config) over the trace `trace` in
// `dir`, its files in dir/out.
tools::cluster_sim_request three_members(const std::filesystem::path& dir, const std::string& trace,
                                         const std::string& lease_ttl = "6s") {
  tools::cluster_sim_request r;
  r.config = write_config(dir, 3, lease_ttl);
  r.trace = (dir / trace).string();
  r.out_dir = (dir / "out").string();
  std::filesystem::create_directories(r.out_dir);
  return r;
}

// Runs `r` with the fault schedule `faults`, written next to its trace.
tools::cluster_sim_totals run_with_faults(tools::cluster_sim_request& r, const std::string& faults) {
  auto path = std::filesystem::path(r.trace).parent_path() / "faults.txt";
  std::ofstream(path) << faults;
  r.faults = path.string();
  return tools::run_cluster_sim(r);
}

// Poisson arrivals at `rate` per second for `span` seconds over the config's
// accounts, exponential holds of mean `hold` seconds. One in ten rows is
// rt's WebSocket traffic: connections opened for 20 s on average, requests
// over one of the last few opened (which may have closed: 400), and closes.
// `late`: an account a reload adds, asked for every 4 s from the start (404
// until the cluster has switched) and in the last round; "": none.
std::string write_trace(const std::filesystem::path& dir, std::uint64_t seed, double rate = 12,
                        double span = 120, double hold = 3, const std::string& late = "") {
  std::mt19937_64 g(seed);
  std::exponential_distribution<double> gap(rate), length(1 / hold), open_for(1.0 / 20);
  const char* accounts[] = {"acme", "beta", "gamma", "s0", "s1", "s2", "s3", "s4", "s5"};
  auto path = dir / ("trace-" + std::to_string(seed) + ".csv");
  std::ofstream out(path);
  out << "arrival_s,account,duration_s,kind,conn\n";
  char line[128];
  std::uint64_t opened = 0;
  double next_late = late.empty() ? span : 2.5;
  for (double t = gap(g); t < span; t += gap(g)) {
    // Between the drawn rows (which stay as every seed drew them).
    for (; next_late <= t; next_late += 4) out << next_late << "," << late << ",1.5,,\n";
    auto pick = g() % 10;
    if (pick < 9) {
      std::snprintf(line, sizeof line, "%.3f,%s,%.3f,,\n", t, accounts[pick], length(g));
    } else {
      auto kind = g() % 20;
      auto recent = opened == 0 ? 0 : opened - 1 - g() % std::min<std::uint64_t>(opened, 4);
      if (kind < 8 || opened == 0)
        std::snprintf(line, sizeof line, "%.3f,rt,%.3f,ws_open,k%llu\n", t, open_for(g),
                      static_cast<unsigned long long>(opened++));
      else
        std::snprintf(line, sizeof line, "%.3f,rt,%.3f,%s,k%llu\n", t, length(g),
                      kind < 19 ? "ws_request" : "ws_close", static_cast<unsigned long long>(recent));
    }
    out << line;
  }
  // A minute after the last fault can have ended, one request of each
  // account: a cluster that works again serves them all (liveness).
  for (const char* a : {"acme", "beta", "gamma", "s0", "s1", "s2", "s3", "s4", "s5", "rt"}) {
    std::snprintf(line, sizeof line, "%.3f,%s,1,,\n", span + 60, a);
    out << line;
  }
  if (!late.empty()) out << span + 60 << "," << late << ",1,,\n";
  return path.string();
}

const std::vector<std::string> abc = {"a", "b", "c"};

// An account whose request is granted by a member other than the one it
// entered at.
struct remote_owner {
  std::string account, entry, owner;
};

// Runs `r` with the trace `rows_of(account)` (arrival_s,account,duration_s
// rows) for each of `accounts` in turn, and returns the first account whose
// row `row` (from 0) was granted away from its entry member.
remote_owner remote_grant(tools::cluster_sim_request r, std::initializer_list<const char*> accounts,
                          const std::function<std::string(const std::string&)>& rows_of,
                          std::size_t row) {
  for (const char* a : accounts) {
    std::ofstream(r.trace) << "arrival_s,account,duration_s\n" << rows_of(a);
    tools::run_cluster_sim(r);
    auto rows = csv_rows(std::filesystem::path(r.out_dir) / "outcomes.csv");
    REQUIRE(rows.size() > row);
    REQUIRE(rows[row]["status"] == "200");
    if (rows[row]["node"] != rows[row]["owner"]) return {a, rows[row]["node"], rows[row]["owner"]};
  }
  FAIL("every account was granted where its request entered");
  return {};
}

// As many as fit in about half a minute of the test run (issue #11: "as
// many as fit in about a minute"), a tenth of that under a sanitizer.
#ifdef USHER_SANITIZER_BUILD
constexpr std::uint64_t default_seeds = 40;
#else
constexpr std::uint64_t default_seeds = 400;
#endif

// USHER_CLUSTER_SIM_SEEDS=N runs more (or fewer) seeds, from
// USHER_CLUSTER_SIM_FIRST_SEED (default 1): a longer search, or a new range
// each night, finds the rare runs the fixed default range never draws.
std::uint64_t seeds_to_run() {
  if (const char* n = std::getenv("USHER_CLUSTER_SIM_SEEDS")) return std::strtoull(n, nullptr, 10);
  return default_seeds;
}
std::uint64_t first_seed() {
  if (const char* n = std::getenv("USHER_CLUSTER_SIM_FIRST_SEED")) return std::max<std::uint64_t>(1, std::strtoull(n, nullptr, 10));
  return 1;
}

}  // namespace

TEST_CASE("a fault schedule reads every kind of fault, in time order") {
  auto f = tools::parse_faults("f.txt",
                               "# a comment\n"
                               "restart b at 45s\n"
                               "crash b at 30s   # the owner\n"
                               "pause c 20s..26s\n"
                               "partition a | b c 50s..58s\n"
                               "delay 0.2ms..5ms\n"
                               "drop 0.1%\n",
                               abc);
  using kind = tools::sim_fault::kind;
  REQUIRE(f.size() == 8);
  CHECK(f[0].what == kind::delay);
  CHECK(f[0].min == 200);
  CHECK(f[0].max == 5000);
  CHECK(f[1].what == kind::drop);
  CHECK(f[1].probability == Approx(0.001));
  CHECK(f[2].what == kind::pause);
  CHECK(f[2].member == 2);
  CHECK(f[2].at == policies::seconds(20));
  CHECK(f[3].what == kind::resume);
  CHECK(f[3].at == policies::seconds(26));
  CHECK(f[4].what == kind::crash);
  CHECK(f[4].member == 1);
  CHECK(f[4].text == "crash b at 30s");
  CHECK(f[5].what == kind::restart);
  CHECK(f[6].what == kind::partition);
  CHECK(f[6].side == std::vector<int>{0, 1, 1});
  CHECK(f[7].what == kind::heal);
  CHECK(f[7].pair == f[6].pair);
}

TEST_CASE("a window of message loss reads as its start and its end") {
  auto f = tools::parse_faults("f.txt", "drop 2% 20s..25s\ndrop 0.1%\n", abc);
  using kind = tools::sim_fault::kind;
  REQUIRE(f.size() == 3);
  CHECK(f[0].what == kind::drop);
  CHECK_FALSE(f[0].window);
  CHECK(f[1].what == kind::drop);
  CHECK(f[1].window);
  CHECK(f[1].probability == Approx(0.02));
  CHECK(f[1].at == policies::seconds(20));
  CHECK(f[2].what == kind::drop_end);
  CHECK(f[2].at == policies::seconds(25));
  // Drawn among random faults only when clients have a timeout.
  auto has_loss = [](const std::vector<tools::sim_fault>& faults) {
    return std::any_of(faults.begin(), faults.end(),
                       [](const tools::sim_fault& x) { return x.what == kind::drop; });
  };
  CHECK_FALSE(has_loss(tools::random_faults(40, 1, abc, policies::seconds(100), policies::seconds(2))));
  CHECK(has_loss(tools::random_faults(40, 1, abc, policies::seconds(100), policies::seconds(2), true)));
}

TEST_CASE("a bad fault schedule is refused naming its line and word") {
  auto refused = [](const std::string& text) {
    try {
      tools::parse_faults("f.txt", text, abc);
    } catch (const policies::input_error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  CHECK_THAT(refused("crash a at 1s\ncrash x at 4s\n"),
             Catch::Contains("f.txt:2") && Catch::Contains("no member \"x\""));
  CHECK_THAT(refused("pause a 5s\n"), Catch::Contains("f.txt:1") && Catch::Contains("FROM..TO"));
  CHECK_THAT(refused("pause a 6s..5s\n"), Catch::Contains("ends before it starts"));
  CHECK_THAT(refused("explode a\n"), Catch::Contains("unknown fault \"explode\""));
  CHECK_THAT(refused("partition a b 1s..2s\n"), Catch::Contains("partition NAME... | NAME..."));
  CHECK_THAT(refused("partition a b c 1s..2s\n"), Catch::Contains("two sides"));
  CHECK_THAT(refused("partition a | a 1s..2s\n"), Catch::Contains("two sides"));
  CHECK_THAT(refused("drop 200%\n"), Catch::Contains("at most 100%"));
  CHECK_THAT(refused("crash a in 5s\n"), Catch::Contains("\"at\""));
  CHECK_THAT(refused("crash a at soon\n"), Catch::Contains("30s"));
}

TEST_CASE("cluster-sim: the same seed writes the same files, byte for byte") {
  auto dir = scratch("cluster-sim-same");
  auto config = write_config(dir, 3);
  auto trace = write_trace(dir, 3);
  std::string args = "cluster-sim --config " + config + " --trace " + trace +
                     " --random-faults 5 --seed 9 -q --out ";
  auto one = usher::testing::run_usher(args + (dir / "one").string());
  auto two = usher::testing::run_usher(args + (dir / "two").string());
  REQUIRE(one.code == 0);
  REQUIRE(two.code == 0);
  for (auto* name : {"outcomes.csv", "leases.csv", "summary.json", "events.log"}) {
    INFO(name);
    auto a = slurp(dir / "one" / name);
    CHECK(a.size() > 100);
    CHECK(a == slurp(dir / "two" / name));
  }
  // Another seed, other faults: another run.
  auto three = usher::testing::run_usher("cluster-sim --config " + config + " --trace " + trace +
                                         " --random-faults 5 --seed 10 -q --out " +
                                         (dir / "three").string());
  REQUIRE(three.code == 0);
  CHECK(slurp(dir / "one" / "events.log") != slurp(dir / "three" / "events.log"));
  // Bad input: exit 2 and the place.
  std::ofstream(dir / "bad.txt") << "crash a at 5s\nrestart z at 9s\n";
  auto bad = usher::testing::run_usher("cluster-sim --config " + config + " --trace " + trace +
                                       " --faults " + (dir / "bad.txt").string() + " --out " +
                                       (dir / "bad").string());
  CHECK(bad.code == 2);
  CHECK_THAT(bad.err, Catch::Contains("bad.txt:2") && Catch::Contains("\"z\""));
  CHECK_FALSE(std::filesystem::exists(dir / "bad" / "outcomes.csv"));
}

TEST_CASE("cluster-sim: a crashed owner's accounts move, and no grant names it while it is down") {
  auto dir = scratch("cluster-sim-crash");
  tools::cluster_sim_request r;
  r.config = write_config(dir, 3);
  r.trace = write_trace(dir, 4);
  std::ofstream(dir / "faults.txt") << "delay 0.1ms..2ms\ncrash b at 30s\nrestart b at 60s\n";
  r.faults = (dir / "faults.txt").string();
  r.out_dir = (dir / "out").string();
  std::filesystem::create_directories(r.out_dir);
  auto t = tools::run_cluster_sim(r);
  CHECK(t.unit_seconds_over == 0);
  CHECK(t.unanswered == 0);
  CHECK(t.refused_503 > 0);  // while its accounts were taken over
  CHECK(t.admitted > t.requests / 3);
  // The documented cost of losing a member with replicas = 0 (docs/CLUSTER.md):
  // failure_timeout (2 s) to be voted out, a few heartbeats for the takeover,
  // one lease TTL (6 s) of recovery; and again a moment when it comes back.
  INFO("longest outage " << t.longest_unavailable_s << " s");
  CHECK(t.longest_unavailable_s > 6);
  CHECK(t.longest_unavailable_s < 2 + 6 + 4);
  std::ifstream leases(dir / "out" / "leases.csv");
  std::string line;
  std::getline(leases, line);
  CHECK(line == "lease,account,owner,epoch,granted_s,released_s,how,units,id,kind,limit");
  std::set<std::string> owners_while_down, owners_before;
  auto limits = tools::account_limits(tools::read_node_config(r.config, "a", false));
  int rows = 0;
  while (std::getline(leases, line)) {
    ++rows;
    std::vector<std::string> f;
    std::stringstream s(line);
    for (std::string x; std::getline(s, x, ',');) f.push_back(x);
    REQUIRE(f.size() == 11);
    double granted = std::stod(f[4]), released = std::stod(f[5]);
    CHECK(f[10] == std::to_string(limits.at(f[1])));  // the limit each grant was made under
    CHECK(released >= granted);
    CHECK((f[6] == "released" || f[6] == "lost" || f[6] == "closed"));
    if (granted < 30) owners_before.insert(f[2]);
    if (granted > 30 && granted < 60) owners_while_down.insert(f[2]);
  }
  CHECK(rows == static_cast<int>(t.leases));
  CHECK(owners_before.count("b"));        // b owned some accounts
  CHECK_FALSE(owners_while_down.count("b"));
  CHECK_FALSE(owners_while_down.count(""));  // every grant names its owner
  auto log = slurp(dir / "out" / "events.log");
  CHECK_THAT(log, Catch::Contains("fault crash b at 30s") &&
                      Catch::Contains("took over") && Catch::Contains("member b is down"));
}

TEST_CASE("cluster-sim: a grant held up on its way back is answered 503 and released once too old") {
  // Answers cross the simulated network as requests do. One request enters a
  // member that does not own its account; 100 ms each way; a partition
  // between the two starts while the request is on its way, so the owner's
  // grant waits for the heal (1.5 s, shorter than failure_timeout: nobody is
  // voted out) and reaches the entry member older than two thirds of the
  // 1.5 s lease TTL. Its holder could not keep it: 503, released.
  auto dir = scratch("cluster-sim-late-answer");
  auto r = three_members(dir, "one.csv", "1500ms");
  auto [account, entry, owner] = remote_grant(
      r, {"acme", "beta", "gamma", "s0", "s1", "s2"},
      [](const std::string& a) { return "10," + a + ",1\n"; }, 0);
  INFO("account " << account << " enters at " << entry << ", owned by " << owner);
  auto t = run_with_faults(
      r, "delay 100ms..100ms\npartition " + entry + " | " + owner + " 10.05s..11.55s\n");
  auto rows = csv_rows(dir / "out" / "outcomes.csv");
  REQUIRE(rows.size() == 1);
  CHECK(rows[0]["status"] == "503");
  CHECK(rows[0]["reason"] == "owner_down");
  CHECK(t.leases == 0);
  CHECK(t.unanswered == 0);
  CHECK_THAT(slurp(dir / "out" / "events.log"), Catch::Contains("too late to keep its lease"));
  // The same delays without the partition: granted, 200 ms after it was sent.
  t = run_with_faults(r, "delay 100ms..100ms\n");
  rows = csv_rows(dir / "out" / "outcomes.csv");
  REQUIRE(rows.size() == 1);
  CHECK(rows[0]["status"] == "200");
  CHECK(t.leases == 1);
}

TEST_CASE("cluster-sim: ticket clients poll until their ticket is decided, as waiting clients would be answered") {
  // beta: 2 streams and a queue (30 s at most). The third request queues: a
  // ticket client gets 202 and polls; it is granted when the first request
  // ends, exactly when a client holding its connection would be. The fourth
  // waits past max_wait: 408 through its ticket.
  auto dir = scratch("cluster-sim-tickets");
  auto r = three_members(dir, "queue.csv");
  std::ofstream(r.trace) << "arrival_s,account,duration_s\n"
                            "1,beta,10\n1.1,beta,60\n1.2,beta,35\n1.3,beta,1\n";
  auto waiting = tools::run_cluster_sim(r);
  auto held = csv_rows(dir / "out" / "outcomes.csv");
  r.tickets = true;
  auto polling = tools::run_cluster_sim(r);
  auto ticketed = csv_rows(dir / "out" / "outcomes.csv");
  REQUIRE(ticketed.size() == 4);
  CHECK(ticketed[2]["status"] == "200");
  CHECK(ticketed[2]["queued"] == "1");
  CHECK(std::stod(ticketed[2]["start_s"]) == Approx(11).margin(0.01));
  CHECK(ticketed[3]["status"] == "408");
  CHECK(polling.leases == 3);
  CHECK(polling.unanswered == 0);
  for (std::size_t i = 0; i < 4; ++i) {
    INFO("row " << i + 1);
    for (const char* column : {"status", "reason", "start_s", "end_s", "wait_s", "owner"})
      CHECK(ticketed[i][column] == held[i][column]);
  }
  CHECK(waiting.leases == polling.leases);
  CHECK_THAT(tools::replay_command(r), Catch::Contains("--tickets"));
}

TEST_CASE("cluster-sim: a ticket's grant held up on its way back is answered 503, and the lease has ended when polled again") {
  // As a late admission's grant (above), for a grant that answers a held
  // ticket poll: s0 has one stream and a queue; the second request queues
  // at an owner other than its entry member, and the grant to its poll is
  // held by a partition (1.5 s, shorter than failure_timeout; it starts just
  // before the first request's release) until it is
  // older than two thirds of the 1.5 s TTL. The client is told 503, polls
  // again a second later and learns the lease ran out meanwhile (410): it
  // never held a lease its owner had counted free.
  auto dir = scratch("cluster-sim-late-ticket");
  auto r = three_members(dir, "two.csv", "1500ms");
  r.tickets = true;
  // (Requests enter the members in turn: the first one enters elsewhere.)
  auto [account, entry, owner] = remote_grant(
      r, {"s0", "s1", "s2", "s3", "s4", "s5"},
      [](const std::string& a) { return "10," + a + ",1\n10.1," + a + ",1\n"; }, 1);
  INFO("account " << account << ": the second request enters at " << entry << ", owned by " << owner);
  auto t = run_with_faults(
      r, "delay 100ms..100ms\npartition " + entry + " | " + owner + " 10.95s..12.45s\n");
  auto rows = csv_rows(dir / "out" / "outcomes.csv");
  REQUIRE(rows.size() == 2);
  CHECK(rows[0]["status"] == "200");
  CHECK(rows[1]["status"] == "410");
  CHECK(rows[1]["reason"] == "lease_ended");
  CHECK(t.leases == 1);
  CHECK(t.unanswered == 0);
  CHECK_THAT(slurp(dir / "out" / "events.log"), Catch::Contains("the ticket may be polled again"));
  // The same delays without the partition: granted when the first ends.
  t = run_with_faults(r, "delay 100ms..100ms\n");
  rows = csv_rows(dir / "out" / "outcomes.csv");
  REQUIRE(rows.size() == 2);
  CHECK(rows[1]["status"] == "200");
  CHECK(t.leases == 2);
}

TEST_CASE("cluster-sim: a client with a timeout gives up a lost request, and a queued one leaves the queue") {
  // A request whose message is lost on its way to the owner: without a
  // timeout its client waits for ever (unanswered); with one it gives up, 499.
  auto dir = scratch("cluster-sim-client-timeout");
  auto r = three_members(dir, "lost.csv");
  auto [account, entry, owner] = remote_grant(
      r, {"acme", "beta", "gamma", "s0", "s1", "s2"},
      [](const std::string& a) { return "10," + a + ",1\n"; }, 0);
  INFO("account " << account << " enters at " << entry << ", owned by " << owner);
  auto t = run_with_faults(r, "drop 100% 9.99s..10.01s\n");
  CHECK(t.unanswered == 1);
  r.client_timeout = policies::seconds(5);
  t = tools::run_cluster_sim(r);
  CHECK(t.unanswered == 0);
  auto rows = csv_rows(dir / "out" / "outcomes.csv");
  REQUIRE(rows.size() == 1);
  CHECK(rows[0]["status"] == "499");
  CHECK(rows[0]["reason"] == "client_timeout");
  CHECK_THAT(tools::replay_command(r), Catch::Contains("--client-timeout 5s"));

  // beta: two streams, a queue. The third request's client gives up after
  // 10 s in the queue: it leaves it, and the fourth gets the first free slot
  // (at 31 s: had the third stayed, the fourth would have waited for the
  // second, at 41 s, and given up too).
  for (bool tickets : {false, true}) {
    INFO((tickets ? "ticket clients" : "clients holding their connection"));
    auto q = three_members(dir, "queue.csv");
    q.client_timeout = policies::seconds(10);
    q.tickets = tickets;
    std::ofstream(q.trace) << "arrival_s,account,duration_s\n"
                              "1,beta,30\n1.1,beta,40\n1.2,beta,5\n25,beta,1\n";
    auto u = tools::run_cluster_sim(q);
    rows = csv_rows(dir / "out" / "outcomes.csv");
    REQUIRE(rows.size() == 4);
    CHECK(rows[2]["status"] == "499");
    CHECK(rows[3]["status"] == "200");
    CHECK(std::stod(rows[3]["start_s"]) == Approx(31).margin(0.01));
    CHECK(u.leases == 3);
  }
}

TEST_CASE("cluster-sim: a fail row holds its lease and ends 500, priority is printed, a WebSocket row without its connection is refused by line") {
  auto dir = scratch("cluster-sim-rows");
  auto r = three_members(dir, "rows.csv");
  std::ofstream(r.trace) << "arrival_s,account,duration_s,fail,priority\n1,acme,4,1,\n2,acme,1,0,1\n";
  auto t = tools::run_cluster_sim(r);
  auto rows = csv_rows(dir / "out" / "outcomes.csv");
  REQUIRE(rows.size() == 2);
  CHECK(rows[0]["status"] == "500");
  CHECK(rows[0]["reason"] == "failed");
  CHECK(rows[0]["end_s"] == "5");
  CHECK(rows[1]["status"] == "200");
  // The level each row asked for, as simulate prints it.
  CHECK(rows[0]["priority"] == "");
  CHECK(rows[1]["priority"] == "1");
  CHECK(t.leases == 2);
  std::ofstream(r.trace) << "arrival_s,account,duration_s,kind,conn\n1,acme,4,,\n2,acme,9,ws_open,\n";
  CHECK_THAT(refusal(r), Catch::Contains("rows.csv:3") && Catch::Contains("conn"));
}

TEST_CASE("cluster-sim: WebSocket connections hold a slot under the cap at the owner, their requests hold units over them") {
  // rt: two streams, four connections. The edge with a socket is the member
  // the client reached; its requests go through it, as frames over the socket.
  auto dir = scratch("cluster-sim-ws");
  auto r = three_members(dir, "ws.csv");
  std::ofstream(r.trace) << "arrival_s,account,duration_s,kind,conn\n"
                            "1,rt,30,ws_open,c1\n1.1,rt,30,ws_open,c2\n1.2,rt,30,ws_open,c3\n"
                            "1.3,rt,30,ws_open,c4\n1.4,rt,30,ws_open,c5\n"  // over the cap
                            "2,rt,5,ws_request,c1\n2.1,rt,5,ws_request,c2\n"
                            "2.2,rt,5,ws_request,c3\n"  // the pool is full: never queued
                            "3,rt,1,ws_request,c9\n"    // no such connection
                            "4,rt,0,ws_close,c2\n"      // its request ends with it
                            "4.1,rt,30,ws_open,c5\n5,rt,1,ws_request,c5\n"
                            "6,acme,1,,\n";  // plain requests beside them
  auto t = tools::run_cluster_sim(r);
  auto rows = csv_rows(dir / "out" / "outcomes.csv");
  REQUIRE(rows.size() == 13);
  std::vector<std::string> status, reason;
  for (auto& row : rows) status.push_back(row["status"]), reason.push_back(row["reason"]);
  CHECK(status == std::vector<std::string>{"200", "200", "200", "200", "429", "200", "200", "429",
                                           "400", "200", "200", "200", "200"});
  CHECK(reason[4] == "connection_cap");
  CHECK(reason[7] == "over_limit");
  CHECK(reason[8] == "no_connection");
  // A request goes through its connection's member, whichever member is next in turn.
  CHECK(rows[5]["node"] == rows[0]["node"]);
  CHECK(rows[6]["node"] == rows[1]["node"]);
  CHECK(rows[11]["node"] == rows[10]["node"]);
  auto leases = csv_rows(dir / "out" / "leases.csv");
  REQUIRE(leases.size() == 9);  // 5 connections, 3 requests, acme's
  CHECK(leases[1]["kind"] == "ws_open");
  CHECK(leases[1]["released_s"] == "4");  // closed by its ws_close
  CHECK(leases[1]["units"] == "0");
  bool c2_request_closed = false;
  for (auto& l : leases)
    if (l["kind"] == "ws_request" && l["id"] == "7")
      c2_request_closed = l["released_s"] == "4" && l["how"] == "released";
  CHECK(c2_request_closed);
  auto summary = nlohmann::json::parse(slurp(dir / "out" / "summary.json"));
  auto& rt = summary["accounts"]["rt"];
  CHECK(rt["connection_cap"] == 4);
  CHECK(rt["max_connections_held"] == 4);
  CHECK(rt["connection_seconds_over_cap"] == 0);
  CHECK(rt["max_units_held"] == 2);
  CHECK(summary["accounts"]["acme"].count("connection_cap") == 0);
  CHECK(t.connection_seconds_over == 0);
}

TEST_CASE("cluster-sim: a ws_request that comes while its connection's ws_open is on its way is sent once the connection is open") {
  // A client sends over a WebSocket only once it is open: rows at the open's
  // instant, or while its answer crosses the network, wait for it, then go
  // (200) or find no connection (400), as simulate's rows of one instant do.
  auto dir = scratch("cluster-sim-ws-opening");
  auto r = three_members(dir, "ws.csv");
  std::ofstream(r.trace) << "arrival_s,account,duration_s,kind,conn\n"
                            "1,rt,30,ws_open,c1\n1,rt,5,ws_request,c1\n"
                            "1.1,rt,30,ws_open,c2\n1.1002,rt,5,ws_request,c2\n"
                            "1.2,rt,30,ws_open,c3\n1.3,rt,30,ws_open,c4\n"
                            "1.4,rt,30,ws_open,c5\n1.4,rt,1,ws_request,c5\n";  // over the cap
  auto t = run_with_faults(r, "delay 0.5ms..1ms\n");
  auto rows = csv_rows(dir / "out" / "outcomes.csv");
  REQUIRE(rows.size() == 8);
  std::vector<std::string> status, reason;
  for (auto& row : rows) status.push_back(row["status"]), reason.push_back(row["reason"]);
  CHECK(status == std::vector<std::string>{"200", "200", "200", "200", "200", "200", "429", "400"});
  CHECK(reason[6] == "connection_cap");
  CHECK(reason[7] == "no_connection");
  // Each request went once its open's answer came back (c2's came from
  // another member, over the network), over the open's member.
  CHECK(std::stod(rows[1]["start_s"]) >= std::stod(rows[0]["start_s"]));
  CHECK(std::stod(rows[3]["start_s"]) > std::stod(rows[2]["start_s"]));
  CHECK(rows[2]["node"] != rows[2]["owner"]);
  CHECK(rows[1]["node"] == rows[0]["node"]);
  CHECK(rows[3]["node"] == rows[2]["node"]);
  CHECK(t.unanswered == 0);
}

TEST_CASE("cluster-sim: the member with a WebSocket dies: what the socket held ends with it, and its owner keeps the slot for a TTL") {
  auto dir = scratch("cluster-sim-ws-crash");
  auto r = three_members(dir, "ws.csv");
  // Three connections, one on each member; rt's owner is one of them.
  std::ofstream(r.trace) << "arrival_s,account,duration_s,kind,conn\n"
                            "1,rt,40,ws_open,ca\n1.1,rt,40,ws_open,cb\n1.2,rt,40,ws_open,cc\n"
                            "5.5,rt,40,ws_open,cd\n5.6,rt,40,ws_open,ce\n20,rt,40,ws_open,cf\n";
  tools::run_cluster_sim(r);
  auto rows = csv_rows(dir / "out" / "outcomes.csv");
  REQUIRE(rows.size() == 6);
  auto owner = rows[0]["owner"];
  std::size_t victim = rows[0]["node"] != owner ? 0 : 1;  // a socket away from the owner
  auto member = rows[victim]["node"];
  INFO("rt is owned by " << owner << "; " << member << " crashes at 5 s with a socket");
  auto t = run_with_faults(r, "crash " + member + " at 5s\n");
  rows = csv_rows(dir / "out" / "outcomes.csv");
  auto leases = csv_rows(dir / "out" / "leases.csv");
  REQUIRE(leases.size() >= 3);
  CHECK(leases[victim]["how"] == "closed");
  CHECK(leases[victim]["released_s"] == "5");
  // The owner still counts the dead member's connection until its TTL runs
  // out unrenewed: one more connection fits under the cap of four, not two.
  CHECK(rows[3]["status"] == "200");
  CHECK(rows[4]["status"] == "429");
  CHECK(rows[4]["reason"] == "connection_cap");
  CHECK(rows[5]["status"] == "200");
  CHECK(t.connection_seconds_over == 0);
  CHECK(t.unanswered == 0);

  // Paused past a TTL instead: nothing renews the socket's slot, the owner
  // frees it and gives it to another connection. The member's edge gives the
  // socket up first (1013: lost); a client that went on using it anyway
  // would put the account over its cap, and the count from leases.csv sees it.
  t = run_with_faults(r, "pause " + member + " 5s..20s\n");
  leases = csv_rows(dir / "out" / "leases.csv");
  CHECK(leases[victim]["how"] == "lost");
  CHECK(t.connection_seconds_over == 0);
  r.holders_keep_going = true;
  t = tools::run_cluster_sim(r);
  CHECK(t.connection_seconds_over > 0);
  CHECK(t.max_connections_over == 1);
}

TEST_CASE("cluster-sim: a trace's key reaches per-key gates, as a live node's API key does") {
  auto dir = scratch("cluster-sim-keys");
  std::filesystem::create_directories(dir);
  tools::cluster_sim_request r;
  r.config = (dir / "cluster.ini").string();
  std::ofstream(r.config) << abc_config(0, "")
                          << "[plan.per-key]\npreset = streams\nlimit = 10\nqueue.max_depth = 0\n"
                             "gate.k.type = key_cap\ngate.k.limit = 1\n"
                             "[account.team]\nplan = per-key\n";
  r.trace = (dir / "keys.csv").string();
  r.out_dir = (dir / "out").string();
  std::filesystem::create_directories(r.out_dir);
  // The script key's second request finds its key at its cap; alice's and
  // a row without a key are not capped by it.
  std::ofstream(r.trace) << "arrival_s,account,key,duration_s\n1,team,script,9\n2,team,script,9\n"
                            "3,team,alice,9\n4,team,,9\n5,team,,9\n";
  tools::run_cluster_sim(r);
  auto rows = csv_rows(dir / "out" / "outcomes.csv");
  REQUIRE(rows.size() == 5);
  CHECK(rows[0]["key"] == "script");
  CHECK(rows[0]["status"] == "200");
  CHECK(rows[1]["status"] == "429");
  CHECK(rows[1]["reason"] == "gate");
  CHECK(rows[2]["key"] == "alice");
  CHECK(rows[2]["status"] == "200");
  CHECK(rows[3]["key"] == "");
  CHECK(rows[3]["status"] == "200");
  CHECK(rows[4]["status"] == "200");
}

namespace {

// The most units leases.csv shows in use at once for leases granted in
// [from, to) seconds (each from its grant to its release).
std::int64_t most_in_use(const std::vector<std::map<std::string, std::string>>& leases, double from,
                         double to) {
  std::vector<std::pair<double, std::int64_t>> steps;
  for (auto& l : leases) {
    double granted = std::stod(l.at("granted_s"));
    if (granted < from || granted >= to) continue;
    steps.emplace_back(granted, std::stoll(l.at("units")));
    steps.emplace_back(std::stod(l.at("released_s")), -std::stoll(l.at("units")));
  }
  std::sort(steps.begin(), steps.end());  // a release before a grant at one instant
  std::int64_t now = 0, most = 0;
  for (auto& [t, d] : steps) most = std::max(most, now += d);
  return most;
}

}  // namespace

TEST_CASE("cluster-sim: a takeover from the copy keeps the account's bucket, and one without a copy refills it") {
  // One account sold 60 requests a minute (a bucket of a minute's worth),
  // asking ten times as often for a minute; its owner crashes at 20 s.
  auto dir = scratch("cluster-sim-bucket");
  std::filesystem::create_directories(dir);
  auto config = [&](int replicas) {
    auto path = dir / ("cluster-" + std::to_string(replicas) + ".ini");
    std::ofstream(path) << abc_config(replicas, "[account.acme]\nplan = streams:solo\nlimit = 50\n"
                                                "requests_per_minute = 60\n");
    return path.string();
  };
  tools::cluster_sim_request r;
  r.trace = (dir / "eager.csv").string();
  {
    std::ofstream t(r.trace);
    t << "arrival_s,account,duration_s\n";
    for (int i = 0; i < 600; ++i) t << 0.05 + 0.1 * i << ",acme,0.01\n";
  }
  r.out_dir = (dir / "out").string();
  std::filesystem::create_directories(r.out_dir);
  r.faults = (dir / "faults.txt").string();
  std::ofstream(r.faults) << "delay 0.1ms..1ms\n";
  r.config = config(1);
  tools::run_cluster_sim(r);
  auto before = csv_rows(dir / "out" / "outcomes.csv");
  REQUIRE_FALSE(before.empty());
  auto owner = before.front()["owner"];
  REQUIRE_FALSE(owner.empty());
  auto granted = [&] {
    std::int64_t n = 0;
    for (auto& row : csv_rows(dir / "out" / "outcomes.csv")) n += row["status"] == "200";
    return n;
  };
  // Without a fault: the minute's worth at once, then one a second.
  auto calm = granted();
  CHECK(calm >= 118);
  CHECK(calm <= 121);
  std::ofstream(r.faults) << "delay 0.1ms..1ms\ncrash " << owner << " at 20s\n";

  SECTION("replicas = 1: the taker starts from the last image, not from a full bucket") {
    auto t = tools::run_cluster_sim(r);
    CHECK(t.unanswered == 0);
    CHECK_THAT(slurp(dir / "out" / "events.log"), Catch::Contains("from its copy here"));
    // At most a heartbeat's grants (one, at a second's refill) are granted
    // again; the refill of the outage is forgone.
    auto n = granted();
    INFO(n << " granted through the crash, " << calm << " without it");
    CHECK(n <= calm + 1);
    CHECK(n >= calm - 10);
  }
  SECTION("replicas = 0: the taker starts afresh, a full minute's worth more (docs/CLUSTER.md)") {
    r.config = config(0);
    tools::run_cluster_sim(r);
    auto n = granted();
    INFO(n << " granted through the crash, " << calm << " without it");
    CHECK(n > calm + 40);
  }
}

TEST_CASE("cluster-sim: grants of one instant go to the backup in one message, releases in one more") {
  auto dir = scratch("cluster-sim-batch");
  auto r = abc_run(dir, 1, "[account.acme]\nplan = weighted\nlimit = 50\n", "burst.csv");
  {
    // Twenty requests at one instant, each entering at the owner (found
    // below), all ending together.
    std::ofstream t(r.trace);
    t << "arrival_s,account,duration_s,node\n";
    for (int i = 0; i < 20; ++i) t << "10,acme,2,a\n";
  }
  r.faults = (dir / "faults.txt").string();
  std::ofstream(r.faults) << "delay 0.1ms..1ms\n";
  tools::run_cluster_sim(r);
  auto owner = csv_rows(dir / "out" / "outcomes.csv").front()["owner"];
  {
    std::ofstream t(r.trace);
    t << "arrival_s,account,duration_s,node\n";
    for (int i = 0; i < 20; ++i) t << "10,acme,2," << owner << "\n";
  }
  auto t = tools::run_cluster_sim(r);
  CHECK(t.admitted == 20);
  CHECK(t.replica_waits >= 20);  // their grants, and renewals
  // The copy's sync and each heartbeat's image come apart from them: a run
  // of one such request instead of twenty sends a few messages fewer.
  // (Each change in a message of its own: 38 more, and the renewals.)
  std::ofstream(r.trace) << "arrival_s,account,duration_s,node\n10,acme,2," << owner << "\n";
  auto one = tools::run_cluster_sim(r);
  INFO(t.replica_messages << " messages with twenty, " << one.replica_messages << " with one");
  CHECK(t.replica_messages - one.replica_messages <= 8);
}

TEST_CASE("cluster-sim: with replicas = 1 a release on its way to the backup does not hold back the next grant") {
  // Every message between members takes 10 ms. acme's client sits at its
  // owner: a grant waits one round trip to the backup (20 ms), and the
  // grant asked right after a release must not wait for the release's own
  // ack first (40 ms).
  auto dir = scratch("cluster-sim-release-ack");
  auto r = abc_run(dir, 1, "[account.acme]\nplan = weighted\nlimit = 1\n", "pair.csv");
  std::ofstream(r.trace) << "arrival_s,account,duration_s\n10,acme,1\n";
  run_with_faults(r, "delay 10ms..10ms\n");
  auto owner = csv_rows(dir / "out" / "outcomes.csv").front()["owner"];
  // The second asks at the instant the first ends (its release goes first).
  std::ofstream(r.trace) << "arrival_s,account,duration_s,node\n10,acme,1," << owner << "\n11.02,acme,1,"
                         << owner << "\n";
  tools::run_cluster_sim(r);
  auto rows = csv_rows(dir / "out" / "outcomes.csv");
  REQUIRE(rows.size() == 2);
  CHECK(rows[0]["status"] == "200");
  CHECK(rows[1]["status"] == "200");
  CHECK(rows[0]["node"] == owner);  // where the trace's node column said
  CHECK(rows[1]["node"] == owner);
  INFO("granted at " << rows[0]["start_s"] << " and " << rows[1]["start_s"]);
  CHECK(std::stod(rows[0]["start_s"]) == Approx(10.02));
  CHECK(std::stod(rows[1]["start_s"]) == Approx(11.04));
  std::ofstream(r.trace) << "arrival_s,account,duration_s,node\n10,acme,1,a\n11,acme,1,d\n";
  CHECK_THAT(refusal(r), Catch::Contains("pair.csv:3") && Catch::Contains("column 'node'") &&
                             Catch::Contains("no member named d"));
  // Named by its line in the file, blank lines counted.
  std::ofstream(r.trace) << "arrival_s,account,duration_s,node\n10,acme,1,a\n\n11,acme,1,d\n";
  CHECK_THAT(refusal(r), Catch::Contains("pair.csv:4") && Catch::Contains("column 'node'"));
  std::ofstream(r.trace) << "arrival_s,account,duration_s\n\n10,acme,1\n11,nobody,1\n";
  CHECK_THAT(refusal(r), Catch::Contains("pair.csv:4") && Catch::Contains("no [account.nobody]"));
}

TEST_CASE("cluster-sim: a rolling reload switches the limits when the last member has read them") {
  auto dir = scratch("cluster-sim-reload");
  std::filesystem::create_directories(dir);
  auto config = [&](int limit) {
    return abc_config(0, "[account.acme]\nplan = streams:solo\nlimit = " + std::to_string(limit) +
                             "\nqueue.max_depth = 20\nqueue.max_wait = 30s\n");
  };
  tools::cluster_sim_request r;
  r.config = (dir / "cluster.ini").string();
  std::ofstream(r.config) << config(2);
  std::ofstream(dir / "raised.ini") << config(4);
  r.trace = (dir / "busy.csv").string();
  {
    // Twelve requests in flight wanted at any time: the limit is always used up.
    std::ofstream t(r.trace);
    t << "arrival_s,account,duration_s\n";
    for (int i = 0; i < 320; ++i) t << 0.1 + 0.25 * i << ",acme,3\n";
  }
  r.faults = (dir / "faults.txt").string();
  r.out_dir = (dir / "out").string();
  std::filesystem::create_directories(r.out_dir);

  SECTION("every member reads it: nothing changes until the third, then 4 units") {
    std::ofstream(r.faults) << "reload a at 20s raised.ini\nreload b at 30s raised.ini\n"
                               "reload c at 40s raised.ini\n";
    auto t = tools::run_cluster_sim(r);
    auto leases = csv_rows(dir / "out" / "leases.csv");
    CHECK(most_in_use(leases, 0, 40) == 2);
    CHECK(most_in_use(leases, 45, 80) == 4);
    CHECK(t.refused_503 == 0);  // nobody was counted down for it
    CHECK(t.unit_seconds_over == 0);
    auto log = slurp(dir / "out" / "events.log");
    std::size_t applied = 0;
    for (auto at = log.find("reloaded limits applied"); at != std::string::npos;
         at = log.find("reloaded limits applied", at + 1))
      ++applied;
    CHECK(applied == 3);
  }
  SECTION("a member down does not hold it back, and restarts with the new file") {
    std::ofstream(r.faults) << "reload a at 20s raised.ini\ncrash c at 25s\nreload b at 30s raised.ini\n"
                               "reload c at 35s raised.ini\nrestart c at 50s\n";
    auto t = tools::run_cluster_sim(r);
    auto leases = csv_rows(dir / "out" / "leases.csv");
    CHECK(most_in_use(leases, 0, 30) == 2);
    CHECK(most_in_use(leases, 36, 80) == 4);
    CHECK(t.unit_seconds_over == 0);
    auto rows = csv_rows(dir / "out" / "outcomes.csv");
    // c is back (with the new limits: it could not join with the old ones)
    // and admits again: requests entering there are answered 200 after 60 s.
    bool c_admits = false;
    for (auto& row : rows)
      c_admits = c_admits || (row["node"] == "c" && std::stod(row["arrival_s"]) > 60 && row["status"] == "200");
    CHECK(c_admits);
  }
  SECTION("the same with the new lines in the schedule, and the limit lowered back: the count follows it") {
    std::ofstream(r.faults) << "reload a at 20s with account.acme.limit=4\nreload b at 30s with account.acme.limit=4\n"
                               "reload c at 40s with account.acme.limit=4\n"
                               "reload c at 50s with account.acme.limit=1\nreload b at 51s with account.acme.limit=1\n"
                               "reload a at 52s with account.acme.limit=1\n";
    auto t = tools::run_cluster_sim(r);
    auto leases = csv_rows(dir / "out" / "leases.csv");
    CHECK(most_in_use(leases, 0, 40) == 2);
    CHECK(most_in_use(leases, 45, 50) == 4);
    CHECK(most_in_use(leases, 60, 80) == 1);  // the last lease granted under 4 ended by then
    CHECK(t.unit_seconds_over == 0);
    std::set<std::string> limits;
    for (auto& l : leases) limits.insert(l["limit"]);
    CHECK(limits == std::set<std::string>{"1", "2", "4"});
    // A summary that took only the highest limit would miss a grant over 1
    // after the switch: the count is against each grant's own.
    auto json = nlohmann::json::parse(slurp(dir / "out" / "summary.json"));
    CHECK(json["accounts"]["acme"]["limit"] == 4);
  }
  SECTION("a schedule's new lines are checked as a file's would be") {
    for (auto [line, says] : {std::pair{"reload a at 20s with limit=4", "expected account.NAME.KEY=VALUE"},
                              {"reload a at 20s with account.acme.limit", "expected account.NAME.KEY=VALUE"},
                              {"reload a at 20s with", "expected: reload NAME at TIME FILE"},
                              {"reload a at 20s with account.nobody.limit=4", "no [account.nobody]"},
                              {"reload a at 20s with account.acme.limit=lots", "limit"}}) {
      std::ofstream(r.faults) << line << "\n";
      INFO(line);
      CHECK_THAT(refusal(r), Catch::Contains(says));
    }
  }
  SECTION("a reload the cluster cannot apply is refused before the run") {
    // acme removed (beta alone left): the members would decide a group the
    // others no longer have.
    std::ofstream(dir / "fewer.ini") << abc_config(0, "[account.beta]\nplan = streams:solo\n");
    std::ofstream(r.faults) << "reload a at 20s fewer.ini\n";
    CHECK_THAT(refusal(r), Catch::Contains("faults.txt") && Catch::Contains("account acme removed"));
  }
}

TEST_CASE("cluster-sim: a rolling reload that adds accounts serves them once the cluster switches, nobody else waits") {
  auto dir = scratch("cluster-sim-add");
  std::filesystem::create_directories(dir);
  auto config = [&](bool with_new, int replicas) {
    std::string text = abc_config(replicas, "[account.acme]\nplan = streams:solo\nlimit = 2\n");
    // Several new accounts: their owners are spread over the members.
    if (with_new)
      for (int i = 0; i < 6; ++i)
        text += "[account.new" + std::to_string(i) + "]\nplan = streams:solo\nlimit = 1\n";
    return text;
  };
  tools::cluster_sim_request r;
  r.trace = (dir / "trace.csv").string();
  {
    std::ofstream t(r.trace);
    t << "arrival_s,account,duration_s\n";
    for (int i = 0; i < 80; ++i) {
      t << 0.5 * i + 0.05 << ",acme,0.3\n";
      t << 0.5 * i + 0.25 << ",new" << i % 6 << ",0.1\n";
    }
  }
  r.out_dir = (dir / "out").string();
  std::filesystem::create_directories(r.out_dir);
  r.faults = (dir / "faults.txt").string();
  std::ofstream(r.faults) << "delay 0.1ms..1ms\nreload a at 10s added.ini\nreload b at 12s added.ini\n"
                             "reload c at 14s added.ini\n";
  for (int replicas : {0, 1}) {
    INFO("replicas = " << replicas);
    r.config = (dir / "cluster.ini").string();
    std::ofstream(r.config) << config(false, replicas);
    std::ofstream(dir / "added.ini") << config(true, replicas);
    auto t = tools::run_cluster_sim(r);
    CHECK(t.unanswered == 0);
    CHECK(t.unit_seconds_over == 0);
    auto log = slurp(dir / "out" / "events.log");
    CHECK_THAT(log, Catch::Contains("added by the reload"));
    double first_new = 1e9, last_refused = -1;
    int acme_refused = 0;
    for (auto& row : csv_rows(dir / "out" / "outcomes.csv")) {
      double at = std::stod(row["arrival_s"]);
      if (row["account"] == "acme") {
        acme_refused += row["status"] != "200";
        continue;
      }
      if (row["status"] == "200") first_new = std::min(first_new, at);
      else last_refused = std::max(last_refused, at);
    }
    CHECK(acme_refused == 0);  // the reload cost the accounts there before nothing
    // Unknown until the last member read the file (404, as an edge answers
    // a key it does not have: 401), served within a few heartbeats after.
    CHECK(first_new > 14);
    CHECK(last_refused < 14 + 3);
    CHECK(first_new < 14 + 3);
  }
  // A member restarted after the reload reads the new file: it numbers the
  // groups by its config (the new accounts among the others), the members
  // that added them at the switch after theirs; they still agree on each.
  std::ofstream(r.faults) << "delay 0.1ms..1ms\nreload a at 10s added.ini\nreload b at 12s added.ini\n"
                             "reload c at 14s added.ini\ncrash b at 20s\nrestart b at 24s\n";
  auto t = tools::run_cluster_sim(r);
  CHECK(t.unanswered == 0);
  CHECK(t.unit_seconds_over == 0);
  int late_refused = 0;
  for (auto& row : csv_rows(dir / "out" / "outcomes.csv"))
    if (std::stod(row["arrival_s"]) > 34) late_refused += row["status"] != "200";
  CHECK(late_refused == 0);  // every account served again, wherever it went
  // A later reload is checked against the one before, as serve checks it
  // against the config applied: it may not remove what that one added.
  std::ofstream(dir / "back.ini") << config(false, 1);
  std::ofstream(r.faults) << "reload a at 10s added.ini\nreload a at 20s back.ini\n";
  CHECK_THAT(refusal(r), Catch::Contains("back.ini") && Catch::Contains("account new0 removed"));
}

TEST_CASE("cluster-sim: generated clients on one member without faults get what simulate gives them, row for row") {
  // One member: no forwarding, so requests of one instant reach the owner in
  // the order they were sent, as in simulate. SDK clients with a timeout
  // shorter than some answers (cut: 499), a batch job, conversations, all
  // over a queue of 4 (429 queue_full, with the Retry-After serve derives).
  auto dir = scratch("cluster-sim-clients-parity");
  std::filesystem::create_directories(dir);
  std::string account = "plan = streams:solo\nlimit = 2\nqueue.max_depth = 4\nqueue.max_wait = 10s\n";
  std::ofstream(dir / "one.ini") << "[node]\nlease_ttl = 6s\n[cluster]\npeers = a@127.0.0.1:7401\n"
                                    "replicas = 0\nheartbeat = 500ms\nfailure_timeout = 2s\n"
                                 << "[account.bots-1]\n" << account << "[account.bots-2]\n" << account
                                 << "[account.batch]\n" << account << "[account.chat]\n" << account;
  std::vector<std::string> clients = {"bots:accounts=2,behaviour=sdk,rate=1.5,duration=exp:2s,timeout=4s",
                                      "batch:behaviour=batch,documents=40,parallelism=6,duration=exp:3s",
                                      "chat:behaviour=conversations,conversations=3,think=exp:2s,duration=exp:3s"};
  tools::cluster_sim_request r;
  r.config = (dir / "one.ini").string();
  r.clients = clients;
  r.stop = policies::seconds(300);
  r.seed = 5;
  r.out_dir = (dir / "cluster").string();
  std::filesystem::create_directories(r.out_dir);
  tools::run_cluster_sim(r);

  tools::simulation_request s;
  s.plan = "streams:solo";
  s.sets = {"limit=2", "queue.max_depth=4", "queue.max_wait=10s"};
  s.clients = clients;
  s.stop = policies::seconds(300);
  s.seed = 5;
  s.out_dir = (dir / "simulate").string();
  tools::run_simulation(s);

  auto cluster = csv_rows(dir / "cluster" / "outcomes.csv");
  auto simulated = csv_rows(dir / "simulate" / "outcomes.csv");
  REQUIRE(cluster.size() == simulated.size());
  std::map<std::string, int> seen;
  for (std::size_t i = 0; i < cluster.size(); ++i) {
    for (const char* column : {"id", "account", "arrival_s", "start_s", "end_s", "wait_s", "status", "queued",
                               "reason", "client", "request", "attempt", "final"})
      REQUIRE(cluster[i][column] == simulated[i][column]);
    CHECK(cluster[i]["node"] == "a");
    ++seen[cluster[i]["status"] + " " + cluster[i]["client"]];
  }
  // Every kind of answer, from every group: the comparison covers them.
  for (const char* kind : {"200 bots", "429 bots", "499 bots", "200 batch", "200 chat"})
    CHECK(seen[kind] > 0);
}

TEST_CASE("cluster-sim: generated clients retry what crashes refuse them, each attempt a row, and no limit is passed") {
  auto dir = scratch("cluster-sim-clients-faults");
  tools::cluster_sim_request r;
  r.config = write_config(dir, 3, "6s", 1);
  r.clients = {"s2:behaviour=sdk,rate=2,duration=exp:2s",
               "beta:behaviour=conversations,conversations=3,think=exp:2s,duration=exp:3s"};
  r.stop = policies::seconds(120);
  r.out_dir = (dir / "out").string();
  std::filesystem::create_directories(r.out_dir);
  // Each member in turn: whichever owns the two accounts loses them once.
  std::ofstream(dir / "faults.txt") << "crash a at 20s\nrestart a at 30s\ncrash b at 50s\nrestart b at 60s\n"
                                       "crash c at 80s\nrestart c at 90s\n";
  r.faults = (dir / "faults.txt").string();
  auto t = tools::run_cluster_sim(r);
  CHECK(t.unit_seconds_over == 0);
  CHECK(t.unanswered == 0);
  CHECK_THAT(t.clients_table, Catch::Contains("s2") && Catch::Contains("conversations"));
  auto rows = csv_rows(dir / "out" / "outcomes.csv");
  std::map<std::pair<std::string, std::string>, std::vector<std::map<std::string, std::string>>> attempts;
  std::size_t refused_by_faults = 0;
  for (auto& row : rows) {
    REQUIRE(!row["client"].empty());
    attempts[{row["account"], row["request"]}].push_back(row);
    if (row["status"] == "502" || row["status"] == "503") ++refused_by_faults;
  }
  CHECK(refused_by_faults > 0);
  std::size_t retried = 0;
  for (auto& [request, tries] : attempts) {
    // In attempt order, one row each; only the last may be final, and an
    // attempt refused that was not final is tried again.
    for (std::size_t i = 0; i < tries.size(); ++i) {
      CHECK(tries[i]["attempt"] == std::to_string(i + 1));
      if (i + 1 < tries.size()) {
        CHECK(tries[i]["final"] == "0");
        CHECK(tries[i]["status"] != "200");
        CHECK(std::stod(tries[i + 1]["arrival_s"]) >= std::stod(tries[i]["arrival_s"]));
        if (tries[i]["status"] == "502" || tries[i]["status"] == "503") ++retried;
      }
    }
  }
  CHECK(retried > 0);
  // What the clients report is what the rows say.
  auto summary = nlohmann::json::parse(slurp(dir / "out" / "summary.json"));
  for (const char* account : {"s2", "beta"}) {
    std::int64_t succeeded = 0, requests = 0;
    for (auto& [request, tries] : attempts) {
      if (request.first != account) continue;
      ++requests;
      if (tries.back()["final"] == "1" && tries.back()["status"] == "200") ++succeeded;
    }
    CHECK(summary["clients"][account]["succeeded"] == succeeded);
    CHECK(summary["clients"][account]["requests"] == requests);
  }
  // The same seed, the same files.
  auto first = slurp(dir / "out" / "outcomes.csv"), leases = slurp(dir / "out" / "leases.csv");
  tools::run_cluster_sim(r);
  CHECK(slurp(dir / "out" / "outcomes.csv") == first);
  CHECK(slurp(dir / "out" / "leases.csv") == leases);
}

TEST_CASE("cluster-sim: a client group whose account the config does not name is refused") {
  auto dir = scratch("cluster-sim-clients-unknown");
  tools::cluster_sim_request r;
  r.config = write_config(dir, 3);
  r.clients = {"ghost:behaviour=sdk,rate=1"};
  auto why = refusal(r);
  CHECK_THAT(why, Catch::Contains("--client ghost") && Catch::Contains("no [account.ghost]"));
  r.clients.clear();
  CHECK_THAT(refusal(r), Catch::Contains("nothing to play"));
}

TEST_CASE("cluster-sim finds over-admission where holders break the rules") {
  // Holders that go on using a lease they could not renew (their member
  // paused far longer than a TTL) are over their account's limit once the
  // accounts' new owner has recovered: the count from the holders' side
  // sees it. The same run with holders that keep the rules is never over.
  // (The WebSocket test below checks the same of connections.)
  auto dir = scratch("cluster-sim-rules");
  tools::cluster_sim_request r;
  r.config = write_config(dir, 3);
  r.trace = write_trace(dir, 5, 12, 120, 30);
  std::ofstream(dir / "faults.txt") << "pause a 20s..60s\npause b 70s..100s\n";
  r.faults = (dir / "faults.txt").string();
  auto kept = tools::run_cluster_sim(r);
  CHECK(kept.unit_seconds_over == 0);
  CHECK(kept.connection_seconds_over == 0);
  CHECK(kept.leases_lost > 0);
  r.holders_keep_going = true;
  auto broken = tools::run_cluster_sim(r);
  CHECK(broken.unit_seconds_over > 0);
  CHECK(broken.max_over > 0);
}

namespace {

// One run of the property test below: seed `seed` of a cluster of
// `members` members with `faults` random faults. `adds`: whether its drawn
// reloads add the account `late`.
tools::cluster_sim_request property_run(const std::filesystem::path& dir, std::size_t members,
                                        std::size_t faults, std::uint64_t seed, bool& adds) {
  // Half the seeds with a copy of every account on a second member.
  const std::string config[2] = {write_config(dir / std::to_string(members), members, "6s", 0),
                                 write_config(dir / std::to_string(members), members, "6s", 1)};
  std::vector<std::string> names;
  for (std::size_t i = 0; i < members; ++i) names.emplace_back(1, char('a' + i));
  auto limits = tools::account_limits(tools::read_node_config(config[0], "a", false));
  tools::cluster_sim_request r;
  r.config = config[seed / 2 % 2];
  // The random faults of --random-faults, over the trace's first 120 s
  // (its last rows, a minute later, check that every account is served
  // again), with losses among them: clients give up after a minute.
  auto fault_file = dir / (std::to_string(members) + "-faults-" + std::to_string(seed) + ".txt");
  // And rolling reloads of every account's limit (none, one or two),
  // the first of which adds an account, asked for from the start.
  auto reloads = tools::random_reload_schedule(seed, names, policies::seconds(120), policies::seconds(2),
                                               limits, "late");
  adds = reloads.find("account.late.plan") != std::string::npos;
  r.trace = write_trace(dir, seed, 12, 120, 3, adds ? "late" : "");
  std::ofstream(fault_file) << tools::random_fault_schedule(faults, seed, names, policies::seconds(120),
                                                            policies::seconds(2), true)
                            << reloads;
  r.faults = fault_file.string();
  r.client_timeout = policies::seconds(60);
  r.seed = seed;
  r.tickets = seed % 2 == 0;  // half the seeds: clients that poll tickets
  if (seed % 3 == 0) {
    // A third of them: generated clients too, retrying what the faults refuse.
    r.clients = {"s1:behaviour=sdk,rate=1,duration=exp:2s",
                 "s4:behaviour=conversations,conversations=2,think=exp:3s,duration=exp:2s"};
    r.stop = policies::seconds(120);
  }
  return r;
}

}  // namespace

TEST_CASE("property: through random crashes, pauses, partitions, losses and reloads no account is ever over its limit, and every one is served again, replicas 0 or 1") {
  auto dir = scratch("cluster-sim-property");
  struct shape {
    std::size_t members;
    std::size_t faults;
  };
  for (auto s : {shape{3, 6}, shape{5, 10}}) {
    for (std::uint64_t seed = first_seed(); seed < first_seed() + seeds_to_run(); ++seed) {
      bool adds = false;
      auto r = property_run(dir, s.members, s.faults, seed, adds);
      if (adds) {
        r.out_dir = (dir / "out").string();
        std::filesystem::create_directories(r.out_dir);
      }
      auto t = tools::run_cluster_sim(r);
      INFO("replay: " << tools::replay_command(r) << " (add --shrink for the fewest faults that fail)");
      if (adds) {
        // The added account is served once the faults are over, like the others.
        std::string last;
        for (auto& row : csv_rows(dir / "out" / "outcomes.csv"))
          if (row["account"] == "late") last = row["status"];
        CHECK(last == "200");
      }
      CHECK(t.unit_seconds_over == 0);
      CHECK(t.max_over == 0);
      CHECK(t.connection_seconds_over == 0);
      CHECK(t.max_connections_over == 0);
      CHECK(t.unanswered == 0);
      CHECK(t.unavailable_at_end == 0);
      CHECK(t.leases == t.admitted);
      CHECK(t.admitted > 0);
    }
  }
}

TEST_CASE("cluster-sim: a handoff passed on at once still ends at its first sender, whose account is taken over when its holder is lost") {
  // Seed 8072 of the 5-member shape above (found by a search past CI's
  // range): a handed account s3 to e, e handed it to b before any beat of
  // e's listed it, so a never saw its handoff arrive and listed s3 as its own
  // for good; when b was voted out (a pause) nobody took s3 over, and it was
  // refused 503 not_owner from 46 s to the end of the run, every member up.
  bool adds = false;
  auto r = property_run(scratch("cluster-sim-chained-handoff"), 5, 10, 8072, adds);
  auto t = tools::run_cluster_sim(r);
  CHECK(t.unavailable_at_end == 0);
  CHECK(t.longest_unavailable_s < 60);  // 134 s before
  CHECK(t.unit_seconds_over == 0);
}

namespace {

// Seed `seed` of the 5-member property shape, as a search past CI's range
// found it, with its files written (dir/out): the property runs write none.
tools::cluster_sim_request found_seed(const std::filesystem::path& dir, std::uint64_t seed) {
  bool adds = false;
  auto r = property_run(dir, 5, 10, seed, adds);
  r.out_dir = (dir / "out").string();
  std::filesystem::create_directories(r.out_dir);
  return r;
}

}  // namespace

TEST_CASE("cluster-sim: a member cut off while its account was handed on learns the new holder, and takes the account over when that one is lost") {
  // Seed 10094 of the 5-member shape above (found by a search past CI's
  // range; three of its faults suffice: e cut off 27-33 s, b 29-35 s, e
  // crashed at 35.3 s for good): c took s4 over while e was cut off and
  // handed it back to e, its home, at 33.5 s; b, cut off meanwhile, heard of
  // that handoff only from c's beats (e's listing it never reached b), kept
  // c as s4's last holder, and, as s4's owner once e was lost, waited for c,
  // up for good, to be voted out: s4 (and s3, the same way) were refused 503
  // not_owner from 35 s to the end of the run, every member but e up.
  auto r = found_seed(scratch("cluster-sim-handed-unheard"), 10094);
  auto t = tools::run_cluster_sim(r);
  CHECK(t.unavailable_at_end == 0);
  CHECK(t.unit_seconds_over == 0);
  auto accounts = nlohmann::json::parse(slurp(std::filesystem::path(r.out_dir) / "summary.json"))["accounts"];
  for (const char* a : {"s3", "s4"}) {
    INFO(a);
    CHECK(accounts[a]["longest_unavailable_s"].get<double>() < 30);  // 147 and 141.7 s before
  }
}

TEST_CASE("cluster-sim: a handoff taken and passed on at once ends at its sender though the receiver's one listing is lost") {
  // Seed 22597 of the 5-member shape above (found by a search past CI's
  // range): e handed s1 to b during a window of message loss, b handed it at
  // once to a, its owner, and the one beat of b's that listed it was lost on
  // its way to e. e, which ends a handoff when it sees the receiver list the
  // group, listed s1 as handed to b for good, so nobody took s1 over when a
  // was lost: 503 not_owner from 101 s to the end of the run, every member
  // but a up.
  auto r = found_seed(scratch("cluster-sim-taken-note"), 22597);
  auto t = tools::run_cluster_sim(r);
  CHECK(t.unavailable_at_end == 0);
  CHECK(t.unit_seconds_over == 0);
  std::size_t last = 0;
  for (auto& row : csv_rows(std::filesystem::path(r.out_dir) / "outcomes.csv"))
    if (row["account"] == "s1" && row["arrival_s"] == "180") {
      ++last;
      CHECK(row["status"] == "200");  // 503 not_owner before
    }
  CHECK(last == 1);
}

TEST_CASE("cluster-sim: a workload file brings its clients, its trace and its seed") {
  auto dir = scratch("cluster-sim-workload");
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "requests.csv") << "arrival_s,account,duration_s\n1,gamma,2\n2,gamma,2\n";
  std::ofstream(dir / "load.ini") << "seed = 9\nstop = 60s\ntrace = requests.csv\n"
                                     "[clients.acme]\nbehaviour = sdk\nrate = 2\nduration = exp:1s\n";
  const std::string config = "examples/cluster-sim/cluster.ini";  // run_usher runs in the source tree
  auto run = [&](const std::string& more, const std::string& out) {
    auto r = usher::testing::run_usher("cluster-sim --config " + config + " --workload " +
                                       (dir / "load.ini").string() + more + " --out " + (dir / out).string());
    REQUIRE(r.code == 0);
    CHECK_THAT(r.out, Catch::Contains("acme") && Catch::Contains("sdk"));
  };
  run("", "own");
  run(" --seed 9", "nine");
  run(" --seed 10", "ten");
  auto rows = csv_rows(dir / "own" / "outcomes.csv");
  std::size_t trace_rows = 0;
  for (auto& row : rows) trace_rows += row["account"] == "gamma" && row["client"].empty();
  CHECK(trace_rows == 2);
  CHECK(rows.size() > 60);
  // The workload's seed when --seed is not given.
  CHECK(slurp(dir / "own" / "outcomes.csv") == slurp(dir / "nine" / "outcomes.csv"));
  CHECK(slurp(dir / "own" / "outcomes.csv") != slurp(dir / "ten" / "outcomes.csv"));
  CHECK(nlohmann::json::parse(slurp(dir / "own" / "summary.json"))["seed"] == 9);
}

TEST_CASE("cluster-sim: a load balancer that checks readiness sends nothing to a member that failed its last check") {
  // The bundled example: a is cut off from b and c from 80 to 86 s, and has
  // no majority from about 81 s (its /readyz answers 503 no_majority).
  auto out = scratch("cluster-sim-health-check");
  const std::string example = "examples/cluster-sim/";
  auto run = [&](const std::string& more, const std::string& dir) {
    auto r = usher::testing::run_usher("cluster-sim -q --config " + example + "cluster.ini --trace " + example +
                                       "requests.csv --faults " + example + "faults.txt" + more + " --out " +
                                       (out / dir).string());
    REQUIRE(r.code == 0);
  };
  run("", "plain");
  run(" --health-check 1s", "checked");
  run(" --health-check 1s", "again");
  struct counts {
    std::size_t at_a_cut_off = 0, refused = 0;
  };
  auto count = [&](const std::string& dir) {
    counts c;
    for (auto& row : csv_rows(out / dir / "outcomes.csv")) {
      auto at = std::stod(row["arrival_s"]);
      c.at_a_cut_off += row["node"] == "a" && at >= 82 && at < 86;
      c.refused += row["status"] == "503";
    }
    return c;
  };
  auto plain = count("plain"), checked = count("checked");
  CHECK(plain.at_a_cut_off > 0);  // refused 503 there
  CHECK(checked.at_a_cut_off == 0);
  CHECK(checked.refused < plain.refused);
  auto log = slurp(out / "checked" / "events.log");
  CHECK_THAT(log, Catch::Contains("81 lb a failed its health check") &&
                      Catch::Contains("lb a passed its health check") &&
                      Catch::Contains("lb c failed its health check"));  // paused 60-63 s
  CHECK(slurp(out / "checked" / "outcomes.csv") == slurp(out / "again" / "outcomes.csv"));
  CHECK_THAT(slurp(out / "checked" / "summary.json"), Catch::Contains("--health-check 1s"));
  // Three failed checks in a row take a member out, three passed ones bring it back.
  run(" --health-check 1s --health-threshold 3", "threshold");
  auto later = slurp(out / "threshold" / "events.log");
  CHECK_THAT(later, Catch::Contains("83 lb a failed its health check") &&
                        !Catch::Contains("81 lb a failed its health check"));
  CHECK(count("threshold").at_a_cut_off > 0);  // 82 s: not out yet
  CHECK(count("threshold").refused < plain.refused);
  CHECK_THAT(slurp(out / "threshold" / "summary.json"), Catch::Contains("--health-threshold 3"));
  // A check of paused c (60-63 s) waits for its timeout: c is taken out
  // 0.8 s later, and gets the requests of those 0.8 s (none with checks
  // answered at once).
  run(" --health-check 1s --health-timeout 0.8s", "timeout");
  auto entered_c_paused = [&](const std::string& dir) {
    std::size_t n = 0;
    for (auto& row : csv_rows(out / dir / "outcomes.csv")) {
      auto at = std::stod(row["arrival_s"]);
      n += row["node"] == "c" && at >= 60 && at < 63;
    }
    return n;
  };
  CHECK_THAT(slurp(out / "timeout" / "events.log"), Catch::Contains("60.8 lb c failed its health check") &&
                                                         !Catch::Contains("60 lb c failed its health check"));
  CHECK_THAT(log, Catch::Contains("60 lb c failed its health check"));
  CHECK(entered_c_paused("checked") == 0);
  CHECK(entered_c_paused("timeout") > 0);
  CHECK_THAT(slurp(out / "timeout" / "summary.json"), Catch::Contains("--health-timeout 0.8s"));
  auto zero = usher::testing::run_usher("cluster-sim --config " + example + "cluster.ini --trace " + example +
                                        "requests.csv --health-check 1s --health-threshold 0 --out " +
                                        (out / "bad").string());
  CHECK(zero.code != 0);
  CHECK_THAT(zero.err, Catch::Contains("--health-threshold"));
  for (auto* wrong : {" --health-check 1s --health-timeout 1s", " --health-timeout 0.5s"}) {
    auto refused = usher::testing::run_usher("cluster-sim --config " + example + "cluster.ini --trace " + example +
                                             "requests.csv" + wrong + " --out " + (out / "bad").string());
    CHECK(refused.code != 0);
    CHECK_THAT(refused.err, Catch::Contains("--health-timeout"));
  }
  auto bad = usher::testing::run_usher("cluster-sim --config " + example + "cluster.ini --trace " + example +
                                       "requests.csv --health-check soon --out " + (out / "bad").string());
  CHECK(bad.code != 0);
  CHECK_THAT(bad.err, Catch::Contains("--health-check"));
}

TEST_CASE("cluster-sim --follow: events.log tells one account's requests as its clients saw them, tickets included") {
  auto out = scratch("cluster-sim-follow");
  const std::string example = "examples/cluster-sim/";
  auto r = usher::testing::run_usher("cluster-sim -q --config " + example + "cluster.ini --trace " + example +
                                     "requests.csv --faults " + example + "faults.txt --tickets --follow beta --out " +
                                     out.string());
  REQUIRE(r.code == 0);
  auto log = slurp(out / "events.log");
  // beta queues (its plan has a queue): 202 and a ticket, polled until decided.
  CHECK_THAT(log, Catch::Contains("0.5 client beta 8 sent to b") &&
                      Catch::Contains("client beta 8 answered 202: ticket ") &&
                      Catch::Contains("client beta 8 polls its ticket through b") &&
                      Catch::Contains("renewal answered 200") && Catch::Contains("stops using its lease: released"));
  CHECK_THAT(log, !Catch::Contains("client acme") && !Catch::Contains("client gamma"));
  // Every beta row of outcomes.csv was sent, in the log.
  std::size_t sent = 0;
  for (auto& row : csv_rows(out / "outcomes.csv"))
    if (row["account"] == "beta") sent += log.find("client beta " + row["id"] + " sent to ") != std::string::npos;
  CHECK(sent > 10);
  CHECK_THAT(nlohmann::json::parse(slurp(out / "summary.json"))["replay"].get<std::string>(),
             Catch::Contains("--follow beta"));
}

TEST_CASE("cluster-sim: the bundled example runs as docs/CLUSTER-SIM.md shows") {
  auto out = scratch("cluster-sim-example");
  auto r = usher::testing::run_usher(
      "cluster-sim --config examples/cluster-sim/cluster.ini --trace examples/cluster-sim/requests.csv "
      "--faults examples/cluster-sim/faults.txt --out " + out.string());
  REQUIRE(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("unit-seconds over a limit 0 (most at once 0)"));
  CHECK_THAT(r.out, Catch::Contains("unanswered 0"));
  auto summary = slurp(out / "summary.json");
  CHECK_THAT(summary, Catch::Contains("\"longest_unavailable_s\"") &&
                          Catch::Contains("crash b at 30s"));
}

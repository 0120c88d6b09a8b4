// The node's own traffic as a trace (issue #15, item 9): a real `usher
// serve` writes its access log, `usher trace convert --from access-log
// --log-format usher` pairs each admission with the release of its lease,
// and `usher simulate` replays the result.
#include <catch2/catch.hpp>
#include <map>
#include <sstream>

#include "support/live_node.hpp"
#include "support/usher_cli.hpp"

using usher::testing::eventually;
using usher::testing::http_client;
using usher::testing::key_line;
using usher::testing::live_node;
using usher::testing::run_usher;
using usher::testing::scratch;
namespace fs = std::filesystem;
using verb = boost::beast::http::verb;

namespace {

std::vector<std::map<std::string, std::string>> log_lines(const fs::path& p) {
  std::vector<std::map<std::string, std::string>> out;
  std::istringstream in(usher::testing::slurp(p));
  for (std::string line; std::getline(in, line);) {
    std::map<std::string, std::string> f;
    std::istringstream words(line);
    for (std::string kv; words >> kv;) {
      auto eq = kv.find('=');
      if (eq != std::string::npos) f[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    out.push_back(f);
  }
  return out;
}

// Seconds since midnight of an access-log time (2026-12-04T10:00:00.123Z).
double seconds_of(const std::string& t) {
  REQUIRE(t.size() == 24);
  return std::stoi(t.substr(11, 2)) * 3600.0 + std::stoi(t.substr(14, 2)) * 60.0 +
         std::stod(t.substr(17, 6));
}

// The rows of a trace CSV with the header id,arrival_s,account,model,duration_s.
struct row {
  double arrival = 0, duration = 0;
  std::string account;
};
std::vector<row> rows_of(const std::string& csv) {
  std::vector<row> rows;
  std::istringstream in(csv);
  std::string line;
  std::getline(in, line);
  REQUIRE(line == "id,arrival_s,account,model,duration_s");
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::istringstream c(line);
    for (std::string cell; std::getline(c, cell, ',');) cells.push_back(cell);
    REQUIRE(cells.size() == 5);
    rows.push_back({std::stod(cells[1]), std::stod(cells[4]), cells[2]});
  }
  return rows;
}

}  // namespace

TEST_CASE("a live node's access log converts to a trace of its leases that simulate replays") {
  auto dir = scratch("node-log-trace");
  fs::create_directories(dir);
  auto log = dir / "access.log";
  std::string accounts;
  for (std::string a : {"acme", "beta"})
    accounts += "[account." + a + "]\nplan = weighted\nlimit = 1\n" + key_line(a + "-key");
  std::string lease_a, lease_b;
  {
    live_node node("access_log = " + log.string() + "\n" + accounts);
    http_client c(node.port);
    auto a = c.call(verb::post, "/v1/admit", "acme-key", R"({"model":"m"})");
    REQUIRE(a.status == 200);
    lease_a = a.json()["lease"];
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    auto b = c.call(verb::post, "/v1/admit", "beta-key", R"({"model":"m"})");
    REQUIRE(b.status == 200);
    lease_b = b.json()["lease"];
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    CHECK(c.call(verb::post, "/v1/admit", "acme-key", R"({"model":"m"})").status == 429);
    CHECK(c.call(verb::get, "/healthz", "").status == 200);
    std::this_thread::sleep_for(std::chrono::milliseconds(120));
    CHECK(c.call(verb::delete_, "/v1/leases/" + lease_b, "beta-key").status == 200);
    std::this_thread::sleep_for(std::chrono::milliseconds(60));
    CHECK(c.call(verb::delete_, "/v1/leases/" + lease_a, "acme-key").status == 200);
    REQUIRE(eventually([&] { return log_lines(log).size() >= 6; }));
  }

  // The log's own times: when each admission and release was answered.
  std::map<std::string, double> admitted, released;
  double refused_at = 0;
  for (auto& f : log_lines(log)) {
    double t = seconds_of(f["time"]) - std::stod(f["duration_ms"]) / 1000;
    if (f["route"] == "admit" && f["status"] == "200") admitted[f["lease"]] = t;
    if (f["route"] == "admit" && f["status"] == "429") refused_at = t;
    if (f["route"] == "lease_release") released[f["lease"]] = seconds_of(f["time"]);
  }
  REQUIRE(admitted.size() == 2);
  REQUIRE(released.size() == 2);

  auto trace = (dir / "node.csv").string();
  auto r = run_usher("trace convert --from access-log " + log.string() + " " + trace +
                     " --log-format usher");
  INFO(r.err);
  CHECK(r.code == 0);
  CHECK(r.err.find("warning") == std::string::npos);
  CHECK(r.err.find("skipped 1 lines that admit nothing (healthz 1)") != std::string::npos);
  auto rows = rows_of(usher::testing::slurp(trace));
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].account == "acme");
  CHECK(rows[1].account == "beta");
  CHECK(rows[2].account == "acme");
  double first = admitted[lease_a];
  // Arrivals and durations as the log's lines tell them (its times are in
  // milliseconds; wait_ms is 0 here, so a grant is its answer).
  CHECK(rows[0].arrival == Approx(0).margin(1e-6));
  CHECK(rows[1].arrival == Approx(admitted[lease_b] - first).margin(0.0015));
  CHECK(rows[2].arrival == Approx(refused_at - first).margin(0.0015));
  CHECK(rows[0].duration == Approx(released[lease_a] - admitted[lease_a]).margin(0.0015));
  CHECK(rows[1].duration == Approx(released[lease_b] - admitted[lease_b]).margin(0.0015));
  CHECK(rows[2].duration == 0);
  CHECK(rows[0].duration > rows[1].duration);  // A was taken first and released last

  auto sim = run_usher("simulate --plan streams:solo --trace " + trace + " --out " +
                       (dir / "run").string());
  INFO(sim.err);
  CHECK(sim.code == 0);
  CHECK(sim.out.find("3 rows, 2 accounts") != std::string::npos);
}

// Simulation and live agree (DESIGN.md invariant 5): a small trace replayed
// against a real `usher serve` with time scaled down ten times gives, row by
// row, the statuses `usher simulate` gives for the same trace and plan. The
// traces keep every interacting pair of events at least one trace second
// (100 ms live) apart, so scheduling jitter cannot reorder them.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <future>
#include <map>
#include <sstream>

#include "support/live_node.hpp"

using usher::testing::http_client;
using usher::testing::key_line;
using usher::testing::live_node;
using verb = boost::beast::http::verb;
namespace fs = std::filesystem;

namespace {

constexpr double scale = 10;  // trace seconds per live second

struct row {
  std::string id;
  double at = 0;
  std::string account;
  double duration = 0;
  std::int64_t cost = -1;
};

// Statuses by id from `usher simulate` of `trace` under PLAN + SETS.
std::map<std::string, int> simulate(const fs::path& dir, const std::string& args) {
  auto out = dir / "sim";
  std::string cmd = std::string("'") + USHER_BINARY + "' simulate -q --trace '" +
                    (dir / "trace.csv").string() + "' --out '" + out.string() + "' " + args +
                    " 2>'" + (dir / "sim.err").string() + "'";
  int raw = std::system(cmd.c_str());
  REQUIRE(WEXITSTATUS(raw) == 0);
  std::ifstream in(out / "outcomes.csv");
  std::string line;
  std::getline(in, line);
  REQUIRE(line.rfind("id,account,key,model,arrival_s,start_s,end_s,wait_s,status", 0) == 0);
  std::map<std::string, int> status;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream s(line);
    for (std::string x; std::getline(s, x, ',');) f.push_back(x);
    status[f[0]] = std::stoi(f[8]);
  }
  return status;
}

// Replays `rows` live: each row admits at its (scaled) arrival, holds its
// lease for its (scaled) duration, then releases it.
std::map<std::string, int> replay(const live_node& node, const std::vector<row>& rows,
                                  const std::map<std::string, std::string>& key_of) {
  auto start = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
  std::vector<std::future<std::pair<std::string, int>>> runs;
  for (auto& r : rows)
    runs.push_back(std::async(std::launch::async, [&, r] {
      auto scaled = [](double s) {
        return std::chrono::microseconds(static_cast<std::int64_t>(s / scale * 1e6));
      };
      std::this_thread::sleep_until(start + scaled(r.at));
      http_client c(node.port);
      nlohmann::json body = {{"model", "m"}};
      if (r.cost > 0) body["cost"] = r.cost;
      auto res = c.call(verb::post, "/v1/admit", key_of.at(r.account), body.dump());
      if (res.status == 200) {
        auto admitted = std::chrono::steady_clock::now();
        std::this_thread::sleep_until(admitted + scaled(r.duration));
        c.call(verb::delete_, "/v1/leases/" + res.json()["lease"].get<std::string>(),
               key_of.at(r.account));
      }
      return std::make_pair(r.id, static_cast<int>(res.status));
    }));
  std::map<std::string, int> status;
  for (auto& f : runs) status.insert(f.get());
  return status;
}

fs::path write_trace(const std::vector<row>& rows, const std::string& name) {
  auto dir = fs::temp_directory_path() / ("usher-parity-" + std::to_string(::getpid()) + name);
  fs::create_directories(dir);
  std::ofstream out(dir / "trace.csv");
  out << "id,arrival_s,account,key,model,duration_s,cost\n";
  for (auto& r : rows)
    out << r.id << "," << r.at << "," << r.account << ",k," << "m," << r.duration << ","
        << (r.cost > 0 ? std::to_string(r.cost) : "") << "\n";
  return dir;
}

void require_same(const std::vector<row>& rows, const std::map<std::string, int>& sim,
                  const std::map<std::string, int>& live) {
  for (auto& r : rows) {
    INFO("row " << r.id << " at " << r.at << " s");
    CHECK(sim.at(r.id) == live.at(r.id));
  }
}

}  // namespace

TEST_CASE("a streams trace replayed live ten times faster gives the statuses usher simulate gives") {
  // streams:solo (3 streams), queue of 2, max wait 20 s (2 s live).
  std::vector<row> rows = {
      {"r01", 0, "acme", 10},  {"r02", 1, "acme", 12},  {"r03", 2, "acme", 40},
      {"r04", 3, "acme", 5},   {"r05", 4, "acme", 5},   {"r06", 5, "acme", 5},   // queue full
      {"r07", 11, "acme", 4},  {"r08", 14, "acme", 40}, {"r09", 20, "acme", 40},
      {"r10", 21, "acme", 1},  // waits 20 s: 408
      {"r11", 23, "acme", 1},  // admitted at 42 after 19 s
      {"r12", 24, "acme", 1},  // queue full again
      {"r13", 44, "acme", 2},
  };
  auto dir = write_trace(rows, "streams");
  auto sim = simulate(dir, "--plan streams:solo --set queue.max_depth=2 --set queue.max_wait=20");
  // Sanity: the trace exercises what it claims to.
  std::map<int, int> seen;
  for (auto& [id, s] : sim) ++seen[s];
  CHECK(seen[200] == 10);
  CHECK(seen[408] == 1);
  CHECK(seen[429] == 2);
  live_node node("[account.acme]\nplan = streams:solo\n" + key_line("acme-key") +
                 "queue.max_depth = 2\nqueue.max_wait = 2\n");
  auto live = replay(node, rows, {{"acme", "acme-key"}});
  require_same(rows, sim, live);
  fs::remove_all(dir);
}

TEST_CASE("a weighted trace replayed live ten times faster gives the statuses usher simulate gives") {
  std::vector<row> rows = {
      {"w1", 0, "org", 10, 4}, {"w2", 1, "org", 3, 4},  {"w3", 2, "org", 1, 1},
      {"w4", 5, "org", 5, 2},  {"w5", 6, "org", 2, 3},  {"w6", 12, "org", 2, 8},
      {"w7", 13, "org", 1, 1},  {"w8", 15, "org", 2, 8},
  };
  auto dir = write_trace(rows, "weighted");
  auto sim = simulate(dir, "--plan weighted");
  std::map<int, int> seen;
  for (auto& [id, s] : sim) ++seen[s];
  CHECK(seen[200] == 5);
  CHECK(seen[429] == 3);
  live_node node("[account.org]\nplan = weighted\n" + key_line("org-key"));
  auto live = replay(node, rows, {{"org", "org-key"}});
  require_same(rows, sim, live);
  fs::remove_all(dir);
}

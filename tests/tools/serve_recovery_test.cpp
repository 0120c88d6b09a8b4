// A restart must not grant the full limit again at once (issue #9, item 5).
// A real node is killed (SIGKILL, no clean stop) while its clients hold the
// whole limit; a new node starts on the same port in its recovery window.
// New admissions get 503 recovering while the holders renew (adopted), and
// counted from the client side the clients never hold more than the limit;
// when the window ends, the adopted leases still fill the pool, and grants
// resume as they are released.
#include <catch2/catch.hpp>

#include "support/live_node.hpp"

using usher::testing::http_client;
using usher::testing::key_line;
using usher::testing::live_node;
using verb = boost::beast::http::verb;

namespace {

const std::string account = "[account.acme]\nplan = weighted\nlimit = 3\n" + key_line("acme-key");

std::string lease_of(const usher::testing::http_result& r) {
  return r.json()["lease"].get<std::string>();
}

}  // namespace

TEST_CASE("a node killed and restarted adopts its holders' leases and grants nothing new meanwhile") {
  constexpr int limit = 3;
  std::vector<std::string> held;  // the leases the clients hold, as they count them
  std::uint16_t port = 0;
  {
    live_node first("[node]\nlease_ttl = 3s\n" + account);  // the fixture adds recovery = off
    port = first.port;
    http_client c(port);
    for (int i = 0; i < limit; ++i) {
      auto r = c.call(verb::post, "/v1/admit", "acme-key", R"({"model":"m"})");
      REQUIRE(r.status == 200);
      held.push_back(lease_of(r));
    }
    CHECK(c.call(verb::post, "/v1/admit", "acme-key", R"({"model":"m"})").status == 429);
    c.close();
    first.kill_hard();  // a crash: every lease it knew is gone with it
  }

  live_node second("[node]\nlisten = 127.0.0.1:" + std::to_string(port) +
                   "\nlease_ttl = 3s\nrecovery = ttl\n" + account);
  http_client c(second.port);
  // A new grant would be a fourth holder: refused until the window ends.
  auto refused = c.call(verb::post, "/v1/admit", "acme-key", R"({"model":"m"})");
  CHECK(refused.status == 503);
  CHECK(refused.json()["error"]["code"] == "recovering");
  auto retry = std::stoi(refused.header(boost::beast::http::field::retry_after));
  CHECK(retry >= 1);
  CHECK(retry <= 3);
  // The holders renew, saying what they hold: adopted.
  for (auto& lease : held) {
    auto r = c.call(verb::post, "/v1/leases/" + lease + "/renew", "acme-key",
                    R"({"model":"m","cost":1})");
    CHECK(r.status == 200);
    CHECK(r.json()["ttl_ms"] == 3000);
  }
  // A release of a lease it never saw has nothing to free.
  CHECK(c.call(verb::delete_, "/v1/leases/gone-before-the-crash", "acme-key").status == 200);
  CHECK(second.metric("usher_recovery_adopted_total{account=\"acme\"}") == limit);
  CHECK(second.metric("usher_recovery_adopted_over_limit_total{account=\"acme\"}") == 0);

  // Until the window ends: holders keep renewing, new admissions keep asking.
  // Whatever the clock does, the clients never hold more than the limit.
  int first_after = 0;
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (first_after == 0 && std::chrono::steady_clock::now() < give_up) {
    for (auto& lease : held)
      REQUIRE(c.call(verb::post, "/v1/leases/" + lease + "/renew", "acme-key").status == 200);
    auto r = c.call(verb::post, "/v1/admit", "acme-key", R"({"model":"m"})");
    if (r.status == 503) {
      CHECK(r.json()["error"]["code"] == "recovering");
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    first_after = static_cast<int>(r.status);
    if (r.status == 200) held.push_back(lease_of(r));
  }
  CHECK(held.size() <= static_cast<std::size_t>(limit));
  // The window is over, and the adopted leases still fill the pool.
  CHECK(first_after == 429);
  CHECK(second.usage("acme-key")["used_cost"] == limit);

  // Grants resume as holders release.
  CHECK(c.call(verb::delete_, "/v1/leases/" + held.back(), "acme-key").status == 200);
  held.pop_back();
  auto r = c.call(verb::post, "/v1/admit", "acme-key", R"({"model":"m"})");
  CHECK(r.status == 200);
  if (r.status == 200) held.push_back(lease_of(r));
  CHECK(held.size() <= static_cast<std::size_t>(limit));
  CHECK(c.call(verb::post, "/v1/admit", "acme-key", R"({"model":"m"})").status == 429);
  // After the window an unknown lease is unknown again.
  CHECK(c.call(verb::post, "/v1/leases/never-granted/renew", "acme-key").status == 404);
}

// The invariants of DESIGN.md section 4 on a live node under a bounded soak
// (a fixed number of client threads for a fixed time): clients that release,
// clients that disconnect while queued, and holders that vanish without
// releasing. At every observation no account is over its limit; when the
// soak ends and the leases of the vanished holders have expired, nothing is
// held and nothing waits (issue #5).
#include <atomic>
#include <catch2/catch.hpp>
#include <future>
#include <random>

#include "support/live_node.hpp"

using usher::testing::http_client;
using usher::testing::key_line;
using usher::testing::live_node;
using verb = boost::beast::http::verb;

TEST_CASE("a bounded soak with disconnects and vanished holders never passes a limit and leaks nothing") {
  live_node node("[node]\nlease_ttl = 500ms\n"
                 "[account.acme]\nplan = streams:solo\n" + key_line("acme-key") +
                 "queue.max_depth = 4\nqueue.max_wait = 300ms\n"
                 "[account.beta]\nplan = weighted\n" + key_line("beta-key"));
  constexpr int clients = 12;
  const auto soak = std::chrono::milliseconds(2500);
  std::atomic<bool> over_limit{false};
  std::atomic<int> requests{0}, vanished{0}, disconnected{0};
  auto until = std::chrono::steady_clock::now() + soak;
  std::vector<std::future<void>> runs;
  for (int c = 0; c < clients; ++c)
    runs.push_back(std::async(std::launch::async, [&, c] {
      std::mt19937 rng(static_cast<unsigned>(c));
      std::string key = c % 2 ? "beta-key" : "acme-key";
      for (int i = 0; i < 400 && std::chrono::steady_clock::now() < until; ++i) {
        ++requests;
        http_client client(node.port);
        nlohmann::json body = {{"model", "m"}};
        if (key == "beta-key") body["cost"] = 1 + static_cast<int>(rng() % 5);
        if (rng() % 6 == 0) {
          // Disconnects without waiting for the answer (queued or not).
          client.send_only(verb::post, "/v1/admit", key, body.dump());
          std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 20));
          client.close();
          ++disconnected;
          continue;
        }
        auto r = client.call(verb::post, "/v1/admit", key, body.dump());
        if (r.status != 200) continue;
        std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 40));
        if (rng() % 5 == 0) {
          ++vanished;  // never releases: the node must, when the TTL runs out
          continue;
        }
        client.call(verb::delete_, "/v1/leases/" + r.json()["lease"].get<std::string>(), key);
      }
    }));
  // An observer checks every account against its limit while the soak runs.
  int observations = 0;
  while (std::chrono::steady_clock::now() < until) {
    for (auto* key : {"acme-key", "beta-key"}) {
      auto u = node.usage(key);
      if (u["used_cost"].get<std::int64_t>() > u["limit"].get<std::int64_t>()) over_limit = true;
      ++observations;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (auto& r : runs) r.get();
  CHECK_FALSE(over_limit);
  CHECK(observations > 20);
  CHECK(requests > 100);
  CHECK(vanished > 0);
  CHECK(disconnected > 0);
  // Vanished holders' leases expire within one TTL; queued requests within max_wait.
  std::this_thread::sleep_for(std::chrono::milliseconds(900));
  for (auto* key : {"acme-key", "beta-key"}) {
    auto u = node.usage(key);
    CHECK(u["used_cost"] == 0);
    CHECK(u["request_count"] == 0);
  }
  auto metrics = node.call(verb::get, "/metrics", "").body;
  CHECK(metrics.find("usher_queued{account=\"acme\"} 0") != std::string::npos);
  CHECK(metrics.find("usher_in_flight{account=\"acme\"} 0") != std::string::npos);
  CHECK(metrics.find("usher_in_flight{account=\"beta\"} 0") != std::string::npos);
  int exit_code = node.stop();
  INFO("usher serve's stderr: " << node.stopped_stderr);
  CHECK(exit_code == 0);  // and it stops cleanly, answering anything it held
}

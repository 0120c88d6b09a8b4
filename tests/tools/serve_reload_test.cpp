// SIGHUP reloads a running node's accounts, keys and plans (issue #15,
// docs/SERVE.md "Reloading"): what it holds stays, a bad config is refused
// and the running one stays, [node] changes wait for a restart.
#include <catch2/catch.hpp>

#include "support/live_node.hpp"

namespace bhttp = boost::beast::http;
using usher::testing::eventually;
using usher::testing::key_line;
using usher::testing::live_node;

namespace {

std::string acme(int streams) {
  return "[account.acme]\nplan = streams:solo\nstreams = " + std::to_string(streams) +
         "\nqueue.max_depth = 2\n" + key_line("acme-key");
}

// Sends SIGHUP and waits for the node to say how the reload went.
std::string reload(live_node& node, const std::string& text) {
  auto before = node.stderr_text().size();
  node.rewrite_config(text);
  REQUIRE(::kill(node.pid(), SIGHUP) == 0);
  std::string said;
  REQUIRE(eventually([&] {
    said = node.stderr_text().substr(before);
    return said.find("reload") != std::string::npos && said.find('\n') != std::string::npos;
  }));
  return said;
}

}  // namespace

TEST_CASE("SIGHUP applies new limits and accounts and keeps every lease and queue place") {
  live_node node(acme(2));
  auto a = node.admit("acme-key");
  auto b = node.admit("acme-key");
  REQUIRE(a.status == 200);
  REQUIRE(b.status == 200);
  // A third waits in the queue, as a ticket.
  auto queued = node.admit("acme-key", nlohmann::json::object(), "respond-async");
  REQUIRE(queued.status == 202);
  auto ticket = queued.json()["ticket"].get<std::string>();

  // 3 streams now, and a new account with its key.
  auto said = reload(node, acme(3) + "[account.beta]\nplan = weighted\n" + key_line("beta-key"));
  CHECK(said.find("reloaded") != std::string::npos);
  // The waiter got the new stream; the leases from before are still held.
  auto polled = node.call(bhttp::verb::get, "/v1/tickets/" + ticket, "acme-key");
  CHECK(polled.status == 200);
  auto usage = node.usage("acme-key");
  CHECK(usage["limit"] == 3);
  CHECK(usage["used_cost"] == 3);
  CHECK(node.admit("beta-key").status == 200);
  CHECK(node.release("acme-key", a.json()["lease"]).status == 200);
  CHECK(node.release("acme-key", b.json()["lease"]).status == 200);
  CHECK(node.usage("acme-key")["used_cost"] == 1);

  // Fewer streams than are held: nothing new until holders are under it.
  CHECK(reload(node, acme(1)).find("reloaded") != std::string::npos);
  auto later = node.admit("acme-key", nlohmann::json::object(), "respond-async");
  CHECK(later.status == 202);  // queued behind the one lease still held
  // beta is gone: its key no longer works.
  CHECK(node.admit("beta-key").status == 401);
}

TEST_CASE("a bad config on SIGHUP is refused and the running one stays") {
  live_node node(acme(1));
  auto held = node.admit("acme-key");
  REQUIRE(held.status == 200);
  auto said = reload(node, "[account.acme]\nplan = streams:gold\n" + key_line("acme-key"));
  CHECK(said.find("reload refused") != std::string::npos);
  CHECK(said.find("streams:gold") != std::string::npos);
  CHECK(said.find("the running config stays") != std::string::npos);
  // Still the old config: the key works, the lease is held.
  CHECK(node.usage("acme-key")["used_cost"] == 1);
  CHECK(node.release("acme-key", held.json()["lease"]).status == 200);
  // A [node] change is reported, not applied.
  said = reload(node, "[node]\nlisten = 127.0.0.1:0\nmax_body = 128\n" + acme(1));
  CHECK(said.find("[node] and [gateway] changes need a restart and were not applied: max_body") !=
        std::string::npos);
  CHECK(node.alive());
}

// Signals a running node gets from operators and terminals (issue #9): SIGHUP
// used to end the node at once (exit 129) with every lease and queue place.
#include <catch2/catch.hpp>

#include "support/live_node.hpp"

using usher::testing::key_line;
using usher::testing::live_node;

TEST_CASE("SIGHUP neither stops the node nor drops what it holds") {
  live_node node("[account.acme]\nplan = streams:solo\n" + key_line("acme-key"));
  auto held = node.admit("acme-key");
  REQUIRE(held.status == 200);
  for (int i = 0; i < 3; ++i) REQUIRE(::kill(node.pid(), SIGHUP) == 0);
  // Answered after the signals: the node is alive and still holds the lease.
  auto usage = node.usage("acme-key");
  CHECK(node.alive());
  CHECK(usage["used_cost"] == 1);
  CHECK(node.release("acme-key", held.json()["lease"]).status == 200);
  CHECK(node.stop() == 0);
  CHECK(node.stopped_stderr.find("reloaded") != std::string::npos);  // SIGHUP reloads (same config)
}

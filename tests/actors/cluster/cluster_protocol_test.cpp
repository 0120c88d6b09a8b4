#include <catch2/catch.hpp>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <string>
#include <vector>

#include "actors/cluster/cluster_node.hpp"
#include "actors/messages.hpp"

using namespace usher::actors;

namespace {

// An actor system as a member's: its message types and wire protocol, then
// `protocol` in its place when given (a member of another build).
struct member_system {
  explicit member_system(const std::string& protocol = "") {
    add_message_types(cfg);
    cluster::add_cluster_message_types(cfg);
    if (!protocol.empty()) cfg.set("middleman.app-identifiers", std::vector<std::string>{protocol});
    cfg.load<caf::io::middleman>();
    cfg.set("logger.verbosity", caf::atom("quiet"));
    sys = std::make_unique<caf::actor_system>(cfg);
  }
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
};

// A member's published actor, as far as connecting goes. (With an argument:
// CAF 0.17 binds a reference to null spawning a function without any, which
// UBSan reports.)
caf::behavior member_actor(caf::event_based_actor*, std::string name) {
  return {[=](int) { return name; }};
}

}  // namespace

TEST_CASE("cluster members connect only to members of the same wire protocol") {
  member_system a;
  auto peer = a.sys->spawn(member_actor, std::string("a"));
  auto port = a.sys->middleman().publish(peer, 0, "127.0.0.1", true);
  REQUIRE(port);

  SECTION("the same protocol") {
    member_system b;
    auto there = b.sys->middleman().remote_actor("127.0.0.1", *port);
    CHECK(there);
  }
  SECTION("another build's protocol, older (CAF's default) or newer") {
    for (std::string other : {std::string("generic-caf-app"), std::string(cluster::cluster_protocol) + "-next"}) {
      INFO(other);
      member_system b(other);
      auto there = b.sys->middleman().remote_actor("127.0.0.1", *port);
      REQUIRE_FALSE(there);
      CHECK(there.error() == caf::sec::incompatible_application_ids);
    }
  }
  caf::anon_send_exit(peer, caf::exit_reason::user_shutdown);
}

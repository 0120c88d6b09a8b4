// The [cluster] section of a node config (docs/CLUSTER.md): read and checked
// with file and line, --node picking this node, and `usher serve --check`
// showing the placement every member computes alike.
#include <catch2/catch.hpp>

#include "support/live_node.hpp"
#include "support/usher_cli.hpp"
#include "policies/input_error.hpp"
#include "tools/serve_actors.hpp"
#include "tools/serve_config.hpp"

using usher::testing::key_line;
using usher::testing::run_usher;
using usher::testing::scratch;

namespace {

const char* peers3 = "peers = a@127.0.0.1:7401, b@127.0.0.1:7402, c@127.0.0.1:7403\n";

std::string accounts(int n) {
  std::string out;
  for (int i = 0; i < n; ++i)
    out += "[account.acct-" + std::to_string(i) + "]\nplan = streams:solo\n" +
           key_line("key-" + std::to_string(i));
  return out;
}

std::string write(const std::string& name, const std::string& text) {
  auto path = scratch(name);
  std::ofstream(path) << text;
  return path.string();
}

}  // namespace

TEST_CASE("cluster config: one file for every node, --node picks this one") {
  auto path = write("cluster.ini", std::string("[cluster]\n") + peers3 +
                                       "replicas = 1\nheartbeat = 200ms\nfailure_timeout = 1s\n" +
                                       accounts(3));
  auto b = usher::tools::read_node_config(path, "b");
  REQUIRE(b.cluster.enabled);
  CHECK(b.cluster.name == "b");
  CHECK(b.cluster.listen_host == "127.0.0.1");
  CHECK(b.cluster.listen_port == 7402);
  CHECK(b.cluster.peers.size() == 3);
  CHECK(b.cluster.majority() == 2);
  CHECK(b.cluster.heartbeat == 200'000);
  CHECK(b.cluster.failure_timeout == 1'000'000);
  auto c = usher::tools::read_node_config(path, "c");
  CHECK(c.cluster.listen_port == 7403);
  // Every member reads the same limits, so they may form one cluster.
  CHECK(b.cluster.limits_digest.size() == 64);
  CHECK(b.cluster.limits_digest == c.cluster.limits_digest);
  // Another limit for one account: another digest, refused at join.
  auto other = write("other.ini", std::string("[cluster]\n") + peers3 + accounts(3) +
                                      "queue.max_wait = 30\n");
  CHECK(usher::tools::read_node_config(other, "a").cluster.limits_digest != b.cluster.limits_digest);
  // Without [cluster] nothing changes.
  auto alone = write("alone.ini", accounts(1));
  CHECK_FALSE(usher::tools::read_node_config(alone).cluster.enabled);
}

TEST_CASE("cluster config: every mistake is named with its file, line and key") {
  struct example {
    std::string text;
    std::string node;
    std::string expected;
  };
  for (auto& ex : std::vector<example>{
           {std::string("[cluster]\n") + peers3, "d", ":1: [cluster]: this node, \"d\", is not among the peers"},
           {std::string("[cluster]\n") + peers3, "", ":1: [cluster]: name is required"},
           {"[cluster]\nname = a\npeers = a@127.0.0.1, b@127.0.0.1:2\n", "",
            ":3: cluster.peers: expected NAME@HOST:PORT"},
           {"[cluster]\nname = a\npeers = a@h:1, a@h:2\n", "", ":1: [cluster]: peers names \"a\" twice"},
           {"[cluster]\nname = a\npeers = a@h:1, b@h:1\n", "", ":1: [cluster]: peers gives h:1 to two members"},
           {std::string("[cluster]\nname = a\n") + peers3 + "replicas = 2\n", "",
            ":4: cluster.replicas: expected an integer from 0 to 1"},
           {std::string("[cluster]\nname = a\n") + peers3 + "heartbeat = 2s\n", "",
            ":1: [cluster]: failure_timeout must be at least twice the heartbeat"},
           {std::string("[cluster]\nname = a\n") + peers3 + "listen = 127.0.0.1:9999\n", "",
            ":1: [cluster]: listen port 9999 differs from this node's peers entry"},
           {std::string("[cluster]\nname = a\n") + peers3 + "gossip = yes\n", "",
            ":4: cluster.gossip: unknown key"},
           {"[cluster]\nname = a\npeers = a@h:1\nreplicas = 1\n", "", ":1: [cluster]: replicas = 1 needs at least two peers"},
           {accounts(1), "a", ": --node a needs a [cluster] section"},
       }) {
    INFO(ex.text);
    auto path = write("bad.ini", ex.text + (ex.text.find("[account") == std::string::npos ? accounts(1) : ""));
    try {
      (void)usher::tools::read_node_config(path, ex.node);
      FAIL("accepted");
    } catch (const usher::policies::input_error& e) {
      std::string what = e.what();
      CHECK(what.find(path + ex.expected) == 0);
    }
  }
}

TEST_CASE("cluster config: usher serve --check shows the placement and replicas, which needs two members") {
  auto path = write("check.ini", std::string("[cluster]\n") + peers3 + accounts(30));
  auto r = run_usher("serve --config '" + path + "' --node a --check");
  CHECK(r.code == 0);
  CHECK(r.out.find("cluster: this node is a (CAF port 127.0.0.1:7401), 3 members, a majority is 2") !=
        std::string::npos);
  // The owners add up to every account, on every member alike.
  std::size_t total = 0;
  for (const char* m : {"a", "b", "c"}) {
    auto at = r.out.find(std::string("cluster: ") + m + " owns ");
    REQUIRE(at != std::string::npos);
    total += std::stoul(r.out.substr(at + 16));
  }
  CHECK(total == 30);
  auto from_c = run_usher("serve --config '" + path + "' --node c --check");
  CHECK(from_c.out.substr(from_c.out.find("cluster: limits")) == r.out.substr(r.out.find("cluster: limits")));
  // A copy of every account on a second member: said; it takes a second member.
  auto one = write("replicas.ini", std::string("[cluster]\n") + peers3 + "replicas = 1\n" + accounts(3));
  CHECK(run_usher("serve --config '" + one + "' --node a --check").out.find("replicas = 1") != std::string::npos);
  auto alone = write("alone.ini", "[cluster]\npeers = a@h:1\nreplicas = 1\n" + accounts(1));
  auto refused = run_usher("serve --config '" + alone + "' --node a --check");
  CHECK(refused.code == 2);
  CHECK(refused.err.find("replicas = 1 needs at least two peers") != std::string::npos);
  // Two members: the warning that one loss stops both.
  auto two = write("two.ini", "[cluster]\npeers = a@h:1, b@h:2\n" + accounts(1));
  CHECK(run_usher("serve --config '" + two + "' --node a --check").out.find("two members have no majority") !=
        std::string::npos);
}

TEST_CASE("a member's reloads: the config switched to is applied, even the one a newer reload replaced") {
  auto with = [](const std::string& digest) {
    usher::tools::node_config c;
    c.cluster.limits_digest = digest;
    return c;
  };
  usher::tools::cluster_reloads r("d1");
  CHECK_FALSE(r.read(with("d1")));  // the limits applied: nothing to switch to
  CHECK_FALSE(r.switched("d1"));
  CHECK(r.read(with("d2")));
  CHECK(r.read(with("d3")));  // read while the cluster may be switching to d2
  auto d2 = r.switched("d2");
  REQUIRE(d2);
  CHECK(d2->cluster.limits_digest == "d2");
  CHECK(r.applied() == "d2");
  auto d3 = r.switched("d3");  // still there: newer than the one applied
  REQUIRE(d3);
  CHECK(r.applied() == "d3");
  CHECK_FALSE(r.switched("d2"));  // dropped with it
  // Reading the applied limits again is nothing to switch to; what was read
  // stays, for the cluster actor may have switched to it meanwhile.
  CHECK(r.read(with("d4")));
  CHECK_FALSE(r.read(with("d3")));
  CHECK(r.switched("d4"));
}

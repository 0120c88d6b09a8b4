// Clustered admission with real processes on loopback (issue #10,
// docs/CLUSTER.md): three `usher serve` members talking over CAF networking.
// Any member answers any account; the account's limit holds across them,
// counted from the clients' side, through kill -9, SIGSTOP and a restart.
// Timings are short (heartbeat 200 ms, failure_timeout 1 s: room for a slow
// sanitizer build that starves a member for a moment; lease TTL
// 2 s); waits are bounded polls, never fixed windows asserted on.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "support/live_node.hpp"
#include "support/mock_model_process.hpp"

using usher::testing::eventually;
using usher::testing::http_client;
using usher::testing::key_line;
using usher::testing::live_node;
using usher::testing::mock_model_process;
using usher::testing::raw_conn;
using verb = boost::beast::http::verb;
using clock_type = std::chrono::steady_clock;

namespace {

// A port free now on 127.0.0.1 (the CAF ports must be known before start),
// drawn below Linux's ephemeral range (32768 and up by default): a port the
// kernel hands out for port 0 could be given again, between this check and
// the member's bind, to a listener or an outgoing connection of a test
// running beside this one; one from here is never handed out that way.
std::uint16_t free_port() {
  static std::mt19937 draw(std::random_device{}());
  std::uniform_int_distribution<int> port(20000, 32767);
  boost::asio::io_context io;
  for (;;) {
    boost::asio::ip::tcp::acceptor a(io);
    boost::system::error_code ec;
    boost::asio::ip::tcp::endpoint at(boost::asio::ip::make_address("127.0.0.1"),
                                      static_cast<std::uint16_t>(port(draw)));
    a.open(at.protocol(), ec);
    if (!ec) a.bind(at, ec);
    if (!ec) return at.port();
  }
}

// Under a sanitizer three slowed members share two cores: a member starved
// for a second would be voted out, which these tests do not expect (a CI run
// under ASan once saw a drained member's successor lose its majority).
#ifdef USHER_SANITIZER_BUILD
const std::string timing = "heartbeat = 500ms\nfailure_timeout = 4s\n";
#else
const std::string timing = "heartbeat = 200ms\nfailure_timeout = 1s\n";
#endif

const std::string accounts = "[account.acme]\nplan = weighted\nlimit = 3\n" + key_line("acme-key") +
                             "[account.beta]\nplan = streams:solo\nlimit = 1\n"
                             "queue.max_depth = 4\nqueue.max_wait = 30s\n" +
                             key_line("beta-key");

class cluster {
 public:
  /// `members` in the peers list, the first `started` of them running, each
  /// with `node_text` in its [node] section.
  /// `lease_ttl`: the members' lease_ttl.
  explicit cluster(std::size_t members = 3, std::size_t started = 3,
                   const std::string& node_text = "", const std::string& account_text = accounts,
                   std::string lease_ttl = "2s", int replicas = 0)
      : groups_(count_accounts(account_text)), lease_ttl_(std::move(lease_ttl)), replicas_(replicas) {
    // A CAF port free when drawn may be taken before the member binds it
    // (by another test's node or connection): draw every port again and
    // start over, as the peers list names them all.
    for (int attempt = 1;; ++attempt) {
      caf_ports_.clear();
      for (std::size_t i = 0; i < members; ++i) caf_ports_.push_back(free_port());
      bool all = true;
      for (std::size_t i = 0; all && i < std::min(members, started); ++i)
        all = try_start(i, account_text, node_text);
      if (all) break;
      REQUIRE(attempt < 5);
      nodes_.clear();
    }
  }

  std::string config_for(std::size_t i, const std::string& account_text = accounts,
                         const std::string& node_text = "") const {
    std::string peers;
    for (std::size_t j = 0; j < caf_ports_.size(); ++j)
      peers += (j ? ", " : "") + name(j) + "@127.0.0.1:" + std::to_string(caf_ports_[j]);
    return "lease_ttl = " + lease_ttl_ + "\n" + node_text + "[cluster]\nname = " + name(i) + "\npeers = " + peers +
           "\nreplicas = " + std::to_string(replicas_) + "\n" + timing + account_text;
  }

  /// Starts member i (again); its CAF port stays the one the peers list
  /// names, so a start that could not bind it is tried again a few times.
  void start(std::size_t i, const std::string& account_text = accounts,
             const std::string& node_text = "") {
    for (int attempt = 1; !try_start(i, account_text, node_text) && attempt < 10; ++attempt)
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
    REQUIRE(nodes_[i]->started());
  }

  static std::string name(std::size_t i) { return std::string(1, static_cast<char>('a' + i)); }
  live_node& operator[](std::size_t i) { return *nodes_[i]; }
  std::size_t size() const { return nodes_.size(); }

  nlohmann::json view(std::size_t i) const {
    return nodes_[i]->call(verb::get, "/v1/cluster", "").json();
  }

  /// Every member in `which` sees all of `which` up and a majority.
  bool formed(const std::vector<std::size_t>& which) const {
    for (auto i : which) {
      auto v = view(i);
      if (!v.is_object() || v["majority"] != true) return false;
      for (auto j : which)
        if (v["members"][j]["state"] != "up") return false;
    }
    return true;
  }

  /// formed(), and every account group (one per account) has started on its owner.
  bool settled(const std::vector<std::size_t>& which) const {
    if (!formed(which)) return false;
    double held = 0;
    for (auto i : which) held += nodes_[i]->metric("usher_cluster_groups_held");
    return held == static_cast<double>(groups_);
  }

  /// The index of the member that owns `account`, as member `i` sees it.
  std::optional<std::size_t> owner(const std::string& account, std::size_t i = 0) const {
    auto o = view(i)["owners"][account];
    if (!o.is_string()) return std::nullopt;
    return static_cast<std::size_t>(o.get<std::string>()[0] - 'a');
  }

 private:
  /// Starts member i; false if it could not listen on its CAF port (taken
  /// meanwhile); any other failure to start fails the test.
  bool try_start(std::size_t i, const std::string& account_text, const std::string& node_text) {
    if (nodes_.size() <= i) nodes_.resize(i + 1);
    nodes_[i] = std::make_unique<live_node>(config_for(i, account_text, node_text), 0,
                                            live_node::may_fail{});
    if (nodes_[i]->started()) return true;
    auto said = nodes_[i]->stderr_text();
    INFO("usher serve (member " << name(i) << ") did not start: " << said);
    REQUIRE(said.find("for the cluster") != std::string::npos);
    WARN("member " << name(i) << " could not bind its CAF port: " << said);
    return false;
  }

  static std::size_t count_accounts(const std::string& text) {
    std::size_t n = 0;
    for (auto at = text.find("[account."); at != std::string::npos; at = text.find("[account.", at + 1)) ++n;
    return n;
  }

  std::size_t groups_;
  std::string lease_ttl_;
  int replicas_;
  std::vector<std::uint16_t> caf_ports_;
  std::vector<std::unique_ptr<live_node>> nodes_;
};

std::string lease_of(const usher::testing::http_result& r) {
  return r.json()["lease"].get<std::string>();
}

// Leases as the clients use them: from the 200 until they send the release
// that is answered, or, when no release got through, until the TTL after
// the last successful grant or renewal. The most in use at any instant must
// never pass the account's limit. (Up to the release's answer instead would
// count a slot twice whenever the owner frees it and grants it again before
// the release's answer, relayed by another member, reaches its client.)
class holdings {
 public:
  void add(clock_type::time_point from, clock_type::time_point to, std::string what = "") {
    std::lock_guard<std::mutex> g(m_);
    spans_.emplace_back(from, to);
    what_.push_back(std::move(what));
  }
  /// The spans, in ms from the first, for a failure's message.
  std::string dump() const {
    std::ostringstream o;
    auto t0 = spans_.empty() ? clock_type::time_point{} : spans_.front().first;
    for (auto& [a, b] : spans_) t0 = std::min(t0, a);
    auto ms = [&](clock_type::time_point t) {
      return std::chrono::duration_cast<std::chrono::milliseconds>(t - t0).count();
    };
    for (std::size_t i = 0; i < spans_.size(); ++i)
      o << ms(spans_[i].first) << ".." << ms(spans_[i].second) << " " << what_[i] << "\n";
    return o.str();
  }
  int max_at_once() const {
    std::vector<std::pair<clock_type::time_point, int>> edges;
    for (auto& [a, b] : spans_) {
      edges.emplace_back(a, +1);
      edges.emplace_back(b, -1);
    }
    std::sort(edges.begin(), edges.end(), [](auto& x, auto& y) {
      return x.first != y.first ? x.first < y.first : x.second < y.second;  // ends first
    });
    int now = 0, most = 0;
    for (auto& e : edges) most = std::max(most, now += e.second);
    return most;
  }
  std::size_t count() const { return spans_.size(); }

 private:
  mutable std::mutex m_;
  std::vector<std::pair<clock_type::time_point, clock_type::time_point>> spans_;
  std::vector<std::string> what_;
};

}  // namespace

TEST_CASE("three members share an account's limit: any member grants, renews and releases") {
  cluster c;
  REQUIRE(eventually([&] { return c.settled({0, 1, 2}); }));
  for (std::size_t i = 0; i < 3; ++i) {
    auto v = c.view(i);
    CHECK(v["node"] == cluster::name(i));
    CHECK(v["owners"] == c.view(0)["owners"]);  // every member places alike
    CHECK(c[i].call(verb::get, "/readyz", "").status == 200);
  }
  // acme's limit is 3, whichever member each client talks to.
  std::vector<std::string> held;
  for (std::size_t i = 0; i < 3; ++i) {
    auto r = c[i].admit("acme-key", {{"model", "m"}});
    REQUIRE(r.status == 200);
    held.push_back(lease_of(r));
  }
  for (std::size_t i = 0; i < 3; ++i) CHECK(c[i].admit("acme-key", {{"model", "m"}}).status == 429);
  for (std::size_t i = 0; i < 3; ++i) CHECK(c[i].usage("acme-key")["used_cost"] == 3);
  // The dashboard's figures are the owner's, whichever member is asked.
  for (std::size_t i = 0; i < 3; ++i) {
    auto m = c[i].call(verb::get, "/account/metrics", "acme-key");
    INFO("member " << i << ": " << m.body);
    REQUIRE(m.status == 200);
    CHECK(m.json()["in_use"] == 3);
    CHECK(m.json()["outcomes"]["429"] == 3);
  }
  // A lease granted through one member is renewed and released through another.
  auto renewed = c[2].call(verb::post, "/v1/leases/" + held[0] + "/renew", "acme-key");
  CHECK(renewed.status == 200);
  CHECK(renewed.json()["ttl_ms"] == 2000);
  CHECK(c[1].release("acme-key", held[0]).status == 200);
  CHECK(c[0].admit("acme-key", {{"model", "m"}}).status == 200);
  // Requests went to the owner from the other two.
  auto owner = c.owner("acme");
  REQUIRE(owner);
  double forwarded = 0;
  for (std::size_t i = 0; i < 3; ++i) forwarded += c[i].metric("usher_cluster_forwarded_total");
  CHECK(forwarded >= 8);
  CHECK(c[*owner].metric("usher_cluster_received_total") >= 8);
  CHECK(c[0].metric("usher_cluster_members{state=\"up\"}") == 3);
}

TEST_CASE("a queued request waits at the owner across members and leaves when its client does") {
  cluster c;
  REQUIRE(eventually([&] { return c.settled({0, 1, 2}); }));
  auto owner = *c.owner("beta");
  auto other = (owner + 1) % 3, third = (owner + 2) % 3;
  auto first = c[owner].admit("beta-key");
  REQUIRE(first.status == 200);
  // Queued through a member that is not the owner; its client leaves.
  {
    http_client leaving(c[other].port);
    leaving.send_only(verb::post, "/v1/admit", "beta-key", "{}");
    REQUIRE(eventually([&] { return c[owner].metric("usher_queued{account=\"beta\"}") == 1; }));
    leaving.close();
  }
  REQUIRE(eventually([&] { return c[owner].metric("usher_queued{account=\"beta\"}") == 0; }));
  // Another waits through the third member and gets the slot on release.
  raw_conn waiting(c[third].port);
  REQUIRE(waiting.send("POST /v1/admit HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer beta-key\r\n"
                       "Content-Length: 2\r\n\r\n{}"));
  REQUIRE(eventually([&] { return c[owner].metric("usher_queued{account=\"beta\"}") == 1; }));
  CHECK(c[other].release("beta-key", lease_of(first)).status == 200);
  auto got = waiting.read_response();
  REQUIRE(got);
  CHECK(got->status == 200);
}

TEST_CASE("kill -9 of a busy account's owner: the clients never hold more than the limit") {
  constexpr int limit = 3;
  cluster c;
  REQUIRE(eventually([&] { return c.settled({0, 1, 2}); }));
  auto owner = *c.owner("acme");
  std::vector<std::size_t> survivors;
  for (std::size_t i = 0; i < 3; ++i)
    if (i != owner) survivors.push_back(i);

  holdings spans;
  std::atomic<bool> stop{false};
  std::atomic<int> granted_after_kill{0}, unavailable{0};
  std::atomic<bool> killed{false};
  auto client = [&](int id) {
    std::mt19937 rng(id);
    const auto ttl = std::chrono::seconds(2);
    while (!stop) {
      // Clients use the survivors only once the owner is gone. A grant
      // counts as after the kill only if it was asked for after it: one
      // answered just before the kill may return after the flag is set.
      const bool asked_after_kill = killed;
      auto& node = asked_after_kill ? c[survivors[rng() % 2]] : c[rng() % 3];
      usher::testing::http_result r;
      try {
        r = node.admit("acme-key", {{"model", "m"}});
      } catch (...) {
        continue;  // the killed member's port
      }
      if (r.status == 503) ++unavailable;
      if (r.status != 200) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        continue;
      }
      auto from = clock_type::now();
      auto last_ok = from;
      if (asked_after_kill) ++granted_after_kill;
      auto lease = lease_of(r);
      auto hold_until = from + std::chrono::milliseconds(100 + rng() % 300);
      // Hold it, renewing through any surviving member.
      bool released = false;
      int renewals = 0;
      while (clock_type::now() < hold_until && !stop)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      for (int tries = 0; tries < 40 && !released; ++tries) {
        auto& via = c[survivors[rng() % 2]];
        auto sent = clock_type::now();
        auto rel = via.release("acme-key", lease);
        if (rel.status == 200 || rel.status == 404) {
          // 404: the lease is not known (its owner died and the new one never
          // saw it): the client stopped using it when it sent the release.
          spans.add(from, sent,
                    lease + (rel.status == 404 ? " 404" : "") + " renewed " + std::to_string(renewals));
          released = true;
          break;
        }
        auto renew = via.call(verb::post, "/v1/leases/" + lease + "/renew", "acme-key",
                              R"({"model":"m","cost":1})");
        if (renew.status == 200) last_ok = clock_type::now(), ++renewals;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      if (!released) spans.add(from, last_ok + ttl, lease + " never released");
    }
  };
  std::vector<std::thread> clients;
  for (int i = 0; i < 6; ++i) clients.emplace_back(client, i);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  c[owner].kill_hard();
  killed = true;
  // Grants resume on the new owner after it recovers (one lease TTL).
  bool resumed = eventually([&] { return granted_after_kill > 0; }, std::chrono::seconds(20));
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  stop = true;
  for (auto& t : clients) t.join();
  CHECK(resumed);
  CHECK(unavailable > 0);  // the takeover window answered 503, not a grant
  INFO("leases counted: " << spans.count() << "\n" << spans.dump());
  CHECK(spans.max_at_once() <= limit);
  std::optional<std::size_t> new_owner;
  CHECK(eventually([&] {
    new_owner = c.owner("acme", survivors[0]);
    return new_owner && *new_owner != owner;
  }));
  REQUIRE(new_owner);
  CHECK(c[*new_owner].metric("usher_cluster_takeovers_total") >= 1);
}

TEST_CASE("replicas = 1: kill -9 of an owner: the member with its copy grants at once, its leases kept") {
  // A lease TTL of 30 s: a takeover without the copy would refuse grants
  // (503 recovering) for all of it.
  cluster c(3, 3, "", accounts, "30s", 1);
  REQUIRE(eventually([&] { return c.settled({0, 1, 2}); }));
  auto owner = *c.owner("acme");
  auto other = (owner + 1) % 3;
  // Two of acme's three units, granted through another member.
  std::vector<std::string> held;
  for (int i = 0; i < 2; ++i) {
    auto r = c[other].admit("acme-key", {{"model", "m"}});
    REQUIRE(r.status == 200);
    held.push_back(lease_of(r));
  }
  c[owner].kill_hard();
  // The third unit is granted once the member with the copy has taken acme
  // over; until then 503 owner_down or no_majority, never recovering.
  std::string third;
  int recovering = 0;
  bool granted = eventually(
      [&] {
        auto r = c[other].admit("acme-key", {{"model", "m"}});
        if (r.status == 200) third = lease_of(r);
        else if (r.json()["error"]["code"] == "recovering") ++recovering;
        return !third.empty();
      },
      std::chrono::seconds(20));
  INFO("the survivors said: " << c[other].stderr_text() << "\n---\n" << c[(owner + 2) % 3].stderr_text());
  CHECK(recovering == 0);
  REQUIRE(granted);
  auto new_owner = *c.owner("acme", other);
  CHECK(new_owner != owner);
  CHECK(c[new_owner].metric("usher_cluster_takeovers_from_copy_total") >= 1);
  // The two leases came with the copy: all three units are in use, and the
  // copied leases renew and release there.
  CHECK(c[other].usage("acme-key")["used_cost"] == 3);
  for (auto& l : held) {
    CHECK(c[other].call(verb::post, "/v1/leases/" + l + "/renew", "acme-key").status == 200);
    CHECK(c[other].release("acme-key", l).status == 200);
  }
  CHECK(c[other].usage("acme-key")["used_cost"] == 1);
  CHECK(c[new_owner].metric("usher_cluster_replica_waits_total") >= 1);
}

TEST_CASE("an owner stopped (SIGSTOP) past failure_timeout grants nothing it lost once resumed") {
  cluster c;
  REQUIRE(eventually([&] { return c.settled({0, 1, 2}); }));
  auto owner = *c.owner("acme");
  auto other = (owner + 1) % 3;
  REQUIRE(::kill(c[owner].pid(), SIGSTOP) == 0);
  // The others take acme over and, after its recovery, fill its limit. The
  // holders renew (through the member that granted them) while the test
  // waits, as live ones do: a lease not renewed within its 2 s TTL ends, and
  // a fourth would then rightly fit (a loaded ASan run once took longer
  // than that to settle, and saw exactly this).
  std::vector<std::string> held;
  auto renew_held = [&] {
    for (auto& l : held) c[other].call(verb::post, "/v1/leases/" + l + "/renew", "acme-key");
  };
  REQUIRE(eventually(
      [&] {
        renew_held();
        auto r = c[other].admit("acme-key", {{"model", "m"}});
        if (r.status == 200) held.push_back(lease_of(r));
        return held.size() == 3;
      },
      std::chrono::seconds(20)));
  REQUIRE(::kill(c[owner].pid(), SIGCONT) == 0);
  // Straight to the old owner, the instant it runs again: never a fourth.
  for (int i = 0; i < 20; ++i) {
    auto r = c[owner].admit("acme-key", {{"model", "m"}});
    INFO("answer " << i << ": " << r.body);
    CHECK(r.status != 200);
  }
  // It rejoins; the limit still holds whoever owns acme now.
  REQUIRE(eventually([&] {
    renew_held();
    return c.settled({0, 1, 2});
  }));
  renew_held();
  for (std::size_t i = 0; i < 3; ++i) CHECK(c[i].admit("acme-key", {{"model", "m"}}).status != 200);
  for (auto& l : held) CHECK(c[owner].release("acme-key", l).status == 200);
  CHECK(eventually([&] { return c[owner].admit("acme-key", {{"model", "m"}}).status == 200; }));
}

TEST_CASE("a restarted member rejoins and takes its accounts back by handoff, leases with them") {
  cluster c;
  REQUIRE(eventually([&] { return c.settled({0, 1, 2}); }));
  auto owner = *c.owner("acme");
  auto other = (owner + 1) % 3;
  c[owner].kill_hard();
  // After the takeover's recovery a lease is granted by the new owner...
  std::string lease;
  REQUIRE(eventually(
      [&] {
        auto r = c[other].admit("acme-key", {{"model", "m"}});
        if (r.status == 200) lease = lease_of(r);
        return !lease.empty();
      },
      std::chrono::seconds(20)));
  // ...the old owner comes back, and acme moves back to it by handoff. The
  // holder renews meanwhile, as a live one would: a restart under a
  // sanitizer can outlast the 2 s TTL (a CI run saw the lease expire).
  auto renew = [&] { c[other].call(verb::post, "/v1/leases/" + lease + "/renew", "acme-key"); };
  c.start(owner);
  REQUIRE(eventually([&] {
    renew();
    return c.settled({0, 1, 2}) && c.owner("acme") == owner;
  }));
  REQUIRE(eventually([&] {
    renew();
    return c[owner].metric("usher_cluster_handoffs_total{direction=\"in\"}") >= 1;
  }));
  // The lease moved with it: counted, renewable and releasable there.
  CHECK(c[owner].usage("acme-key")["used_cost"] == 1);
  CHECK(c[owner].call(verb::post, "/v1/leases/" + lease + "/renew", "acme-key").status == 200);
  CHECK(c[other].release("acme-key", lease).status == 200);
  CHECK(c[owner].usage("acme-key")["used_cost"] == 0);
}

TEST_CASE("a request forwarded to an owner that dies is answered 503 at once, not held") {
  cluster c;
  REQUIRE(eventually([&] { return c.settled({0, 1, 2}); }));
  auto owner = *c.owner("beta");
  auto other = (owner + 1) % 3;
  REQUIRE(c[owner].admit("beta-key").status == 200);  // beta's one stream
  raw_conn waiting(c[other].port);
  REQUIRE(waiting.send("POST /v1/admit HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer beta-key\r\n"
                       "Content-Length: 2\r\n\r\n{}"));
  REQUIRE(eventually([&] { return c[owner].metric("usher_queued{account=\"beta\"}") == 1; }));
  c[owner].kill_hard();
  auto got = waiting.read_response();  // bounded: a hang fails here
  REQUIRE(got);
  CHECK(got->status == 503);
  CHECK(got->json()["error"]["code"] == "owner_down");
  CHECK(!got->header(boost::beast::http::field::retry_after).empty());
}

TEST_CASE("a member whose limits differ is refused and grants nothing") {
  cluster c(3, 2);
  REQUIRE(eventually([&] { return c.settled({0, 1}); }));
  auto differs = accounts;
  differs.replace(differs.find("limit = 3"), 9, "limit = 9");
  // The third member's accounts differ: it never counts the others up.
  c.start(2, differs);
  REQUIRE(eventually([&] { return c[2].stderr_text().find("differ") != std::string::npos; }));
  auto v = c.view(2);
  CHECK(v["majority"] == false);
  CHECK(c[2].call(verb::get, "/readyz", "").status == 503);
  auto r = c[2].admit("acme-key", {{"model", "m"}});
  CHECK(r.status == 503);
  CHECK(r.json()["error"]["code"] == "no_majority");
  // The first two go on granting.
  CHECK(c[0].admit("acme-key", {{"model", "m"}}).status == 200);
}

// Rewrites member i's config with `account_text`, sends SIGHUP and waits
// for its log to say how the reload went; returns what it said.
std::string reload_member(cluster& c, std::size_t i, const std::string& account_text) {
  auto before = c[i].stderr_text().size();
  c[i].rewrite_config(c.config_for(i, account_text));
  REQUIRE(::kill(c[i].pid(), SIGHUP) == 0);
  std::string said;
  REQUIRE(eventually([&] {
    said = c[i].stderr_text().substr(before);
    return said.find("reload") != std::string::npos && said.find('\n') != std::string::npos;
  }));
  return said;
}

TEST_CASE("a rolling reload: the members apply new limits together, once every one has read them") {
  cluster c(3, 3, "", accounts, "30s");  // leases outlive the test: no renewals needed
  REQUIRE(eventually([&] { return c.settled({0, 1, 2}); }));
  auto owner = *c.owner("acme");
  auto edge = (owner + 1) % 3, third = (owner + 2) % 3;
  for (int i = 0; i < 3; ++i) REQUIRE(c[edge].admit("acme-key", {{"model", "m"}}).status == 200);
  REQUIRE(c[edge].admit("acme-key", {{"model", "m"}}).status == 429);
  auto before = c.view(owner)["limits"];

  // An account removed: refused in a cluster (members would decide a group
  // the others no longer have).
  auto beta_at = accounts.find("[account.beta]");
  CHECK(reload_member(c, owner, accounts.substr(0, beta_at)).find("account beta removed") != std::string::npos);

  auto raised = accounts;
  raised.replace(raised.find("limit = 3"), 9, "limit = 5");
  // Two members have read the new limits, the owner among them: every
  // member goes on applying the old ones, and counts the others up.
  for (auto i : {owner, edge})
    CHECK(reload_member(c, i, raised).find("new limits") != std::string::npos);
  REQUIRE(eventually([&] {
    auto v = c.view(owner);
    return v["limits_waiting_for"] == nlohmann::json::array({cluster::name(third)});
  }));
  CHECK(c.view(owner)["limits"] == before);
  CHECK(c[edge].admit("acme-key", {{"model", "m"}}).status == 429);
  CHECK(c[third].usage("acme-key")["limit"] == 3);
  CHECK(c.formed({0, 1, 2}));

  // The third reads them: all three switch, nobody was counted down, the
  // leases held stay, and the account has 5 units.
  CHECK(reload_member(c, third, raised).find("new limits") != std::string::npos);
  REQUIRE(eventually([&] {
    for (std::size_t i = 0; i < 3; ++i) {
      auto v = c.view(i);
      if (v["limits"] == before || v.contains("limits_next")) return false;
    }
    return true;
  }));
  REQUIRE(eventually([&] { return c[owner].usage("acme-key")["limit"] == 5; }));
  CHECK(c.formed({0, 1, 2}));
  CHECK(c[third].usage("acme-key")["used_cost"] == 3);
  CHECK(c[third].admit("acme-key", {{"model", "m"}}).status == 200);
  CHECK(c[owner].admit("acme-key", {{"model", "m"}}).status == 200);
  CHECK(c[edge].admit("acme-key", {{"model", "m"}}).status == 429);
  for (std::size_t i = 0; i < 3; ++i) {
    INFO("member " << cluster::name(i) << " said: " << c[i].stderr_text());
    CHECK(c[i].stderr_text().find("reloaded limits applied with the cluster") != std::string::npos);
    CHECK(c[i].stderr_text().find("differ") == std::string::npos);
    CHECK(c[i].stderr_text().find("is down") == std::string::npos);
  }
}

TEST_CASE("a rolling reload that adds accounts: their keys work on every member once all have read it") {
  cluster c(3, 3, "", accounts, "30s");
  REQUIRE(eventually([&] { return c.settled({0, 1, 2}); }));
  // Three new accounts: their owners spread over the members.
  std::string added = accounts;
  for (int i = 0; i < 3; ++i)
    added += "[account.new" + std::to_string(i) + "]\nplan = weighted\nlimit = 1\n" +
             key_line("new" + std::to_string(i) + "-key");
  auto held = c[0].admit("acme-key", {{"model", "m"}});
  REQUIRE(held.status == 200);
  CHECK(reload_member(c, 0, added).find("new limits") != std::string::npos);
  CHECK(reload_member(c, 1, added).find("new limits") != std::string::npos);
  // Two of three have read it: the new keys are not known anywhere yet.
  CHECK(c[0].admit("new0-key", {{"model", "m"}}).status == 401);
  CHECK(c[2].admit("new0-key", {{"model", "m"}}).status == 401);
  CHECK(reload_member(c, 2, added).find("new limits") != std::string::npos);
  for (int i = 0; i < 3; ++i) {
    auto key = "new" + std::to_string(i) + "-key";
    // Served from every member (forwarded to its owner), within its limit.
    std::string lease;
    REQUIRE(eventually([&] {
      auto r = c[(i + 1) % 3].admit(key, {{"model", "m"}});
      if (r.status == 200) lease = lease_of(r);
      return r.status == 200;
    }));
    CHECK(c[(i + 2) % 3].admit(key, {{"model", "m"}}).status == 429);
    CHECK(c[i % 3].release(key, lease).status == 200);
  }
  // Nothing else moved or waited: no takeover, no handoff, the lease held
  // before stays.
  CHECK(c[1].usage("acme-key")["used_cost"] == 1);
  CHECK(c.formed({0, 1, 2}));
  for (std::size_t i = 0; i < 3; ++i) {
    INFO("member " << cluster::name(i) << " said: " << c[i].stderr_text());
    CHECK(c[i].metric("usher_cluster_takeovers_total") == 0);
    CHECK(c[i].stderr_text().find("added by the reload") != std::string::npos);
    CHECK(c[i].stderr_text().find("recovering") == std::string::npos);
  }
  CHECK(c[0].release("acme-key", lease_of(held)).status == 200);
  // A later reload is checked against what the cluster applies now: it may
  // not remove what this one added.
  CHECK(reload_member(c, 0, accounts).find("account new0 removed") != std::string::npos);
}

TEST_CASE("a member drained with SIGTERM hands its accounts over, leases with them, and exits 0") {
  cluster c(3, 3, "drain_timeout = 2s\n");
  REQUIRE(eventually([&] { return c.settled({0, 1, 2}); }));
  auto owner = *c.owner("acme");
  auto other = (owner + 1) % 3;
  auto granted = c[other].admit("acme-key", {{"model", "m"}});
  REQUIRE(granted.status == 200);
  auto lease = lease_of(granted);
  CHECK(c[owner].stop() == 0);  // SIGTERM: drains, hands off, stops
  INFO("the drained member said: " << c[owner].stopped_stderr);
  CHECK(c[owner].stopped_stderr.find("every account handed to the other members") != std::string::npos);
  // The lease is still counted and held on the new owner: no recovery window.
  CHECK(c[other].usage("acme-key")["used_cost"] == 1);
  auto more = c[other].admit("acme-key", {{"model", "m"}});
  INFO("the second admission was answered: " << more.body);
  INFO("the member asked sees: " << c.view(other).dump());
  CHECK(more.status == 200);
  CHECK(c[other].release("acme-key", lease).status == 200);
  double takeovers = 0;
  for (std::size_t i = 0; i < 3; ++i)
    if (i != owner) takeovers += c[i].metric("usher_cluster_takeovers_total");
  CHECK(takeovers == 0);
  if (more.status == 200) CHECK(c[other].release("acme-key", lease_of(more)).status == 200);
}

TEST_CASE("a drained member hands its accounts' rate buckets over: no fresh burst on the new owner") {
  // One request a minute: the one taken must still be missing on the new
  // owner (a bucket that moved refills at the same pace, so the test has a
  // minute, not a window to hit).
  cluster c(3, 3, "drain_timeout = 2s\n",
            accounts + "[account.gamma]\nplan = streams:solo\nlimit = 5\nrequests_per_minute = 1\n" +
                key_line("gamma-key"));
  REQUIRE(eventually([&] { return c.settled({0, 1, 2}); }));
  auto owner = *c.owner("gamma");
  auto other = (owner + 1) % 3;
  auto first = c[other].admit("gamma-key", {{"model", "m"}});
  REQUIRE(first.status == 200);
  CHECK(c[other].release("gamma-key", lease_of(first)).status == 200);
  auto second = c[other].admit("gamma-key", {{"model", "m"}});
  REQUIRE(second.status == 429);
  CHECK(second.json()["error"]["code"] == "request_rate");
  CHECK(c[owner].stop() == 0);  // SIGTERM: drains, hands off, stops
  INFO("the drained member said: " << c[owner].stopped_stderr);
  REQUIRE(c.owner("gamma", other) != owner);
  auto after = c[other].admit("gamma-key", {{"model", "m"}});
  INFO("the member asked sees: " << c.view(other).dump());
  CHECK(after.status == 429);
  CHECK(after.json()["error"]["code"] == "request_rate");
  CHECK(c[other].metric("usher_cluster_takeovers_total") == 0);
}

// An account (ex) of at most two WebSocket connections (limit 1 x
// ws.per_concurrency 2), both open at `edge`, a member that does not own
// it; `third` is the member that neither owns it nor has them.
struct two_sockets_open {
  explicit two_sockets_open(const std::string& lease_ttl = "2s", const std::string& node_text = "")
      : c(3, 3, node_text,
          accounts + "[account.ex]\nplan = exclusive\nws.per_concurrency = 2\n" + key_line("ex-key"),
          lease_ttl) {
    REQUIRE(eventually([&] { return c.settled({0, 1, 2}); }));
    owner = *c.owner("ex");
    edge = (owner + 1) % 3;
    third = (owner + 2) % 3;
    first = std::make_unique<usher::testing::ws_client>(c[edge].port, "ex-key");
    second = std::make_unique<usher::testing::ws_client>(c[edge].port, "ex-key");
    REQUIRE(first->status == 101);
    REQUIRE(second->status == 101);
  }

  /// The status of one more connection's upgrade at member `i` (closed at once).
  unsigned open_at(std::size_t i) { return http_client(c[i].port).upgrade("ex-key").status; }

  /// The first socket closes: once its slot is free, a connection opens at `third`.
  bool first_closed_frees_its_slot() {
    first->close();
    first.reset();
    return eventually([&] { return open_at(third) == 101; });
  }

  cluster c;
  std::size_t owner = 0, edge = 0, third = 0;
  std::unique_ptr<usher::testing::ws_client> first, second;
};

TEST_CASE("a drained member hands over the slots of open WebSocket connections: the cap holds on the new owner") {
  // A TTL long enough that the sockets' renewals outlive the handoff however
  // slow a sanitizer build makes it.
  two_sockets_open t("10s", "drain_timeout = 2s\n");
  CHECK(t.open_at(t.edge) == 429);
  CHECK(t.c[t.owner].stop() == 0);  // SIGTERM: drains, hands off, stops
  INFO("the drained member said: " << t.c[t.owner].stopped_stderr);
  REQUIRE(t.c.owner("ex", t.edge) != t.owner);
  CHECK(t.open_at(t.edge) == 429);
  CHECK(t.first_closed_frees_its_slot());
}

TEST_CASE("kill -9 of the member whose edge holds WebSocket connections: their slots free at the owner") {
  // The connections' leases have a TTL in a cluster, renewed by the member
  // whose edge has the socket: it dies, they end (a leak before).
  two_sockets_open t;
  CHECK(t.open_at(t.third) == 429);
  t.c[t.edge].kill_hard();
  CHECK(eventually([&] { return t.open_at(t.third) == 101; }, std::chrono::seconds(30)));
}

TEST_CASE("a member paused past a lease TTL: the owner frees its WebSocket slots, and resumed it closes their sockets with 1013") {
  two_sockets_open t;
  REQUIRE(::kill(t.c[t.edge].pid(), SIGSTOP) == 0);
  // Unrenewed, the connections' leases end at the owner: a new one fits.
  CHECK(eventually([&] { return t.open_at(t.third) == 101; }, std::chrono::seconds(30)));
  REQUIRE(::kill(t.c[t.edge].pid(), SIGCONT) == 0);
  // Resumed, the member lets no socket go on with a slot it lost.
  for (auto* ws : {t.first.get(), t.second.get()}) {
    REQUIRE(ws->sends_within(std::chrono::seconds(30)));
    CHECK_FALSE(ws->read_frame());
    CHECK(ws->close_code == 1013);
    CHECK(ws->close_reason == "Admission lost: reconnect");
  }
  CHECK(t.c[t.edge].metric("usher_ws_leases_lost_total") == 2);
}

TEST_CASE("kill -9 of the owner: the member that takes the account over counts its open WebSocket connections") {
  // The edge renews the connections' leases every third of a TTL and gives
  // a connection up after two thirds of one unanswered: the TTL must
  // outlast a takeover (failure_timeout and a claim) for them to survive it.
#ifdef USHER_SANITIZER_BUILD
  two_sockets_open t("15s");
#else
  two_sockets_open t("6s");
#endif
  t.c[t.owner].kill_hard();
  REQUIRE(eventually([&] {
    auto o = t.c.owner("ex", t.edge);
    return o && *o != t.owner;
  }, std::chrono::seconds(30)));
  // Recovering, the new owner answers 503; then it knows both connections
  // from their renewals, and the cap holds (without them: 101).
  unsigned status = 0;
  REQUIRE(eventually([&] { return (status = t.open_at(t.third)) != 503; }, std::chrono::seconds(60)));
  CHECK(status == 429);
  // Both sockets lived through it, and their requests are admitted there.
  auto admitted = t.first->exchange({{"type", "request"}});
  INFO(admitted.dump());
  CHECK(admitted["type"] == "admitted");
  CHECK(t.first->exchange({{"type", "release"}, {"lease", admitted["lease"]}})["type"] == "released");
  CHECK(t.first_closed_frees_its_slot());  // an adopted slot too
}

TEST_CASE("a gateway realtime session outlives the kill -9 of its account's owner: its response's slot is adopted") {
  // The session's leases (its connection, its response's slot) are renewed
  // by the member it reached; the member that takes the account over adopts
  // them, so another session's response waits (without them it would run).
  mock_model_process mock;
#ifdef USHER_SANITIZER_BUILD
  const std::string ttl = "15s";
#else
  const std::string ttl = "6s";
#endif
  const std::string text = "[gateway]\nupstream = http://127.0.0.1:" + std::to_string(mock.port) +
                           "/v1\n[account.tts]\nplan = exclusive\n" + key_line("tts-key");
  cluster c(3, 3, "", text, ttl);
  REQUIRE(eventually([&] { return c.settled({0, 1, 2}); }));
  auto owner = *c.owner("tts");
  auto edge = (owner + 1) % 3, third = (owner + 2) % 3;
  const std::string target = "/v1/realtime?model=mock-model";
  auto create = [](const std::string& id, long tokens, double per_s) {
    return nlohmann::json{{"type", "response.create"},
                          {"event_id", id},
                          {"mock", {{"tokens", tokens}, {"tokens_per_s", per_s}}}};
  };
  auto next_of = [](usher::testing::ws_client& ws, const std::string& type) {
    for (;;) {
      auto event = ws.read();
      if (event.is_null() || event["type"] == type) return event;
    }
  };
  usher::testing::ws_client a(c[edge].port, "tts-key", target);
  REQUIRE(a.status == 101);
  REQUIRE(a.read()["type"] == "session.created");
  REQUIRE(a.exchange(create("long", 100000, 50))["type"] == "response.created");
  c[owner].kill_hard();
  REQUIRE(eventually([&] {
    auto o = c.owner("tts", edge);
    return o && *o != owner;
  }, std::chrono::seconds(30)));
  // A session at the third member, once the new owner has recovered.
  std::unique_ptr<usher::testing::ws_client> b;
  REQUIRE(eventually([&] {
    b = std::make_unique<usher::testing::ws_client>(c[third].port, "tts-key", target);
    return b->status == 101;
  }, std::chrono::seconds(60)));
  REQUIRE(b->read()["type"] == "session.created");
  auto refused = b->exchange(create("second", 3, 1000));
  INFO(refused.dump());
  CHECK(refused["type"] == "error");
  CHECK(refused["error"]["type"] == "rate_limit_error");
  // The first session lived through it: its response ends, the slot is free.
  a.send(R"({"type":"response.cancel"})");
  CHECK(next_of(a, "response.done")["response"]["status"] == "cancelled");
  CHECK(eventually([&] { return b->exchange(create("third", 3, 1000))["type"] == "response.created"; }));
  CHECK(mock.stats()["realtime_responses"]["max_in_flight"] == 1);
}

TEST_CASE("the gateway on every member: proxied calls share the account's limit at its owner") {
  // docs/GATEWAY.md, "In a cluster": admitted at the owner, proxied from the
  // member the customer reached, released at the owner when the answer ends.
  mock_model_process mock({"--tokens", "10", "--tokens-per-s", "100"});
  std::string gateway = "[gateway]\nupstream = http://127.0.0.1:" + std::to_string(mock.port) + "\n";
  cluster c(3, 0);
  for (std::size_t i = 0; i < 3; ++i) c.start(i, accounts + gateway);
  REQUIRE(eventually([&] { return c.settled({0, 1, 2}); }, std::chrono::seconds(30)));
  std::atomic<int> granted{0}, refused{0}, other{0};
  std::vector<std::thread> clients;
  for (std::size_t t = 0; t < 6; ++t)
    clients.emplace_back([&, t] {
      http_client h(c[t % 3].port);
      for (int k = 0; k < 3; ++k) {
        auto r = h.call(verb::post, "/v1/chat/completions", "acme-key",
                        R"({"model":"m","stream":true,"user":"acme","messages":[]})");
        if (r.status == 200 && r.body.find("data: [DONE]") != std::string::npos) ++granted;
        else if (r.status == 429) ++refused;
        else ++other;
      }
    });
  for (auto& t : clients) t.join();
  auto stats = mock.stats();
  INFO(stats.dump());
  CHECK(other == 0);
  CHECK(granted >= 3);
  CHECK(granted + refused == 18);
  CHECK(stats["users"]["acme"]["requests"] == granted.load());
  CHECK(stats["users"]["acme"]["max_in_flight"] <= 3);  // acme's limit, across three members
  for (std::size_t i = 0; i < 3; ++i)
    CHECK(eventually([&] { return c[i].usage("acme-key")["used_cost"] == 0; }));
}

// `usher serve` under connection and file-descriptor pressure (issue #9,
// item 2): a node at its open-file limit or its connection cap sheds the
// oldest idle connections instead of spinning on accept(), keeps serving a
// normal client, closes connections that do not send a complete request
// within request_timeout (slowloris) or sit idle beyond idle_timeout, and
// never times out one that waits for an admission. Real node processes on
// 127.0.0.1; every wait has a generous deadline, and only outcomes are
// asserted.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>
#include <sstream>

#include "support/live_node.hpp"

using nlohmann::json;
using usher::testing::eventually;
using usher::testing::key_line;
using usher::testing::live_node;
using usher::testing::raw_conn;
using namespace std::chrono_literals;

namespace {

std::string admit_request(const std::string& key, const std::string& body = "{}") {
  return "POST /v1/admit HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + key +
         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

std::string release_request(const std::string& key, const std::string& lease) {
  return "DELETE /v1/leases/" + lease + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
         key + "\r\n\r\n";
}

std::string get_request(const std::string& target, const std::string& key = "") {
  return "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
         (key.empty() ? "" : "Authorization: Bearer " + key + "\r\n") + "\r\n";
}

// One sample of a /metrics text (0 when absent).
double sample_of(const std::string& metrics_text, const std::string& sample) {
  std::istringstream lines(metrics_text);
  for (std::string line; std::getline(lines, line);)
    if (line.size() > sample.size() && line.compare(0, sample.size(), sample) == 0 &&
        line[sample.size()] == ' ')
      return std::stod(line.substr(sample.size() + 1));
  return 0;
}

// One /metrics sample (0 when absent), read over a connection with deadlines
// so that a node that stopped answering fails the test instead of hanging it.
double metric(std::uint16_t port, const std::string& sample) {
  raw_conn c(port);
  REQUIRE(c.send(get_request("/metrics")));
  auto r = c.read_response(20s);
  REQUIRE(r);
  return sample_of(r->body, sample);
}

// CPU time the process has used so far, in clock ticks (utime + stime).
long cpu_ticks(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), {});
  auto after_name = stat.rfind(')');
  REQUIRE(after_name != std::string::npos);
  std::istringstream fields(stat.substr(after_name + 2));
  std::string f;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {  // field 3 is the state
    if (i == 14) utime = std::stol(f);
    if (i == 15) stime = std::stol(f);
  }
  return utime + stime;
}

// Makes `total` connection attempts that never send a byte, holding `hold`
// of them open at once (the client closes the oldest to make room). Returns
// the last ones, still open. Non-blocking connects: an attempt the node's
// backlog cannot take is simply one more attempt.
std::deque<int> flood(std::uint16_t port, int total, std::size_t hold) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::deque<int> open;
  for (int i = 0; i < total; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) FAIL("socket(): " << std::strerror(errno));
    [[maybe_unused]] int r = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    open.push_back(fd);
    if (open.size() > hold) {
      ::close(open.front());
      open.pop_front();
    }
  }
  return open;
}

// A request sent on a new connection until the node answers it with
// anything but 503, within a minute. Under a flood a new connection may be
// shed before its request is read (it is the oldest one still owing a
// request once later SYNs, retransmitted by the kernel, are accepted behind
// it) or refused with 503 at the cap: a real client retries, and so does
// this one. A request that was read is answered before its connection can
// be shed (a busy connection never is), so a retry never repeats one.
usher::testing::http_result served(std::uint16_t port, const std::string& request) {
  auto until = std::chrono::steady_clock::now() + 60s;
  for (;;) {
    {
      raw_conn c(port);
      if (c.send(request))
        if (auto r = c.read_response(20s); r && r->status != 503) return *r;
    }
    REQUIRE(std::chrono::steady_clock::now() < until);
    std::this_thread::sleep_for(50ms);
  }
}

double served_metric(std::uint16_t port, const std::string& sample) {
  return sample_of(served(port, get_request("/metrics")).body, sample);
}

// Admits, then releases: the node serves a normal client.
void admit_and_release(std::uint16_t port, const std::string& key) {
  auto r = served(port, admit_request(key));
  INFO(r.body);
  REQUIRE(r.status == 200);
  std::string lease = r.json()["lease"];
  auto d = served(port, release_request(key, lease));
  CHECK(d.status == 200);
  CHECK(d.json()["released"] == true);
}

}  // namespace

TEST_CASE(
    "at the open-file limit the node sheds idle connections and serves clients without spinning",
    "[limits]") {
  // 64 descriptors: the default cap is half of them. With max_connections
  // set far above what the limit allows, accept() itself fails (EMFILE) and
  // the node must make room by shedding instead of retrying at once.
  struct variant {
    const char* name;
    std::string node_keys;
    bool at_emfile;
  };
  for (auto& v :
       {variant{"the default cap", "", false},
        variant{"max_connections above the limit: EMFILE", "max_connections = 10000\n", true}}) {
    DYNAMIC_SECTION(v.name) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
      // A sanitizer runtime needs descriptors of its own at any moment
      // (UBSan's vptr check opens a pipe to probe memory, and reports a
      // false error when it cannot), so the node's own EMFILE path is
      // tested in the plain build only; the default cap never reaches it.
      if (v.at_emfile) {
        WARN("skipped in a sanitizer build: the sanitizer runtime needs free descriptors");
        continue;
      }
#endif
      live_node node(
          "[node]\n" + v.node_keys + "[account.acme]\nplan = streams:solo\n" + key_line("acme-key"),
          64);
      // Hundreds held idle, 10,000 attempts in all.
      auto idle = flood(node.port, 10'000, 300);
      // Once the node answers again it has worked through its backlog, or
      // through what the kernel let in: connections whose handshake it
      // dropped under the flood come back by retransmission, seconds later
      // on a loaded machine (an ASan run saw none shed yet at its first
      // answer), and are shed then. A quiet second follows in which the
      // node must not burn a core on accept().
      CHECK(eventually([&] { return served_metric(node.port, "usher_connections_shed_total") > 0; },
                       30s));
      auto before = cpu_ticks(node.pid());
      std::this_thread::sleep_for(1s);
      auto used = cpu_ticks(node.pid()) - before;
      CHECK(used <= ::sysconf(_SC_CLK_TCK) / 2);  // a spinning node uses a whole second

      admit_and_release(node.port, "acme-key");
      CHECK(served(node.port, get_request("/account/concurrency", "acme-key"))
                .json()["request_count"] == 0);
      CHECK(served_metric(node.port, "usher_http_connections") <= 64);
      if (v.at_emfile)
        CHECK(served_metric(node.port, "usher_accept_errors_total") > 0);
      else
        CHECK(served_metric(node.port, "usher_max_connections") == 32);
      for (int fd : idle) ::close(fd);
      // With the flood gone the node is as before.
      admit_and_release(node.port, "acme-key");
      CHECK(node.alive());
    }
  }
}

TEST_CASE("at max_connections the oldest idle connection makes room or else a new one gets 503",
          "[limits]") {
  live_node node("[node]\nmax_connections = 2\n[account.acme]\nplan = streams:solo\n" +
                 key_line("acme-key"));
  SECTION("a connection that never sent a request goes before a kept-alive one") {
    raw_conn kept(node.port);  // oldest, has been served: idle between requests
    REQUIRE(kept.send(get_request("/account/concurrency", "acme-key")));
    REQUIRE(kept.read_response());
    raw_conn silent(node.port);  // newer, but has sent nothing
    // The metrics read is the third connection: the silent one makes room.
    CHECK(metric(node.port, "usher_http_connections") == 2);
    CHECK(silent.closed_within(10s));
    CHECK(metric(node.port, "usher_connections_shed_total") >= 1);
    REQUIRE(kept.send(get_request("/account/concurrency", "acme-key")));
    auto again = kept.read_response();
    REQUIRE(again);
    CHECK(again->status == 200);
  }
  SECTION("busy connections are never shed: a new one is refused") {
    raw_conn a(node.port), b(node.port);
    REQUIRE(a.send(get_request("/account/concurrency/stream", "acme-key")));
    REQUIRE(b.send(get_request("/account/concurrency/stream", "acme-key")));
    auto streaming = [](raw_conn& c) {
      return eventually([&] {
        c.open_after(10ms);  // reads what came
        return c.received().find("data: ") != std::string::npos;
      });
    };
    REQUIRE(streaming(a));
    REQUIRE(streaming(b));
    raw_conn c(node.port);
    auto r = c.read_response(10s);
    REQUIRE(r);
    CHECK(r->status == 503);
    CHECK(r->json()["error"]["code"] == "too_many_connections");
    CHECK(r->header(boost::beast::http::field::retry_after) == "1");
    CHECK(c.closed_within(10s));
    CHECK(a.open_after(100ms));
    a.close();
    // The stream's slot comes back (a refused metrics read counts as 0).
    CHECK(eventually([&] { return metric(node.port, "usher_sse_streams") == 1; }));
  }
}

TEST_CASE("a connection that does not send a complete request within request_timeout is closed",
          "[limits]") {
  live_node node(
      "[node]\nrequest_timeout = 1s\nidle_timeout = 30s\n"
      "[account.acme]\nplan = streams:solo\nlimit = 1\nqueue.max_wait = 20\n" +
      key_line("acme-key"));
  // A slowloris: headers a byte at a time, never finished.
  raw_conn slow(node.port);
  std::string header = "GET /account/concurrency HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
  bool cut_off = false;
  auto until = std::chrono::steady_clock::now() + 20s;
  for (std::size_t i = 0; !cut_off && std::chrono::steady_clock::now() < until; ++i) {
    cut_off = !slow.send(std::string(1, i < header.size() ? header[i] : 'a'), 1s) ||
              slow.closed_within(50ms);
  }
  CHECK(cut_off);
  CHECK(metric(node.port, "usher_connection_timeouts_total{phase=\"request\"}") >= 1);

  // Meanwhile a normal client is served, and kept alive past the request
  // timeout between its requests (idle_timeout governs those).
  raw_conn client(node.port);
  REQUIRE(client.send(admit_request("acme-key")));
  auto granted = client.read_response();
  REQUIRE(granted);
  REQUIRE(granted->status == 200);
  std::string lease = granted->json()["lease"];

  // A request queued for an admission has no timeout: it waits past
  // request_timeout and is admitted when the lease is released.
  raw_conn queued(node.port);
  REQUIRE(queued.send(admit_request("acme-key")));
  CHECK(queued.open_after(2500ms));  // two request timeouts and more
  CHECK(client.open_after(10ms));
  REQUIRE(client.send(release_request("acme-key", lease)));
  auto released = client.read_response();
  REQUIRE(released);
  CHECK(released->status == 200);
  auto admitted = queued.read_response();
  REQUIRE(admitted);
  CHECK(admitted->status == 200);
  CHECK(admitted->json()["waited_ms"] > 0);
}

TEST_CASE("a kept-alive connection idle beyond idle_timeout is closed", "[limits]") {
  live_node node("[node]\nidle_timeout = 500ms\n[account.acme]\nplan = streams:solo\n" +
                 key_line("acme-key"));
  raw_conn c(node.port);
  REQUIRE(c.send(get_request("/account/concurrency", "acme-key")));
  auto r = c.read_response();
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(c.closed_within(10s));
  CHECK(metric(node.port, "usher_connection_timeouts_total{phase=\"idle\"}") >= 1);
}

TEST_CASE("a bad connection setting is refused at start naming file and line and reason",
          "[limits]") {
  auto dir =
      std::filesystem::temp_directory_path() / ("usher-limits-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto account = "[account.acme]\nplan = streams\n" + key_line("k");
  struct example {
    std::string text;
    std::string expected;
  };
  for (auto& ex : std::vector<example>{
           {"[node]\nrequest_timeout = soon\n",
            "node.ini:2: node.request_timeout: expected a duration from 1ms to 24h such as 10s, "
            "got \"soon\""},
           {"[node]\nthreads = 2\nidle_timeout = 0\n",
            "node.ini:3: node.idle_timeout: expected a duration from 1ms to 24h"},
           {"[node]\nwrite_timeout = 25h\n", "node.ini:2: node.write_timeout: expected a duration"},
           {"[node]\nidle_timeout = 5 mins\n",
            "node.ini:2: node.idle_timeout: expected a duration"},
           {"[node]\nmax_connections = 0\n",
            "node.ini:2: node.max_connections: expected an integer from 1 to 16777216, got \"0\""},
           {"[node]\nmax_connections = lots\n",
            "node.ini:2: node.max_connections: expected an integer"},
       }) {
    INFO(ex.text);
    {
      std::ofstream out(dir / "node.ini");
      out << ex.text << account;
    }
    std::string cmd = std::string("cd '") + dir.string() + "' && '" + USHER_BINARY +
                      "' serve --config node.ini --check >out 2>err";
    int raw = std::system(cmd.c_str());
    CHECK(WEXITSTATUS(raw) == 2);
    std::ifstream err(dir / "err");
    std::string text((std::istreambuf_iterator<char>(err)), {});
    CHECK(text.rfind("usher serve: " + ex.expected, 0) == 0);
  }
  {
    std::ofstream out(dir / "node.ini");
    out << "[node]\nmax_connections = 100\nrequest_timeout = 2s\nidle_timeout = 90s\n"
           "write_timeout = 500ms\n"
        << account;
  }
  std::string ok = std::string("cd '") + dir.string() + "' && '" + USHER_BINARY +
                   "' serve --config node.ini --check >out 2>err";
  CHECK(WEXITSTATUS(std::system(ok.c_str())) == 0);
  std::filesystem::remove_all(dir);
}

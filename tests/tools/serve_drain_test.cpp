// Stopping a node that holds work (issue #15): SIGTERM used to give queued
// requests, ticket pollers and WebSockets 0 bytes and a closed connection.
// Now it drains: those are answered (503 with Retry-After, close 1001), new
// connections and admissions are refused, holders may still renew and
// release over the connections they have, and the node exits 0 once no
// lease is held, or after drain_timeout. Every wait here is on an event; the
// deadlines are hang guards only.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "support/live_node.hpp"

using usher::testing::eventually;
using usher::testing::http_client;
using usher::testing::key_line;
using usher::testing::live_node;
using usher::testing::raw_conn;
using verb = boost::beast::http::verb;
namespace bhttp = boost::beast::http;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

// One stream, a queue that outwaits every test, and a drain that only the
// release (or a second signal) ends.
std::string drain_config(const std::string& drain_timeout = "120s") {
  return "[node]\ndrain_timeout = " + drain_timeout +
         "\n[account.acme]\nplan = streams:solo\nlimit = 1\nqueue.max_wait = 600\n" +
         key_line("acme-key");
}

std::string request(const std::string& method, const std::string& target,
                    const std::string& extra = "") {
  return method + " " + target +
         " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer acme-key\r\nContent-Length: 0\r\n" +
         extra + "\r\n";
}

// A sample of the /metrics text, read over `c` (a connection opened before
// the drain: new ones are refused).
double metric(http_client& c, const std::string& sample) {
  auto text = c.call(verb::get, "/metrics", "").body;
  auto at = text.find("\n" + sample + " ");
  return at == std::string::npos ? -1 : std::stod(text.substr(at + sample.size() + 2));
}

// Whether a new TCP connection to the node's port is accepted.
bool connects(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

void check_draining_503(const usher::testing::http_result& r) {
  CHECK(r.status == 503);
  CHECK(r.header(bhttp::field::retry_after) == "1");
  CHECK(r.json()["error"]["code"] == "draining");
  CHECK(r.json()["error"]["type"] == "server_error");
}

void check_draining_503(const std::optional<usher::testing::http_result>& r) {
  REQUIRE(r);
  check_draining_503(*r);
}

}  // namespace

TEST_CASE(
    "a drain answers queued requests, pollers and WebSockets, lets holders release, then exits 0",
    "[drain]") {
  int sig = GENERATE(SIGTERM, SIGINT);
  INFO("signal " << sig);
  live_node node(drain_config());
  http_client holder(node.port);  // kept alive: the holder's way back during the drain
  auto granted = holder.call(verb::post, "/v1/admit", "acme-key", "{}");
  REQUIRE(granted.status == 200);
  std::string lease = granted.json()["lease"];

  raw_conn waiter(node.port);
  REQUIRE(waiter.send(request("POST", "/v1/admit")));
  auto ticket = holder.call(verb::post, "/v1/admit", "acme-key", "{}", "respond-async");
  REQUIRE(ticket.status == 202);
  raw_conn poller(node.port);
  REQUIRE(poller.send(request("GET", "/v1/tickets/" + ticket.json()["ticket"].get<std::string>())));
  raw_conn socket(node.port);
  REQUIRE(socket.upgrade("acme-key"));
  REQUIRE(eventually([&] { return metric(holder, "usher_queued{account=\"acme\"}") == 2; }));
  CHECK(holder.call(verb::get, "/readyz", "").status == 200);

  REQUIRE(::kill(node.pid(), sig) == 0);

  check_draining_503(waiter.read_response(30s));
  check_draining_503(poller.read_response(30s));
  CHECK(socket.read_until_close(30s) == 1001);
  REQUIRE(socket.send(raw_conn::ws_close_frame(1001)));  // the client's half of the close
  auto ready = holder.call(verb::get, "/readyz", "");
  CHECK(ready.status == 503);
  CHECK(ready.json()["reason"] == "draining");
  CHECK(holder.call(verb::get, "/healthz", "").status == 200);
  check_draining_503(holder.call(verb::post, "/v1/admit", "acme-key", "{}"));
  CHECK(metric(holder, "usher_queued{account=\"acme\"}") == 0);
  CHECK_FALSE(connects(node.port));
  // A lease is held and drain_timeout is far: the node waits for it.
  CHECK(node.alive());
  CHECK(holder.call(verb::post, "/v1/leases/" + lease + "/renew", "acme-key").status == 200);
  CHECK(holder.call(verb::delete_, "/v1/leases/" + lease, "acme-key").status == 200);

  REQUIRE(eventually([&] { return !node.alive(); }, 30s));
  CHECK(node.stop() == 0);
  CHECK(node.stopped_stderr.find("drained: no lease held") != std::string::npos);
}

TEST_CASE("a drain keeps a ticket's granted lease and takes its queued tickets out", "[drain]") {
  live_node node(drain_config());
  http_client c(node.port);
  auto first = c.call(verb::post, "/v1/admit", "acme-key", "{}");
  REQUIRE(first.status == 200);
  auto granted = c.call(verb::post, "/v1/admit", "acme-key", "{}", "respond-async");
  auto queued = c.call(verb::post, "/v1/admit", "acme-key", "{}", "respond-async");
  REQUIRE(granted.status == 202);
  REQUIRE(queued.status == 202);
  std::string granted_ticket = granted.json()["ticket"], queued_ticket = queued.json()["ticket"];
  // The first ticket gets the stream; the second waits behind it.
  REQUIRE(
      c.call(verb::delete_, "/v1/leases/" + first.json()["lease"].get<std::string>(), "acme-key")
          .status == 200);

  REQUIRE(::kill(node.pid(), SIGTERM) == 0);
  REQUIRE(eventually([&] { return c.call(verb::get, "/readyz", "").status == 503; }));

  // Decided before the drain: its client may hold the lease, so it stays.
  auto polled = c.call(verb::get, "/v1/tickets/" + granted_ticket, "acme-key");
  REQUIRE(polled.status == 200);
  // Queued: taken out of the queue, polled 503 (not 404), given up 200.
  check_draining_503(c.call(verb::get, "/v1/tickets/" + queued_ticket, "acme-key"));
  CHECK(metric(c, "usher_queued{account=\"acme\"}") == 0);
  CHECK(c.call(verb::delete_, "/v1/tickets/" + queued_ticket, "acme-key").status == 200);
  CHECK(node.alive());
  CHECK(c.call(verb::delete_, "/v1/leases/" + polled.json()["lease"].get<std::string>(), "acme-key")
            .status == 200);
  REQUIRE(eventually([&] { return !node.alive(); }, 30s));
  CHECK(node.stop() == 0);
}

TEST_CASE("a drain ends at drain_timeout when a holder never releases, and the node exits 0",
          "[drain]") {
  live_node node(drain_config("1s"));
  http_client c(node.port);
  REQUIRE(c.call(verb::post, "/v1/admit", "acme-key", "{}").status == 200);
  REQUIRE(::kill(node.pid(), SIGTERM) == 0);
  REQUIRE(eventually([&] { return !node.alive(); }, 30s));
  CHECK(node.stop() == 0);
  CHECK(node.stopped_stderr.find("drain_timeout passed with 1 leases held") != std::string::npos);
}

TEST_CASE("a second SIGTERM during a drain stops the node at once", "[drain]") {
  live_node node(drain_config("600s"));
  http_client c(node.port);
  REQUIRE(c.call(verb::post, "/v1/admit", "acme-key", "{}").status == 200);
  REQUIRE(::kill(node.pid(), SIGTERM) == 0);
  REQUIRE(eventually([&] { return c.call(verb::get, "/readyz", "").status == 503; }));
  CHECK(node.alive());
  REQUIRE(::kill(node.pid(), SIGTERM) == 0);
  REQUIRE(eventually([&] { return !node.alive(); }, 30s));
  CHECK(node.stop() == 0);
  CHECK(node.stopped_stderr.find("SIGTERM again: stopping now") != std::string::npos);
}

TEST_CASE("a node holding no lease exits at once on SIGTERM", "[drain]") {
  live_node node(drain_config("600s"));
  http_client c(node.port);
  auto r = c.call(verb::post, "/v1/admit", "acme-key", "{}");
  REQUIRE(r.status == 200);
  REQUIRE(c.call(verb::delete_, "/v1/leases/" + r.json()["lease"].get<std::string>(), "acme-key")
              .status == 200);
  REQUIRE(::kill(node.pid(), SIGTERM) == 0);
  REQUIRE(eventually([&] { return !node.alive(); }, 30s));
  CHECK(node.stop() == 0);
  CHECK(node.stopped_stderr.find("drained: no lease held") != std::string::npos);
}

TEST_CASE("drain_timeout takes a duration from 0 to 24h, and a bad one is refused at start",
          "[drain]") {
  auto dir = std::filesystem::temp_directory_path() / ("usher-drain-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto check = [&](const std::string& value) {
    {
      std::ofstream out(dir / "node.ini");
      out << "[node]\ndrain_timeout = " << value << "\n[account.acme]\nplan = streams\n"
          << key_line("k");
    }
    std::string cmd = std::string("cd '") + dir.string() + "' && '" + USHER_BINARY +
                      "' serve --config node.ini --check >out 2>err";
    int code = WEXITSTATUS(std::system(cmd.c_str()));
    std::ifstream err(dir / "err");
    return std::make_pair(code, std::string((std::istreambuf_iterator<char>(err)), {}));
  };
  for (std::string good : {"0", "0s", "500ms", "30s", "24h"}) {
    INFO(good);
    CHECK(check(good).first == 0);
  }
  for (std::string bad : {"soon", "25h", "-1s", "5 mins"}) {
    INFO(bad);
    auto [code, err] = check(bad);
    CHECK(code == 2);
    CHECK(err.rfind("usher serve: node.ini:2: node.drain_timeout: expected a duration from 0 to "
                    "24h such as 30s, got ",
                    0) == 0);
  }
  std::filesystem::remove_all(dir);
}

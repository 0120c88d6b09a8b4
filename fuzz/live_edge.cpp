#include "fuzz/live_edge.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/beast/http.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "actors/admission_actor.hpp"
#include "actors/http/edge.hpp"
#include "actors/http/key_hash.hpp"
#include "fuzz/fuzz_support.hpp"
#include "traces/plan_file.hpp"

namespace usher::fuzz {

namespace bhttp = boost::beast::http;
using namespace std::chrono_literals;

struct live_edge::impl {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::vector<actors::admission_actor> actors;
  std::unique_ptr<actors::http::edge> edge;
  std::thread io;
  std::string probe_key;
};

namespace {

std::string random_key() {
  std::random_device rd;
  std::string k = "probe-";
  for (int i = 0; i < 32; ++i) k += "0123456789abcdef"[rd() % 16];
  return k;
}

// The node's final stop, at exit: the edge first, then the actors; the
// objects themselves are left to the process's end (still reachable).
live_edge::impl* running = nullptr;
void stop_at_exit() {
  if (!running) return;
  running->edge->stop();
  if (running->io.joinable()) running->io.join();
  for (auto& a : running->actors) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  running->sys->await_all_actors_done();
}

}  // namespace

live_edge& live_edge::get() {
  static live_edge* node = [] {
    signal(SIGPIPE, SIG_IGN);
    auto* n = new live_edge;
    auto* i = n->impl_ = new impl;
    actors::add_message_types(i->cfg);
    i->cfg.set("scheduler.max-threads", 2);
    i->cfg.set("scheduler.policy", caf::atom("sharing"));
    i->cfg.set("logger.verbosity", caf::atom("quiet"));
    i->sys = std::make_unique<caf::actor_system>(i->cfg);
    i->probe_key = random_key();

    auto epoch = i->sys->clock().now();
    auto unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
    actors::http::edge_config ec;
    ec.host = "127.0.0.1";
    ec.port = 0;
    ec.max_body = 64 * 1024;
    struct account {
      const char* name;
      const char* plan;
      std::vector<std::string> settings;
      std::string key;
    };
    std::vector<account> accounts = {
        {"acme", "streams:team", {"limit=2", "queue.max_wait=2"}, "fuzz-key-acme"},
        {"rt", "exclusive", {}, "fuzz-key-rt"},
        {"sess", "session-rate", {"sessions_per_minute=1000"}, "fuzz-key-sess"},
        {"gpu", "per-model", {"limit=4", "model_capacity.llama-70b=3"}, "fuzz-key-gpu"},
        {"probe", "streams:team", {}, i->probe_key},
    };
    for (auto& a : accounts) {
      actors::admission_actor_config ac;
      ac.plan = traces::load_plan(a.plan, a.settings);
      ac.accounts = {a.name};
      ac.lease_ttl = policies::seconds(2);
      ac.epoch = epoch;
      ac.epoch_unix_ms = unix_ms;
      auto actor = actors::spawn_admission_actor(*i->sys, std::move(ac));
      i->actors.push_back(actor);
      ec.actors.push_back(actor);
      ec.keys[actors::http::sha256_hex(a.key)] = actors::http::account_route{a.name, actor};
    }
    // The OpenAI gateway's routes (docs/GATEWAY.md) parse client bytes too:
    // an upstream nobody listens on (port 1) makes every admitted call a 502
    // at once, its slot freed, so inputs exercise the gateway's checks,
    // admission and failure path without a model server.
    auto gateway = std::make_shared<actors::gateway::gateway_config>();
    gateway->enabled = true;
    gateway->fallback.emplace();
    actors::gateway::parse_upstream("http://127.0.0.1:1/v1", *gateway->fallback);
    actors::gateway::parse_upstream("http://127.0.0.1:1", gateway->by_model["llama-70b"]);
    ec.gateway = gateway;
    i->edge = std::make_unique<actors::http::edge>(*i->sys, std::move(ec));
    n->port_ = i->edge->port();
    i->io = std::thread([i] { i->edge->run(); });
    running = i;
    std::atexit(stop_at_exit);
    return n;
  }();
  return *node;
}

namespace {

// Reads one HTTP response from `s` (bounded by `timeout`); the parsed
// response, or fail().
bhttp::response<bhttp::string_body> read_response(loopback_socket& s, const char* what,
                                                  std::chrono::milliseconds timeout) {
  std::string got;
  std::optional<bhttp::response<bhttp::string_body>> res;
  auto complete = [&](const std::string& bytes) {
    bhttp::response_parser<bhttp::string_body> p;
    p.eager(true);
    boost::beast::error_code ec;
    std::size_t used = 0;
    while (used < bytes.size() && !p.is_done()) {
      auto n = p.put(boost::asio::buffer(bytes.data() + used, bytes.size() - used), ec);
      if (ec == bhttp::error::need_more) return false;
      if (ec) fail(std::string(what) + ": a malformed HTTP response", bytes);
      used += n;
      if (n == 0) break;
    }
    if (!p.is_done()) return false;
    res = p.release();
    return true;
  };
  s.read(got, timeout, complete);
  if (!res)
    fail(std::string(what) + ": the node gave no complete answer within " +
             std::to_string(timeout.count()) + " ms",
         got);
  return std::move(*res);
}

}  // namespace

void live_edge::check_alive() {
  loopback_socket s(port_);
  std::string admit =
      "POST /v1/admit HTTP/1.1\r\nHost: fuzz\r\nAuthorization: Bearer " + impl_->probe_key +
      "\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
  if (!s.write_all(admit, 5000ms)) fail("probe: cannot send an admit");
  auto res = read_response(s, "probe admit", 10000ms);
  auto j = nlohmann::json::parse(res.body(), nullptr, false);
  if (res.result_int() != 200 || !j.is_object() || !j["lease"].is_string())
    fail("probe: a normal admit was not granted", res.body());
  std::string release = "DELETE /v1/leases/" + j["lease"].get<std::string>() +
                        " HTTP/1.1\r\nHost: fuzz\r\nAuthorization: Bearer " + impl_->probe_key +
                        "\r\n\r\n";
  if (!s.write_all(release, 5000ms)) fail("probe: cannot send a release");
  auto rel = read_response(s, "probe release", 10000ms);
  if (rel.result_int() != 200) fail("probe: the lease was not released", rel.body());
  // An exception the edge caught (a route, a frame, an I/O handler) is a
  // bug even when the node goes on: it counts them.
  if (!s.write_all("GET /metrics HTTP/1.1\r\nHost: fuzz\r\n\r\n", 5000ms))
    fail("probe: cannot ask for /metrics");
  auto m = read_response(s, "probe metrics", 10000ms).body();
  const std::string counter = "\nusher_internal_errors_total ";
  auto at = m.find(counter);
  if (at != std::string::npos && std::atoll(m.c_str() + at + counter.size()) != 0)
    fail("the edge caught an internal error (its stderr above says where)");
}

std::string live_edge::metrics() {
  loopback_socket s(port_);
  if (!s.write_all("GET /metrics HTTP/1.1\r\nHost: fuzz\r\n\r\n", 5000ms)) return "";
  return read_response(s, "metrics", 10000ms).body();
}

void live_edge::check_settled(std::chrono::milliseconds within) {
  auto until = std::chrono::steady_clock::now() + within;
  auto value = [](const std::string& m, const std::string& series) -> std::int64_t {
    auto at = m.find("\n" + series + " ");
    return at == std::string::npos ? -1 : std::atoll(m.c_str() + at + series.size() + 2);
  };
  for (;;) {
    auto m = metrics();
    std::string held;
    for (const char* account : {"acme", "rt", "sess", "gpu"})
      for (const char* gauge : {"usher_in_flight", "usher_queued", "usher_ws_connections"}) {
        auto series = std::string(gauge) + "{account=\"" + account + "\"}";
        if (value(m, series) != 0) held += series + " = " + std::to_string(value(m, series)) + "\n";
      }
    if (held.empty()) return;
    if (std::chrono::steady_clock::now() > until)
      fail("still held " + std::to_string(within.count()) + " ms after every socket closed", held);
    std::this_thread::sleep_for(100ms);
  }
}

// -- loopback_socket ----------------------------------------------------------

loopback_socket::loopback_socket(std::uint16_t port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd_ < 0) fail("socket()", std::strerror(errno));
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in at{};
  at.sin_family = AF_INET;
  at.sin_port = htons(port);
  at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&at), sizeof at) != 0 && errno != EINPROGRESS)
    fail("connect()", std::strerror(errno));
  pollfd p{fd_, POLLOUT, 0};
  if (::poll(&p, 1, 5000) != 1) fail("connect(): the node does not accept within 5 s");
  int err = 0;
  socklen_t len = sizeof err;
  ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) fail("connect()", std::strerror(err));
}

loopback_socket::~loopback_socket() {
  if (fd_ >= 0) ::close(fd_);
}

bool loopback_socket::write_all(std::string_view bytes, std::chrono::milliseconds timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (!bytes.empty()) {
    auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLOUT, 0};
    ::poll(&p, 1, static_cast<int>(left.count()));
  }
  return true;
}

void loopback_socket::shut_write() { ::shutdown(fd_, SHUT_WR); }

int loopback_socket::read_some(std::string& out, std::chrono::steady_clock::time_point until) {
  for (;;) {
    char buf[16384];
    auto n = ::recv(fd_, buf, sizeof buf, 0);
    if (n > 0) {
      out.append(buf, static_cast<std::size_t>(n));
      return 1;
    }
    if (n == 0) return 0;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return -2;
    pollfd p{fd_, POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(left.count()) + 1);
  }
}

// -- checks -------------------------------------------------------------------

std::size_t check_http_responses(std::string_view bytes, bool complete) {
  std::size_t count = 0;
  while (!bytes.empty()) {
    bhttp::response_parser<bhttp::string_body> p;
    p.eager(true);
    p.body_limit(64 << 20);
    boost::beast::error_code ec;
    bool stop = false;
    while (!bytes.empty() && !p.is_done()) {
      auto n = p.put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
      if (ec == bhttp::error::need_more) {
        if (complete) fail("the node closed the connection inside a response", std::string(bytes));
        return count;
      }
      if (ec) fail("the node wrote a malformed HTTP response: " + ec.message(), std::string(bytes));
      bytes.remove_prefix(n);
      if (p.is_header_done()) {
        auto& m = p.get();
        if (m.result_int() == 101) stop = true;  // WebSocket frames follow
        if (m[bhttp::field::content_type].starts_with("text/event-stream")) stop = true;
        if (stop) break;
      }
      if (n == 0) break;
    }
    if (stop) return count + 1;
    if (!p.is_done()) {
      if (complete) fail("the node closed the connection inside a response", std::string(bytes));
      return count;
    }
    ++count;
    auto& m = p.get();
    if (m.result_int() == 500) fail("a 500: an exception escaped a route", m.body());
    if (m[bhttp::field::content_type].starts_with("application/json") &&
        !nlohmann::json::accept(m.body()))
      fail("a JSON answer that is not JSON", m.body());
  }
  return count;
}

}  // namespace usher::fuzz

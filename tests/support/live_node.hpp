#pragma once
/// Test support for the live node: a real `usher serve` child process on
/// 127.0.0.1 with an ephemeral port (stopped with SIGTERM, then SIGKILL if it
/// lingers, when the fixture ends), and small synchronous Beast clients for
/// HTTP and WebSocket. Loopback only. Header-only, so the test target's
/// CMake needs no edit.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "actors/http/key_hash.hpp"

namespace usher::testing {

namespace fs = std::filesystem;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;
using tcp = boost::asio::ip::tcp;

/// A config line for an API key: `key = <sha256 hex>`.
inline std::string key_line(const std::string& key) {
  return "key = " + actors::http::sha256_hex(key) + "\n";
}

struct http_result {
  unsigned status = 0;
  std::string body;
  bhttp::fields headers;
  nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
  std::string header(bhttp::field f) const {
    auto v = headers[f];
    return std::string(v.data(), v.size());
  }
};

/// One keep-alive HTTP/1.1 connection.
class http_client {
 public:
  explicit http_client(std::uint16_t port) : socket_(io_) {
    socket_.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
    socket_.set_option(tcp::no_delay(true));
  }

  http_result call(bhttp::verb method, const std::string& target, const std::string& key,
                   const std::string& body = "", const std::string& prefer = "") {
    bhttp::request<bhttp::string_body> req{method, target, 11};
    req.set(bhttp::field::host, "127.0.0.1");
    if (!key.empty()) req.set(bhttp::field::authorization, "Bearer " + key);
    if (!prefer.empty()) req.set(bhttp::field::prefer, prefer);
    if (!body.empty() || method == bhttp::verb::post) {
      req.set(bhttp::field::content_type, "application/json");
      req.body() = body;
    }
    req.prepare_payload();
    bhttp::write(socket_, req);
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(16 << 20);
    bhttp::read(socket_, buffer_, parser);
    auto res = parser.release();
    http_result r;
    r.status = res.result_int();
    r.body = res.body();
    for (auto& f : res) r.headers.insert(f.name(), f.value());
    return r;
  }

  /// Sends a request and returns without reading the answer (a client that
  /// will vanish).
  void send_only(bhttp::verb method, const std::string& target, const std::string& key,
                 const std::string& body) {
    bhttp::request<bhttp::string_body> req{method, target, 11};
    req.set(bhttp::field::host, "127.0.0.1");
    req.set(bhttp::field::authorization, "Bearer " + key);
    req.body() = body;
    req.prepare_payload();
    bhttp::write(socket_, req);
  }

  /// Asks for a WebSocket upgrade of /v1/realtime and returns the answer
  /// (101, or the status that refused it).
  http_result upgrade(const std::string& key) {
    bhttp::request<bhttp::empty_body> req{bhttp::verb::get, "/v1/realtime", 11};
    req.set(bhttp::field::host, "127.0.0.1");
    req.set(bhttp::field::authorization, "Bearer " + key);
    req.set(bhttp::field::connection, "Upgrade");
    req.set(bhttp::field::upgrade, "websocket");
    req.set(bhttp::field::sec_websocket_version, "13");
    req.set(bhttp::field::sec_websocket_key, "dGhlIHNhbXBsZSBub25jZQ==");
    bhttp::write(socket_, req);
    bhttp::response_parser<bhttp::string_body> parser;
    parser.skip(false);
    bhttp::read_header(socket_, buffer_, parser);
    http_result r;
    r.status = parser.get().result_int();
    if (r.status != 101) {
      bhttp::read(socket_, buffer_, parser);
      r.body = parser.get().body();
    }
    return r;
  }

  /// Drops the connection (the client disconnects).
  void close() {
    boost::system::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }

  tcp::socket& socket() { return socket_; }

 private:
  boost::asio::io_context io_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

/// A WebSocket to /v1/realtime. `status` is 101 when the upgrade succeeded,
/// otherwise the HTTP status that refused it.
class ws_client {
 public:
  ws_client(std::uint16_t port, const std::string& key) : ws_(io_) {
    auto& sock = beast::get_lowest_layer(ws_);
    sock.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
    ws_.set_option(websocket::stream_base::decorator([key](websocket::request_type& req) {
      req.set(bhttp::field::authorization, "Bearer " + key);
    }));
    websocket::response_type res;
    boost::system::error_code ec;
    ws_.handshake(res, "127.0.0.1", "/v1/realtime", ec);
    status = res.result_int();
    body = res.body();
  }

  /// Sends a JSON frame and reads the next frame. Sets `closed` (with the
  /// close reason) instead when the server closes the socket.
  nlohmann::json exchange(const nlohmann::json& frame) {
    ws_.write(boost::asio::buffer(frame.dump()));
    return read();
  }

  nlohmann::json read() {
    beast::flat_buffer b;
    boost::system::error_code ec;
    ws_.read(b, ec);
    if (ec) {
      closed = true;
      close_code = ws_.reason().code;
      close_reason = std::string(ws_.reason().reason.c_str());
      return nullptr;
    }
    return nlohmann::json::parse(beast::buffers_to_string(b.data()), nullptr, false);
  }

  void close() {
    boost::system::error_code ec;
    ws_.close(websocket::close_code::normal, ec);
  }

  unsigned status = 0;
  std::string body;
  bool closed = false;
  unsigned close_code = 0;
  std::string close_reason;

 private:
  boost::asio::io_context io_;
  websocket::stream<tcp::socket> ws_;
};

/// A `usher serve` child process with `config_text` as its config (the
/// fixture adds `listen = 127.0.0.1:0` under [node] unless the text has one).
class live_node {
 public:
  explicit live_node(const std::string& config_text) {
    static int n = 0;
    dir_ = fs::temp_directory_path() /
           ("usher-live-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    fs::create_directories(dir_);
    auto config = dir_ / "node.ini";
    {
      std::ofstream out(config);
      if (config_text.find("listen") == std::string::npos)
        out << "[node]\nlisten = 127.0.0.1:0\n";
      out << config_text;
    }
    int out_pipe[2];
    REQUIRE(::pipe(out_pipe) == 0);
    auto err = (dir_ / "stderr").string();
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::dup2(out_pipe[1], 1);
      int fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) ::dup2(fd, 2);
      ::close(out_pipe[0]);
      ::execl(USHER_BINARY, "usher", "serve", "--config", config.c_str(), nullptr);
      ::_exit(127);
    }
    ::close(out_pipe[1]);
    out_fd_ = out_pipe[0];
    // Wait (bounded) for "listening on 127.0.0.1:PORT".
    std::string line;
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < until) {
      pollfd p{out_fd_, POLLIN, 0};
      if (::poll(&p, 1, 200) <= 0) continue;
      char buf[256];
      auto got = ::read(out_fd_, buf, sizeof(buf));
      if (got <= 0) break;
      line.append(buf, static_cast<std::size_t>(got));
    }
    auto at = line.find("127.0.0.1:");
    INFO("usher serve said: " << line << " / stderr: " << stderr_text());
    REQUIRE(at != std::string::npos);
    port = static_cast<std::uint16_t>(std::stoi(line.substr(at + 10)));
  }

  /// Stops the node and checks it exited cleanly: 0, which under the
  /// sanitizer build also means no leak and no error at shutdown.
  ~live_node() {
    if (pid_ <= 0) return;
    int code = stop();
    INFO("usher serve's stderr: " << stopped_stderr);
    CHECK(code == 0);
  }

  /// SIGTERM, then SIGKILL after 5 s. Returns the exit status (-1 if killed).
  int stop() {
    if (pid_ <= 0) return exit_code_;
    ::kill(pid_, SIGTERM);
    int status = 0;
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > until) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    pid_ = 0;
    ::close(out_fd_);
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    stopped_stderr = stderr_text();  // kept: the directory goes next
    std::error_code ec;
    fs::remove_all(dir_, ec);
    return exit_code_;
  }

  std::string stderr_text() const {
    std::ifstream in(dir_ / "stderr");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  /// One request on a fresh connection.
  http_result call(bhttp::verb method, const std::string& target, const std::string& key,
                   const std::string& body = "", const std::string& prefer = "") const {
    http_client c(port);
    return c.call(method, target, key, body, prefer);
  }

  http_result admit(const std::string& key, const nlohmann::json& body = nlohmann::json::object(),
                    const std::string& prefer = "") const {
    return call(bhttp::verb::post, "/v1/admit", key, body.dump(), prefer);
  }

  http_result release(const std::string& key, const std::string& lease) const {
    return call(bhttp::verb::delete_, "/v1/leases/" + lease, key);
  }

  nlohmann::json usage(const std::string& key) const {
    return call(bhttp::verb::get, "/account/concurrency", key).json();
  }

  std::uint16_t port = 0;
  std::string stopped_stderr;  ///< what the node wrote to stderr, once stopped

 private:
  fs::path dir_;
  pid_t pid_ = 0;
  int out_fd_ = -1;
  int exit_code_ = 0;
};

}  // namespace usher::testing

#pragma once
/// Test support for the live node: a real `usher serve` child process on
/// 127.0.0.1 with an ephemeral port (stopped with SIGTERM, then SIGKILL if it
/// lingers, when the fixture ends), and small synchronous Beast clients for
/// HTTP and WebSocket. Loopback only. Header-only, so the test target's
/// CMake needs no edit.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
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
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

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
    return request(std::move(req));
  }

  /// Sends `req` as it is (any method and fields; its Content-Length is set
  /// here) and reads the answer (a HEAD's without a body).
  http_result request(bhttp::request<bhttp::string_body> req) {
    req.prepare_payload();
    bhttp::write(socket_, req);
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(16 << 20);
    parser.skip(req.method() == bhttp::verb::head);
    bhttp::read(socket_, buffer_, parser);
    auto res = parser.release();
    http_result r;
    r.status = res.result_int();
    r.body = res.body();
    for (auto& f : res) r.headers.insert(f.name_string(), f.value());
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
  http_result upgrade(const std::string& key, const std::string& target = "/v1/realtime",
                      const std::vector<std::pair<std::string, std::string>>& fields = {}) {
    bhttp::request<bhttp::empty_body> req{bhttp::verb::get, target, 11};
    for (auto& [name, value] : fields) req.set(name, value);
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
    for (auto& f : parser.get()) r.headers.insert(f.name_string(), f.value());
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
  /// `target`: the upgrade's (a gateway's realtime session names its model
  /// in the query); `fields`: more fields of the upgrade request.
  ws_client(std::uint16_t port, const std::string& key, const std::string& target = "/v1/realtime",
            std::vector<std::pair<std::string, std::string>> fields = {})
      : ws_(io_) {
    auto& sock = beast::get_lowest_layer(ws_);
    sock.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
    ws_.set_option(websocket::stream_base::decorator(
        [key, fields = std::move(fields)](websocket::request_type& req) {
          req.set(bhttp::field::authorization, "Bearer " + key);
          for (auto& [name, value] : fields) req.set(name, value);
        }));
    boost::system::error_code ec;
    ws_.handshake(answer, "127.0.0.1", target, ec);
    status = answer.result_int();
    body = answer.body();
  }

  /// Sends `bytes` as one frame, text or binary.
  void send(const std::string& bytes, bool text = true) {
    ws_.text(text);
    ws_.write(boost::asio::buffer(bytes));
  }

  /// The next frame's bytes, and whether it was text; nullopt (and
  /// `closed`) when the server closed the socket.
  std::optional<std::pair<std::string, bool>> read_frame() {
    beast::flat_buffer b;
    boost::system::error_code ec;
    ws_.read(b, ec);
    if (ec) {
      closed = true;
      close_code = ws_.reason().code;
      close_reason = std::string(ws_.reason().reason.c_str());
      return std::nullopt;
    }
    return std::make_pair(beast::buffers_to_string(b.data()), ws_.got_text());
  }

  /// Whether the server sends something (a frame, a close) within `within`:
  /// a test that waits for a frame asks this first, so that a server that
  /// never sends fails the test instead of hanging it.
  bool sends_within(std::chrono::milliseconds within) {
    pollfd p{beast::get_lowest_layer(ws_).native_handle(), POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(within.count())) > 0;
  }

  /// Drops the TCP connection without a closing handshake.
  void drop() {
    boost::system::error_code ec;
    beast::get_lowest_layer(ws_).close(ec);
  }

  /// Sends a JSON frame and reads the next frame. Sets `closed` (with the
  /// close reason) instead when the server closes the socket.
  nlohmann::json exchange(const nlohmann::json& frame) {
    send(frame.dump());
    return read();
  }

  nlohmann::json read() {
    auto frame = read_frame();
    if (!frame) return nullptr;
    return nlohmann::json::parse(frame->first, nullptr, false);
  }

  void close() {
    boost::system::error_code ec;
    ws_.close(websocket::close_code::normal, ec);
  }

  websocket::response_type answer;  ///< the upgrade's answer
  unsigned status = 0;
  std::string body;
  bool closed = false;
  unsigned close_code = 0;
  std::string close_reason;

 private:
  boost::asio::io_context io_;
  websocket::stream<tcp::socket> ws_;
};

/// Polls `ready` every 10 ms until it holds or `within` passes; returns its
/// last value. For states the node reaches asynchronously (a queue place
/// freed, a lease expired): a generous deadline, never a fixed sleep.
template <class F>
bool eventually(F&& ready, std::chrono::milliseconds within = std::chrono::seconds(10)) {
  auto until = std::chrono::steady_clock::now() + within;
  while (!ready()) {
    if (std::chrono::steady_clock::now() > until) return ready();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

/// A raw TCP connection to the node, for bytes no well-behaved client sends:
/// invalid UTF-8 and control bytes, lies about lengths, requests split byte
/// by byte, half-closes, hand-made WebSocket frames. Non-blocking underneath;
/// every wait has a deadline, so a node that never answers fails the test
/// instead of hanging it.
class raw_conn {
 public:
  using ms = std::chrono::milliseconds;

  explicit raw_conn(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
  }
  raw_conn(const raw_conn&) = delete;
  raw_conn& operator=(const raw_conn&) = delete;
  ~raw_conn() { close(); }

  /// Sends all of `bytes` within `within`. False if the node closed or
  /// reset the connection, or stopped reading, before it took them all.
  bool send(std::string_view bytes, ms within = std::chrono::seconds(5)) {
    auto until = std::chrono::steady_clock::now() + within;
    while (!bytes.empty()) {
      auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n > 0) {
        bytes.remove_prefix(static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return false;
      if (!wait_for(POLLOUT, until)) return false;
    }
    return true;
  }

  /// Sends `bytes` one byte per write, `gap` apart.
  bool send_bytewise(std::string_view bytes, ms gap = ms(1)) {
    for (char c : bytes) {
      if (!send(std::string_view(&c, 1))) return false;
      std::this_thread::sleep_for(gap);
    }
    return true;
  }

  /// The client is done sending (shutdown(SHUT_WR)): the node reads the end
  /// of the stream, the client can still read.
  void shutdown_write() { ::shutdown(fd_, SHUT_WR); }

  /// Reads one HTTP response within `within`; nullopt if the connection
  /// ended or the deadline passed before a complete one came.
  std::optional<http_result> read_response(ms within = std::chrono::seconds(10)) {
    auto until = std::chrono::steady_clock::now() + within;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(16 << 20);
    parser.eager(true);
    for (;;) {
      while (!in_.empty() && !parser.is_done()) {
        beast::error_code ec;
        auto used = parser.put(boost::asio::buffer(in_.data(), in_.size()), ec);
        in_.erase(0, used);
        if (ec == bhttp::error::need_more) break;
        if (ec) return std::nullopt;
        if (used == 0) break;
      }
      if (parser.is_done()) {
        auto res = parser.release();
        http_result r;
        r.status = res.result_int();
        r.body = res.body();
        for (auto& f : res) r.headers.insert(f.name_string(), f.value());
        return r;
      }
      if (!fill(until)) {
        if (eof_ && parser.got_some()) {  // a body delimited by the end of the stream
          beast::error_code ec;
          parser.put_eof(ec);
          if (!ec && parser.is_done()) continue;
        }
        return std::nullopt;
      }
    }
  }

  /// True when the node ends the connection (end of stream or reset) within
  /// `within`. Whatever it sends meanwhile is read and kept.
  bool closed_within(ms within = std::chrono::seconds(10)) {
    auto until = std::chrono::steady_clock::now() + within;
    while (fill(until)) {
    }
    return eof_;
  }

  /// True when the connection is still open after `quiet` (nothing but
  /// bytes arrived; they are kept).
  bool open_after(ms quiet) { return !closed_within(quiet); }

  /// Bytes received and not yet consumed by read_response().
  std::string& received() { return in_; }

  // -- WebSocket (RFC 6455) by hand: a client's frames are masked ----------

  /// Asks to upgrade `target` to a WebSocket; true on 101.
  bool upgrade(const std::string& key, const std::string& target = "/v1/realtime") {
    send("GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + key +
         "\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (in_.find("\r\n\r\n") == std::string::npos)
      if (!fill(until)) return false;
    bool ok = in_.rfind("HTTP/1.1 101", 0) == 0;
    in_.erase(0, in_.find("\r\n\r\n") + 4);
    return ok;
  }

  /// One frame as a client sends it (masked). `opcode`: 0 continuation,
  /// 1 text, 2 binary, 8 close, 9 ping, 10 pong.
  static std::string ws_frame(unsigned opcode, std::string_view payload, bool fin = true) {
    std::string f;
    f += static_cast<char>((fin ? 0x80 : 0) | (opcode & 0x0f));
    auto n = payload.size();
    if (n < 126) {
      f += static_cast<char>(0x80 | n);
    } else if (n <= 0xffff) {
      f += static_cast<char>(0x80 | 126);
      f += static_cast<char>(n >> 8);
      f += static_cast<char>(n & 0xff);
    } else {
      f += static_cast<char>(0x80 | 127);
      for (int i = 7; i >= 0; --i) f += static_cast<char>((static_cast<std::uint64_t>(n) >> (8 * i)) & 0xff);
    }
    const char mask[4] = {0x1b, 0x2c, 0x3d, 0x4e};
    f.append(mask, 4);
    for (std::size_t i = 0; i < n; ++i) f += static_cast<char>(payload[i] ^ mask[i % 4]);
    return f;
  }

  /// A close frame with `code` (two bytes) and `reason`.
  static std::string ws_close_frame(unsigned code, std::string_view reason = "") {
    std::string p;
    p += static_cast<char>((code >> 8) & 0xff);
    p += static_cast<char>(code & 0xff);
    p.append(reason);
    return ws_frame(8, p);
  }

  struct ws_message {
    unsigned opcode = 0;
    std::string payload;
    /// For a close frame: its status code (0 when it carried none).
    unsigned close_code() const {
      return payload.size() >= 2 ? (static_cast<unsigned char>(payload[0]) << 8) |
                                       static_cast<unsigned char>(payload[1])
                                 : 0;
    }
  };

  /// Reads the node's next frame (unmasked), pongs included; nullopt when
  /// the connection ended or `within` passed first.
  std::optional<ws_message> read_frame(ms within = std::chrono::seconds(10)) {
    auto until = std::chrono::steady_clock::now() + within;
    for (;;) {
      if (in_.size() >= 2) {
        auto b = [&](std::size_t i) { return static_cast<unsigned char>(in_[i]); };
        std::size_t len = b(1) & 0x7f, at = 2;
        if (len == 126 && in_.size() >= 4) len = (b(2) << 8) | b(3), at = 4;
        else if (len == 127 && in_.size() >= 10) {
          len = 0;
          for (int i = 0; i < 8; ++i) len = (len << 8) | b(2 + i);
          at = 10;
        }
        bool header_done = (b(1) & 0x7f) < 126 || at > 2;
        if (header_done && in_.size() >= at + len) {
          ws_message m{b(0) & 0x0fu, in_.substr(at, len)};
          in_.erase(0, at + len);
          return m;
        }
      }
      if (!fill(until)) return std::nullopt;
    }
  }

  /// Reads frames until a close frame or the end of the connection; the
  /// close code (0: the connection ended without one, or `within` passed).
  unsigned read_until_close(ms within = std::chrono::seconds(10)) {
    auto until = std::chrono::steady_clock::now() + within;
    for (;;) {
      auto left = std::chrono::duration_cast<ms>(until - std::chrono::steady_clock::now());
      if (left.count() <= 0) return 0;
      auto m = read_frame(left);
      if (!m) return 0;
      if (m->opcode == 8) return m->close_code() ? m->close_code() : 1005;
    }
  }

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  /// Closes with a reset (SO_LINGER 0) instead of a FIN.
  void reset() {
    linger l{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close();
  }

  int fd() const { return fd_; }

 private:
  // Waits for `events` until `until`; false when the deadline passed.
  bool wait_for(short events, std::chrono::steady_clock::time_point until) {
    auto left = std::chrono::duration_cast<ms>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, events, 0};
    return ::poll(&p, 1, static_cast<int>(left.count())) > 0;
  }

  // Reads what has come (waiting until `until`); false at the end of the
  // stream, on a reset or at the deadline.
  bool fill(std::chrono::steady_clock::time_point until) {
    if (eof_) return false;
    for (;;) {
      char buf[16384];
      auto n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) {
        in_.append(buf, static_cast<std::size_t>(n));
        return true;
      }
      if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        eof_ = true;
        return false;
      }
      if (!wait_for(POLLIN, until)) return false;
    }
  }

  int fd_ = -1;
  bool eof_ = false;
  std::string in_;
};

/// A child process of the usher binary (`usher ARGS...`): its stderr goes
/// to a file, its stdout is read up to its first line (the "listening on"
/// line every server subcommand prints). Stopped with SIGTERM, then SIGKILL
/// if it lingers. The one fork/exec of the test fixtures (live_node,
/// mock_model_process).
class child_process {
 public:
  child_process() = default;
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  ~child_process() {
    if (pid_ > 0) stop();
  }

  /// Starts `usher args...`; returns the first line it wrote to stdout (""
  /// if none came within 15 s). `nofile` > 0: its open-file limit.
  std::string start(const std::vector<std::string>& args, const fs::path& stderr_file,
                    unsigned long nofile = 0) {
    std::vector<std::string> text = {"usher"};
    text.insert(text.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : text) argv.push_back(a.data());
    argv.push_back(nullptr);
    int out_pipe[2];
    REQUIRE(::pipe(out_pipe) == 0);
    auto err = stderr_file.string();
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::dup2(out_pipe[1], 1);
      int fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) ::dup2(fd, 2);
      ::close(out_pipe[0]);
      if (nofile > 0) {
        rlimit r{nofile, nofile};
        if (::setrlimit(RLIMIT_NOFILE, &r) != 0) ::_exit(126);
      }
      ::execv(USHER_BINARY, argv.data());
      ::_exit(127);
    }
    ::close(out_pipe[1]);
    out_fd_ = out_pipe[0];
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
    return line;
  }

  /// SIGTERM, then SIGKILL after 5 s. Returns the exit status (-1 if killed).
  int stop() {
    if (pid_ <= 0) return exit_code_;
    int status = reaped_status_;
    if (!reaped_) ::kill(pid_, SIGTERM);
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!reaped_ && ::waitpid(pid_, &status, WNOHANG) == 0) {
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
    return exit_code_;
  }

  /// SIGKILL now (a crash, no clean stop); stop() reaps it.
  void kill_hard() {
    if (pid_ > 0 && !reaped_) ::kill(pid_, SIGKILL);
  }

  /// True while it runs (it has not exited or been killed).
  bool alive() const {
    if (pid_ <= 0 || reaped_) return false;
    if (::waitpid(pid_, &reaped_status_, WNOHANG) == 0) return true;
    reaped_ = true;  // stop() reports how it ended
    return false;
  }

  pid_t pid() const { return pid_; }
  int exit_code() const { return exit_code_; }

 private:
  pid_t pid_ = 0;
  int out_fd_ = -1;
  int exit_code_ = 0;
  mutable bool reaped_ = false;  ///< alive() found it exited
  mutable int reaped_status_ = 0;
};

/// A `usher serve` child process with `config_text` as its config (the
/// fixture adds `listen = 127.0.0.1:0` under [node] unless the text has one,
/// `recovery = off` unless the text sets recovery: a node started fresh
/// by a test has no holder of an earlier run to wait for, and tests expect
/// grants at once; docs/SERVE.md, "Restarts and recovery"; and
/// `drain_timeout = 0s` unless the text sets it, so that SIGTERM stops a
/// node whose test still holds leases at once).
/// `nofile` > 0: the child's open-file limit (RLIMIT_NOFILE, soft and hard).
class live_node {
 public:
  /// A node that must start: the test fails here, with what it said, if not.
  explicit live_node(const std::string& config_text, unsigned long nofile = 0)
      : live_node(config_text, nofile, may_fail{}) {
    INFO("usher serve said: " << first_line_ << " / stderr: " << stderr_text());
    REQUIRE(started());
  }

  /// A node that may fail to start (see started()); a fixture that can
  /// retry, e.g. with another port, reads why in stderr_text().
  struct may_fail {};
  live_node(const std::string& config_text, unsigned long nofile, may_fail) {
    static int n = 0;
    dir_ = fs::temp_directory_path() /
           ("usher-live-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    fs::create_directories(dir_);
    auto config = dir_ / "node.ini";
    rewrite_config(config_text);
    first_line_ = child_.start({"serve", "--config", config.string()}, dir_ / "stderr", nofile);
    auto at = first_line_.find("127.0.0.1:");
    if (at != std::string::npos) port = static_cast<std::uint16_t>(std::stoi(first_line_.substr(at + 10)));
  }

  /// It said where it listens (it runs, unless it exited since).
  bool started() const { return port != 0; }

  /// Writes the node's config file (what a reload, SIGHUP, reads next):
  /// `config_text` after the test defaults of [node].
  void rewrite_config(const std::string& config_text) const {
    std::ofstream out(dir_ / "node.ini.new");
    out << "[node]\n";
    if (config_text.find("listen") == std::string::npos) out << "listen = 127.0.0.1:0\n";
    if (config_text.find("recovery") == std::string::npos) out << "recovery = off\n";
    if (config_text.find("drain_timeout") == std::string::npos) out << "drain_timeout = 0s\n";
    out << config_text;
    out.close();
    fs::rename(dir_ / "node.ini.new", dir_ / "node.ini");  // whole, as an editor saves
  }

  /// Stops the node and checks it exited cleanly: 0, which under the
  /// sanitizer build also means no leak and no error at shutdown.
  ~live_node() {
    if (child_.pid() <= 0) return;
    if (!started()) {  // it never ran: the fixture or the constructor said why
      stop();
      return;
    }
    int code = stop();
    // The lines that say why first: a CI log keeps the head of a failure's
    // output and may cut a long stderr before a sanitizer's report.
    INFO("why: " << failure_lines(stopped_stderr));
    INFO("usher serve's stderr: " << stopped_stderr);
    CHECK(code == 0);
  }

  /// SIGTERM, then SIGKILL after 5 s. Returns the exit status (-1 if killed).
  int stop() {
    if (child_.pid() <= 0) return child_.exit_code();
    int code = child_.stop();
    stopped_stderr = stderr_text();  // kept: the directory goes next
    std::error_code ec;
    fs::remove_all(dir_, ec);
    return code;
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

  /// Kills the node at once (SIGKILL: a crash, no clean stop) and reaps it.
  void kill_hard() {
    child_.kill_hard();
    stop();
  }

  /// True while the node process runs (it has not exited or been killed).
  bool alive() const { return child_.alive(); }

  /// The value of one /metrics sample, e.g.
  /// `usher_http_responses_total{code="500"}`; 0 when the node does not list
  /// it (counters appear once non-zero).
  double metric(const std::string& sample) const {
    auto text = call(bhttp::verb::get, "/metrics", "").body;
    for (std::size_t at = 0; at < text.size();) {
      auto end = text.find('\n', at);
      if (end == std::string::npos) end = text.size();
      std::string_view line(text.data() + at, end - at);
      if (line.size() > sample.size() && line.substr(0, sample.size()) == sample &&
          line[sample.size()] == ' ')
        return std::stod(std::string(line.substr(sample.size() + 1)));
      at = end + 1;
    }
    return 0;
  }

  /// The node's process id (0 once stopped).
  pid_t pid() const { return child_.pid(); }

  std::uint16_t port = 0;
  std::string stopped_stderr;  ///< what the node wrote to stderr, once stopped

  /// The lines of a stderr that report a failure: a sanitizer's ERROR and
  /// SUMMARY lines, the node's own [error] lines.
  static std::string failure_lines(const std::string& err) {
    std::istringstream in(err);
    std::string line, out;
    while (std::getline(in, line))
      // Sanitizer reports and their own failures ("LeakSanitizer has
      // encountered a fatal error", after "Tracer caught signal"), UBSan's
      // "runtime error:", and the node's error log.
      if (line.find("ERROR:") != std::string::npos || line.find("SUMMARY:") != std::string::npos ||
          line.find("Sanitizer") != std::string::npos || line.find("runtime error:") != std::string::npos ||
          line.find("Tracer caught") != std::string::npos || line.find("[error]") != std::string::npos)
        out += line + "\n";
    return out.empty() ? "(no error line)" : out;
  }

 private:
  fs::path dir_;
  child_process child_;
  std::string first_line_;  ///< what it wrote first: where it listens, or nothing
};

}  // namespace usher::testing

#pragma once
/// A real live node inside the fuzz process, for the targets that speak to
/// it over loopback (http_request, ws_frames): the admission actors and the
/// HTTP/WebSocket edge (actors/http/edge.hpp) built as tools/serve.cpp
/// builds them, on 127.0.0.1 with an ephemeral port, started once per
/// process and run on a background thread. A crash of the node is a crash of
/// the process, which libFuzzer reports with the input that caused it.
///
/// Accounts (the keys are in fuzz/http.dict and the corpus, so the fuzzer
/// reaches the authenticated routes):
///   acme   key "fuzz-key-acme"   streams:team with limit 2, max wait 2 s
///   rt     key "fuzz-key-rt"     exclusive (WebSocket /v1/realtime)
///   sess   key "fuzz-key-sess"   session-rate
///   gpu    key "fuzz-key-gpu"    per-model with a shared model capacity
///   probe  a random key the fuzzer never sees: its admissions tell that the
///          node still answers (check_alive), untouched by what inputs hold.
/// Leases live 2 s unless renewed, so what inputs take comes back quickly.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace usher::fuzz {

class live_edge {
 public:
  /// The node of this process, started on first use.
  static live_edge& get();

  std::uint16_t port() const { return port_; }

  /// A normal POST /v1/admit with the probe key must be answered 200 with a
  /// lease (then released, 200) within a few seconds, and /metrics must
  /// count no internal error (an exception the edge caught); otherwise
  /// fail(): the node hangs, answers wrong, or hit a bug it survived.
  void check_alive();

  /// GET /metrics as text ("" when it cannot be read).
  std::string metrics();

  /// Once the inputs' sockets are closed, every fuzzed account must come
  /// back to nothing held: no lease in flight, nobody queued, no WebSocket
  /// connection open, within `within` (leases live 2 s, queues wait 2 s);
  /// otherwise fail(): a slot, a waiter or a connection leaked.
  void check_settled(std::chrono::milliseconds within);

  struct impl;

 private:
  live_edge() = default;
  impl* impl_ = nullptr;
  std::uint16_t port_ = 0;
};

/// A blocking-free loopback client socket: connect, write all, read what
/// comes until the peer closes or a deadline passes.
class loopback_socket {
 public:
  explicit loopback_socket(std::uint16_t port);
  ~loopback_socket();
  loopback_socket(const loopback_socket&) = delete;
  loopback_socket& operator=(const loopback_socket&) = delete;

  /// Writes all of `bytes` unless the peer is gone or `timeout` passes.
  /// False when not all of it went out.
  bool write_all(std::string_view bytes, std::chrono::milliseconds timeout);
  /// No more bytes from us (the node sees the end of the stream).
  void shut_write();

  enum class end { closed, reset, timeout };
  /// Appends what arrives to `out` until the peer closes (closed: a clean
  /// end of stream; reset: a reset), `timeout` passes, or `enough` says so
  /// (checked after each arrival; then timeout is returned).
  template <class Enough>
  end read(std::string& out, std::chrono::milliseconds timeout, Enough enough);
  end read(std::string& out, std::chrono::milliseconds timeout) {
    return read(out, timeout, [](const std::string&) { return false; });
  }

  int fd() const { return fd_; }

 private:
  // One wait and one recv: 1 got bytes, 0 closed, -1 reset, -2 timeout.
  int read_some(std::string& out, std::chrono::steady_clock::time_point until);
  int fd_ = -1;
};

template <class Enough>
loopback_socket::end loopback_socket::read(std::string& out, std::chrono::milliseconds timeout,
                                           Enough enough) {
  auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int r = read_some(out, until);
    if (r == 0) return end::closed;
    if (r == -1) return end::reset;
    if (r == -2) return end::timeout;
    if (enough(out)) return end::timeout;
  }
}

/// The HTTP responses in `bytes`, checked: each must parse (Beast's
/// response parser), no status may be 500 (an exception escaped a route),
/// and every application/json body must be valid JSON. Parsing stops at a
/// 101 (what follows is WebSocket) or an event stream. `complete`: the node
/// closed the connection cleanly, so a response cut short is a finding too.
/// Returns the number of responses; calls fail() on a broken rule.
std::size_t check_http_responses(std::string_view bytes, bool complete);

}  // namespace usher::fuzz

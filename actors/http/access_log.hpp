#pragma once
/// The edge's access log: one logfmt line per HTTP request (docs/SERVE.md,
/// "Logs"), such as
///
///   time=2026-12-04T10:00:00.123Z request_id=9f0c2a7e51d3b486 client=127.0.0.1 account=acme
///   method=POST route=admit status=200 code=- wait_ms=0.000 lease=5c4e82ea-... ticket=-
///   duration_ms=0.052
///
/// (one line). Never a key or a key's hash: the account is named instead.
/// A field with no value is `-`; a value that could break the line (a
/// client's request id or a path's id holding `"`, `=` or `\`) is quoted.
///
/// Cheap on the hot path: a line is formatted by the I/O thread that answers
/// the request into a batch (a lock, uncontended with one I/O thread), and
/// the batch is handed to the log's writer (an spdlog logger: stderr or a
/// file, tools/node_logs.hpp) when it passes 16 KiB, or 200 ms after its
/// first line, so a quiet node's lines still show at once. Private to
/// actors/http/.

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace spdlog {
class logger;
}

namespace usher::actors::http {

/// One request as the access log tells it; views valid during add().
struct access_entry {
  std::string_view request_id;
  std::string_view client;   ///< the peer's address
  std::string_view account;  ///< "" before (or without) authentication
  std::string_view method;
  std::string_view route;    ///< admit, lease_release, ..., or "" (not routed)
  unsigned status = 0;       ///< what the client got (101 for a WebSocket)
  std::string_view code;     ///< the error body's `code`, or why a WebSocket closed at once
  std::int64_t wait_us = -1;  ///< time queued for an admission; -1: none
  std::string_view lease;
  std::string_view ticket;
  std::int64_t duration_us = 0;  ///< from the complete request to its answer
};

/// Appends the line of `e` stamped `now` (UTC, milliseconds), '\n' included.
void append_access_line(const access_entry& e, std::chrono::system_clock::time_point now,
                        std::string& out);

class access_log {
 public:
  /// REQUIRES: `out` not null; `io` outlives this.
  access_log(std::shared_ptr<spdlog::logger> out, boost::asio::io_context& io);
  ~access_log();

  /// Adds the line of `e`, stamped now. Any I/O thread.
  void add(const access_entry& e);

  /// Hands what is batched to the writer. Any thread.
  void flush();

 private:
  void flush_locked();  // REQUIRES: mutex_ held

  std::shared_ptr<spdlog::logger> out_;
  std::mutex mutex_;
  std::string batch_;
  boost::asio::steady_timer timer_;
  bool armed_ = false;
};

}  // namespace usher::actors::http

#pragma once
/// One admitted request proxied to its model server (docs/GATEWAY.md): sends
/// the client's request upstream with the body unchanged, relays the answer
/// back as it comes (an SSE stream piece by piece), and gives the slot back
/// the moment the answer is over: its last byte, its `data: [DONE]`, an
/// error status from upstream, a failed or stalled upstream, or the client
/// gone. The slot is a lease_handle: destroyed with the call at the latest,
/// so no path can keep it.
///
/// The call writes to the client's socket; the HTTP session that admitted
/// the request keeps its read open on it meanwhile (to see the client
/// leave: cancel()) and takes the connection back when `done` runs.
/// Everything runs on the client socket's executor.

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <iterator>
#include <string_view>
#include <map>
#include <optional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "actors/gateway/gateway_config.hpp"
#include "actors/gateway/output_tokens.hpp"
#include "actors/http/lease_handle.hpp"

namespace usher::actors::gateway {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

/// Keep-alive connections to the upstreams, reused by later calls (a new
/// TCP connection per request would add its handshake to every answer).
/// Any thread.
class connection_pool {
 public:
  explicit connection_pool(std::size_t per_upstream) : per_upstream_(per_upstream) {}
  /// An idle connection to `to`, moved to executor `ex`; false: none.
  bool take(const upstream& to, const asio::any_io_executor& ex, tcp::socket& out);
  /// A connection whose last answer was read whole and may be reused.
  void give_back(const upstream& to, tcp::socket s);
  /// Connections idle in the pool now (for /metrics).
  std::size_t idle() const;

 private:
  struct idle_conn {
    tcp::socket socket;
    std::chrono::steady_clock::time_point since;
  };
  const std::size_t per_upstream_;
  mutable std::mutex mutex_;
  std::map<std::string, std::vector<idle_conn>> idle_;  ///< by host:port
};

/// A field that belongs to one hop (RFC 9110 7.6.1) or carries the
/// customer's credentials: never passed on between client and model server
/// (name compared case-insensitively).
bool hop_or_secret(std::string_view name);

/// Why calls end early, as call_end::code says it; "" (first): they did not.
inline constexpr const char* call_end_codes[] = {"",
                                                 "upstream_unavailable",
                                                 "upstream_timeout",
                                                 "upstream_stalled",
                                                 "upstream_broke",
                                                 "client_gone"};
inline constexpr std::size_t call_end_kinds = std::size(call_end_codes);

/// The index of `code` in call_end_codes.
inline std::size_t call_end_index(const char* code) {
  for (std::size_t i = 0; i < call_end_kinds; ++i)
    if (std::string_view(code) == call_end_codes[i]) return i;
  return 0;
}

/// How a call ended, for the session's access log and counters.
struct call_end {
  unsigned status = 0;     ///< the status the client got (0: none was sent)
  const char* code = "";   ///< why it ended early: "" (it did not), upstream_unavailable,
                           ///< upstream_timeout, upstream_stalled, upstream_broke, client_gone
  bool keep_alive = false; ///< the client connection can take its next request
};

/// What a call needs from the node; outlives every call (the edge's).
struct call_context {
  const gateway_config* config = nullptr;
  connection_pool* pool = nullptr;
  std::chrono::milliseconds write_timeout{30'000};  ///< the client takes each piece within it
};

class upstream_call : public std::enable_shared_from_this<upstream_call> {
 public:
  using request = bhttp::request<bhttp::string_body>;
  using done_fn = std::function<void(const call_end&)>;

  /// `client`: the session's socket, used until `done` runs. `req`: the
  /// client's request, sent upstream with its body. `lease`: the slot,
  /// renewed every third of `lease_ttl` (0: never) while the call runs.
  /// `extra`: fields added to the client's answer (X-Request-Id,
  /// x-ratelimit-*). `count_tokens`: the release says the answer's tokens
  /// (admit_reply::count_tokens).
  upstream_call(const call_context& ctx, tcp::socket& client, const upstream& to, request req,
                http::lease_handle lease, std::string model, std::chrono::milliseconds lease_ttl,
                bool count_tokens, std::vector<std::pair<std::string, std::string>> extra, done_fn done);

  void start();
  /// The client left: the upstream request is cut and the slot freed.
  void cancel();

 private:
  /// connecting -> sending -> awaiting_head -> relaying -> finished, or from
  /// any before relaying to answering (our own 502/504 being written).
  enum class phase { connecting, sending, awaiting_head, relaying, answering, finished };

  void connect();
  void on_connected(beast::error_code ec);
  void send();
  void on_sent(beast::error_code ec);
  void on_head(beast::error_code ec);
  void read_piece();
  void on_piece(beast::error_code ec);
  void write_client(std::string bytes, bool last);
  void on_client_written(beast::error_code ec, bool last);
  /// The upstream failed before the answer began: 502 or 504 to the client,
  /// or one retry on a new connection when a reused one was closed under it.
  void upstream_failed(unsigned status, const char* code, const std::string& message);
  void finish(unsigned status, const char* code, bool keep_alive);
  void arm(std::chrono::milliseconds d);
  void schedule();
  void on_timer(beast::error_code ec);
  /// Says the answer's tokens (a per-token adaptive limit's sample) when
  /// they are counted, but not an error's.
  void free_slot() { lease_.release(tokens_ && status_ < 400 ? tokens_->tokens() : 0); }
  void watch_for_done(const char* data, std::size_t n);

  const call_context& ctx_;
  tcp::socket& client_;
  asio::any_io_executor ex_;
  const upstream& to_;
  request req_;
  http::lease_handle lease_;
  std::string model_;
  std::chrono::milliseconds renew_every_;
  std::vector<std::pair<std::string, std::string>> extra_;
  done_fn done_;
  const bool count_tokens_;  ///< the release says the answer's tokens

  tcp::socket upstream_;
  tcp::resolver resolver_;
  asio::steady_timer timer_;
  std::chrono::steady_clock::time_point deadline_;       ///< of the phase's timeout
  std::chrono::steady_clock::time_point next_renewal_;
  std::chrono::steady_clock::time_point client_write_since_{};  ///< a write to the client is open
  beast::flat_buffer upstream_buffer_;
  std::optional<bhttp::response_parser<bhttp::buffer_body>> parser_;
  std::unique_ptr<char[]> piece_;
  std::string head_;        ///< the answer's head, sent with the first piece
  std::string out_;         ///< bytes being written to the client
  std::string done_carry_;  ///< the tail of the last piece, for a [DONE] split across two
  /// Of the answer relayed so far, when the account learns from it
  /// (admit_reply::count_tokens): none otherwise, no pass over the bytes.
  std::optional<output_token_count> tokens_;
  phase phase_ = phase::connecting;
  unsigned status_ = 0;     ///< the upstream's status, once its head came
  bool reused_ = false;     ///< the upstream connection came from the pool
  bool retried_ = false;
  bool chunked_ = false;    ///< the client's answer is chunked (the upstream's has no length)
  bool event_stream_ = false;
  bool client_writing_ = false;
  bool cancelled_ = false;
  bool stalled_ = false;    ///< cut by idle_timeout
  bool timer_armed_ = false;
  bool client_http10_ = false;
  bool client_keep_alive_ = false;
  const char* error_code_ = "";  ///< of our own 502/504
};

}  // namespace usher::actors::gateway

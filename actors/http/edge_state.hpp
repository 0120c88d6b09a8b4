#pragma once
/// What every session of the edge shares: the config, the io_context, the
/// actor system, id counters and the edge's own response counters. Private
/// to actors/http/. Counters are touched only on I/O threads, hence atomics
/// (cfg.io_threads may exceed 1).

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "actors/gateway/upstream_call.hpp"
#include "actors/http/access_log.hpp"
#include "actors/http/bridge.hpp"
#include "actors/http/edge.hpp"
#include "actors/http/io_unit.hpp"

namespace usher::actors::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

using string_request = bhttp::request<bhttp::string_body>;
using string_response = bhttp::response<bhttp::string_body>;

/// The value of the first `name` field of `req`, or "" (what req[name]
/// gives). A walk over the few fields of a request by their enum: cheaper
/// than Beast's lookup, which compares names as case-insensitive strings.
inline std::string_view field_value(const string_request& req, bhttp::field name) {
  for (const auto& f : req)
    if (f.name() == name) return {f.value().data(), f.value().size()};
  return {};
}

/// The token of an `Authorization: Bearer TOKEN` value, the scheme matched
/// case-insensitively (RFC 7235); "" for another scheme or none.
inline std::string_view bearer_token(std::string_view authorization) {
  constexpr std::string_view scheme = "bearer";
  auto& a = authorization;
  if (a.size() <= scheme.size() || a[scheme.size()] != ' ') return {};
  for (std::size_t i = 0; i < scheme.size(); ++i)
    if ((a[i] | 0x20) != scheme[i]) return {};  // ASCII letters: | 0x20 lowers
  auto token = a.substr(scheme.size());
  token.remove_prefix(std::min(token.find_first_not_of(' '), token.size()));
  return token;
}

/// The subprotocol that carries an OpenAI key (browsers cannot set fields).
inline constexpr std::string_view key_subprotocol = "openai-insecure-api-key.";

/// Calls f(protocol) for each of the comma-separated `protocols` of a
/// WebSocket upgrade, trimmed, until f returns true.
template <class F>
void each_subprotocol(std::string_view protocols, F&& f) {
  while (!protocols.empty()) {
    auto comma = protocols.find(',');
    auto p = protocols.substr(0, comma);
    protocols = comma == std::string_view::npos ? std::string_view() : protocols.substr(comma + 1);
    while (!p.empty() && (p.front() == ' ' || p.front() == '\t')) p.remove_prefix(1);
    while (!p.empty() && (p.back() == ' ' || p.back() == '\t')) p.remove_suffix(1);
    if (!p.empty() && f(p)) return;
  }
}

/// True for a subprotocol `openai-insecure-api-key.KEY`, in any case (one
/// that carries a key is never passed on nor echoed, however it is spelled).
inline bool is_key_subprotocol(std::string_view p) {
  return p.size() >= key_subprotocol.size() &&
         beast::iequals(beast::string_view(p.data(), key_subprotocol.size()),
                        beast::string_view(key_subprotocol.data(), key_subprotocol.size()));
}

/// The KEY of a subprotocol `openai-insecure-api-key.KEY` among `protocols`;
/// "" when none.
inline std::string_view subprotocol_key(std::string_view protocols) {
  std::string_view key;
  each_subprotocol(protocols, [&](std::string_view p) {
    if (!is_key_subprotocol(p)) return false;
    key = p.substr(key_subprotocol.size());
    return true;
  });
  return key;
}

/// The subprotocol the node answers an upgrade offering `protocols` with:
/// the first that carries no key ("realtime" from the OpenAI SDK), or "".
/// A WHATWG WebSocket (browsers, Node's global one) that offered any fails
/// the connection when the answer names none.
inline std::string_view answered_subprotocol(std::string_view protocols) {
  std::string_view chosen;
  each_subprotocol(protocols, [&](std::string_view p) {
    if (is_key_subprotocol(p)) return false;
    chosen = p;
    return true;
  });
  return chosen;
}

struct edge::impl : std::enable_shared_from_this<edge::impl> {
  impl(caf::actor_system& s, edge_config c)
      : sys(s),
        cfg(std::move(c)),
        io(std::in_place, cfg.io_threads > 1 ? BOOST_ASIO_CONCURRENCY_HINT_DEFAULT : 1),
        acceptor(std::in_place, *io),
        actors_unit(s, *io),
        to_actors(s, actors_unit),
        sweep_every(std::clamp(
            std::min({cfg.request_timeout, cfg.idle_timeout, cfg.write_timeout}) / 4,
            std::chrono::milliseconds(10), std::chrono::milliseconds(2000))) {
    log = cfg.error_log ? cfg.error_log : stderr_log();
    next_request = cfg.id_base + 1;
    next_conn = cfg.id_base + 1;
    if (cfg.access_log) access.emplace(cfg.access_log, *io);
    if (cfg.gateway) {
      upstreams.emplace(cfg.gateway->pool_size);
      calls.config = cfg.gateway.get();
      calls.pool = &*upstreams;
      calls.write_timeout = cfg.write_timeout;
    }
  }
  /// An error log on stderr, for an edge configured without one.
  static std::shared_ptr<spdlog::logger> stderr_log();

  caf::actor_system& sys;
  edge_config cfg;
  /// The error log (cfg.error_log, or stderr): never null.
  std::shared_ptr<spdlog::logger> log;  ///< its keys and actors as at start; routes() has them as now

  /// Keys and actors as now: replaced whole by a reload (edge::replace_routes).
  struct route_table {
    std::unordered_map<std::string, account_route> keys;  ///< SHA-256 hex -> account
    std::vector<admission_actor> actors;                  ///< all of them, for /metrics and drains
  };
  std::shared_ptr<const route_table> routes() const {
    std::lock_guard<std::mutex> guard(routes_mutex);
    return routes_;
  }
  std::shared_ptr<const route_table> routes_ =
      std::make_shared<route_table>(route_table{cfg.keys, cfg.actors});
  mutable std::mutex routes_mutex;
  /// Bumped by each replacement: a connection's cached key is looked up
  /// again after a reload (its key may be gone).
  std::atomic<std::uint64_t> routes_version{0};
  /// With one I/O thread, the hint 1 lets handlers post to the thread's own
  /// queue (no lock, no reactor interrupt); other threads may still post.
  /// Optional so that close_connections() can destroy it before the edge:
  /// connections hold the edge through their handlers, which only the
  /// io_context's destruction drops.
  std::optional<asio::io_context> io;
  std::optional<tcp::acceptor> acceptor;
  /// One line per HTTP request; empty when cfg.access_log is null.
  std::optional<access_log> access;
  /// The gateway's (with cfg.gateway): keep-alive connections to the model
  /// servers, and what every proxied call is given.
  std::optional<gateway::connection_pool> upstreams;
  gateway::call_context calls;
  std::atomic<std::int64_t> calls_open{0};  ///< proxied calls under way
  /// Proxied calls ended, by gateway::call_end_index of their code.
  std::array<std::atomic<std::int64_t>, gateway::call_end_kinds> call_ends{};
  io_unit actors_unit;  ///< where actors woken by the edge run
  bridge to_actors;  ///< requests to admission actors, answers back to sessions
  std::atomic<std::uint64_t> next_request{1};
  std::atomic<std::uint64_t> next_conn{1};
  std::atomic<bool> stopping{false};
  /// Set once by edge::drain(): no new connections, /readyz 503.
  std::atomic<bool> draining{false};
  /// Why GET /readyz answers 503 now, or nullptr: ready.
  const char* not_ready() const {
    if (draining) return "draining";
    return cfg.not_ready ? cfg.not_ready() : nullptr;
  }
  /// Responses sent, by HTTP status (index: status - 100; 1008 closes counted apart).
  std::array<std::atomic<std::int64_t>, 500> responses{};
  std::atomic<std::int64_t> ws_policy_closes{0};
  /// WebSockets closed with 1013: a cluster member could not keep their leases.
  std::atomic<std::int64_t> ws_leases_lost{0};
  std::atomic<std::int64_t> sse_streams{0};
  std::atomic<std::int64_t> ws_open{0};

  /// What an HTTP connection is doing, as the edge tracks it for its
  /// timeouts and for shedding under descriptor pressure.
  enum class conn_phase : std::uint8_t {
    busy,     ///< its request is being answered (an admission may wait): no timeout
    reading,  ///< new, or a request begun and not complete: request_timeout
    idle,     ///< keep-alive between requests: idle_timeout
    writing,  ///< an answer is being written: write_timeout
    doomed,   ///< timed out or shed: its close is on its way
  };
  /// Why the edge closed a connection (index of connection_ends).
  enum class conn_end : std::uint8_t { request_timeout, idle_timeout, write_timeout, shed };

  /// A connection the edge tracks. Each timed phase has one list, ordered by
  /// `edge_since` (the oldest first, as every connection joins at the tail),
  /// so a sweep and a shed look only at list heads: no timer per connection,
  /// no walk over all of them. The edge_* fields belong to the edge and are
  /// guarded by its conn_mutex.
  struct tracked_conn {
    virtual ~tracked_conn() = default;
    /// The edge decided to close it (from any thread): it closes itself on
    /// its own executor if confirm_end() still agrees.
    virtual void doom(conn_end why) = 0;

    tracked_conn* edge_prev = nullptr;
    tracked_conn* edge_next = nullptr;
    conn_phase edge_phase = conn_phase::busy;
    bool edge_counted = false;
    std::chrono::steady_clock::time_point edge_since;
    std::weak_ptr<tracked_conn> edge_self;
  };
  /// A new connection: counted, and reading (a request) from now on.
  void add_conn(const std::shared_ptr<tracked_conn>& c);
  /// Its socket is closed or handed over: no longer counted or tracked.
  /// Idempotent.
  void remove_conn(tracked_conn* c);
  /// It enters phase `p` now; a doom on its way is called off.
  void set_phase(tracked_conn* c, conn_phase p);
  /// On the connection's executor, before it closes for `why`: true (and
  /// counted) if the doom still holds, false if the connection got busy.
  bool confirm_end(tracked_conn* c, conn_end why);
  /// Dooms up to `n` of the oldest idle connections, those that have not
  /// sent a complete request first. Returns how many.
  std::size_t shed(std::size_t n);
  /// Client connections open now: HTTP sessions, SSE streams, WebSockets.
  std::int64_t connections() const { return http_sessions + sse_streams + ws_open; }
  std::atomic<std::int64_t> http_sessions{0};
  std::atomic<std::int64_t> accept_errors{0};
  /// New connections answered 503 and closed at once (at the cap or at the
  /// open-file limit, nothing idle to shed).
  std::atomic<std::int64_t> connections_refused{0};
  /// Connections the edge closed, by conn_end.
  std::array<std::atomic<std::int64_t>, 4> connection_ends{};

  /// The last key a connection authenticated with, and its account, so a
  /// keep-alive client's key is hashed once per connection, not per request.
  struct key_cache {
    std::string key;
    const account_route* route = nullptr;
    std::shared_ptr<const route_table> table;  ///< keeps `route` alive across a reload
    std::uint64_t version = 0;
  };

  /// The account of a bearer token, or nullptr. `cache` is the
  /// connection's: a key equal to its last one skips the SHA-256 lookup.
  /// A WebSocket upgrade without Authorization may carry its key as the
  /// subprotocol `openai-insecure-api-key.KEY` instead (what the OpenAI SDK's
  /// client for browsers and other runtimes with a global WebSocket sends:
  /// those cannot set fields).
  const account_route* authenticate(const string_request& req, key_cache& cache) const;
  /// An exception escaped the handling of a request (a bug, or input no
  /// check foresaw): counted for /metrics and written to stderr (the first
  /// ten, then every thousandth, so hostile input cannot flood the log).
  /// The caller ends what it was doing cleanly; the node goes on.
  void report_internal_error(const char* where, const std::exception& e);
  std::atomic<std::int64_t> internal_errors{0};

  void count(unsigned status) {
    if (status >= 100 && status < 600) ++responses[status - 100];
  }

  /// A session-rate refusal (1008 in the account's outcomes) that the
  /// client saw as 429: over HTTP, or in a WebSocket error frame. /metrics
  /// counts it under 429 (what the client saw); a WebSocket closed with
  /// 1008 stays 1008.
  void count_refusal_as_429(const std::string& account) {
    std::lock_guard<std::mutex> guard(refusal_mutex);
    ++refusals_as_429[account];
  }
  std::map<std::string, std::int64_t> refusals_as_429_now() {
    std::lock_guard<std::mutex> guard(refusal_mutex);
    return refusals_as_429;
  }

  /// The X-Request-Id of an answer: the request's own `given` when it is
  /// sane (1 to 128 visible ASCII characters, so it is one token in a log
  /// line), else a new one (16 hex digits, unique in this process).
  void request_id(std::string_view given, std::string& out);
  std::atomic<std::uint64_t> request_ids{0};
  std::uint64_t request_id_key = 0;  ///< random per process: ids differ across restarts

  /// A connection handed over from HTTP (an SSE stream, a WebSocket) that a
  /// drain ends: go_away() closes it on its own executor (a WebSocket with
  /// close code 1001). Registered while open.
  struct stream_conn {
    virtual ~stream_conn() = default;
    virtual void go_away() = 0;
  };
  /// Registers `s`; when the node drains already, it goes away at once.
  void add_stream(const std::shared_ptr<stream_conn>& s);
  void remove_stream(stream_conn* s);

  /// Held by stop() and drain() (callable from any thread) while they post
  /// to the io_context, and by close_connections() to set `closed` before
  /// the io_context is destroyed.
  std::mutex outside_mutex;
  bool closed = false;  ///< (under outside_mutex) the io_context is gone or going
  /// Stops the io_context (edge::stop()).
  void stop();
  /// edge::drain(). Any thread.
  void drain(std::chrono::milliseconds within);
  /// Asks every admission actor to drain and how many leases it holds;
  /// stops when none holds one or the drain's time is up, else asks again
  /// shortly. On I/O threads.
  void poll_drain();
  std::chrono::steady_clock::time_point drain_until{};
  std::atomic<std::int64_t> leases_left{-1};
  void accept();
  /// Runs the io_context on this thread until it stops.
  void run_io();
  /// Once the I/O threads have returned: drops every connection still
  /// waiting for I/O or for an actor's answer (and with it their references
  /// to this edge, a cycle otherwise), then the io_context.
  void close_connections();

 private:
  void sweep();
  void arm_sweeper();  // REQUIRES: conn_mutex held
  void unlink(tracked_conn* c);  // REQUIRES: conn_mutex held
  std::chrono::milliseconds timeout_of(conn_phase p) const;
  void accept_failed(const beast::error_code& ec);
  bool refuse_with_spare();
  void accept_later();

  /// Sweeps run this often while a connection is in a timed phase: a
  /// quarter of the shortest timeout, 10 ms to 2 s, so each timeout is
  /// honoured within one period.
  const std::chrono::milliseconds sweep_every;
  std::mutex conn_mutex;
  struct conn_list {
    tracked_conn* head = nullptr;
    tracked_conn* tail = nullptr;
  };
  std::array<conn_list, 3> timed;  ///< reading, idle, writing
  std::optional<asio::steady_timer> sweeper{std::in_place, *io};
  bool sweeping = false;

  std::mutex refusal_mutex;
  std::map<std::string, std::int64_t> refusals_as_429;

  std::mutex stream_mutex;
  std::unordered_map<stream_conn*, std::weak_ptr<stream_conn>> streams;
  std::optional<asio::steady_timer> drain_timer{std::in_place, *io};
  /// Held while draining: with the listening socket closed and no
  /// connection left, run() would return between two rounds of poll_drain().
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> drain_work;

  // Accepting under descriptor pressure; touched only by the one accept
  // chain (never two accepts at once).
  std::optional<asio::steady_timer> accept_timer{std::in_place, *io};
  std::chrono::milliseconds accept_backoff{0};
  std::chrono::steady_clock::time_point accept_logged{};
  std::int64_t accept_errors_logged = 0;

 public:
  /// Kept open to refuse a connection when the open-file limit is reached
  /// and nothing can be shed: closed, the connection accepted, answered
  /// 503 and closed, then opened again. -1: none.
  int spare_fd = -1;
  ~impl();
};

}  // namespace usher::actors::http

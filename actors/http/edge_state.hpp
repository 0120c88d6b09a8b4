#pragma once
/// What every session of the edge shares: the config, the io_context, the
/// actor system, id counters and the edge's own response counters. Private
/// to actors/http/. Counters are touched only on I/O threads, hence atomics
/// (cfg.io_threads may exceed 1).

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

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

struct edge::impl : std::enable_shared_from_this<edge::impl> {
  impl(caf::actor_system& s, edge_config c)
      : sys(s),
        cfg(std::move(c)),
        io(std::in_place, cfg.io_threads > 1 ? BOOST_ASIO_CONCURRENCY_HINT_DEFAULT : 1),
        acceptor(std::in_place, *io),
        actors_unit(s, *io),
        to_actors(s, actors_unit) {}

  caf::actor_system& sys;
  edge_config cfg;
  /// With one I/O thread, the hint 1 lets handlers post to the thread's own
  /// queue (no lock, no reactor interrupt); other threads may still post.
  /// Optional so that close_connections() can destroy it before the edge:
  /// connections hold the edge through their handlers, which only the
  /// io_context's destruction drops.
  std::optional<asio::io_context> io;
  std::optional<tcp::acceptor> acceptor;
  io_unit actors_unit;  ///< where actors woken by the edge run
  bridge to_actors;  ///< requests to admission actors, answers back to sessions
  std::atomic<std::uint64_t> next_request{1};
  std::atomic<std::uint64_t> next_conn{1};
  std::atomic<bool> stopping{false};
  /// Responses sent, by HTTP status (index: status - 100; 1008 closes counted apart).
  std::array<std::atomic<std::int64_t>, 500> responses{};
  std::atomic<std::int64_t> ws_policy_closes{0};
  std::atomic<std::int64_t> sse_streams{0};
  std::atomic<std::int64_t> ws_open{0};

  /// A connection that closes itself when it waited too long. The edge
  /// calls sweep() on each one every sweep_every (only while there are
  /// connections, so an idle node has no timer), instead of a timer per
  /// read and write.
  struct idle_watch {
    virtual ~idle_watch() = default;
    virtual void sweep(std::chrono::steady_clock::time_point now) = 0;
  };
  static constexpr auto sweep_every = std::chrono::seconds(2);
  void watch_idle(const std::shared_ptr<idle_watch>& c);
  void unwatch_idle(idle_watch* c);

  /// The last key a connection authenticated with, and its account, so a
  /// keep-alive client's key is hashed once per connection, not per request.
  struct key_cache {
    std::string key;
    const account_route* route = nullptr;
  };

  /// The account of a bearer token, or nullptr. `cache` is the
  /// connection's: a key equal to its last one skips the SHA-256 lookup.
  const account_route* authenticate(const string_request& req, key_cache& cache) const;
  void count(unsigned status) {
    if (status >= 100 && status < 600) ++responses[status - 100];
  }
  void accept();
  /// Once the I/O threads have returned: drops every connection still
  /// waiting for I/O or for an actor's answer (and with it their references
  /// to this edge, a cycle otherwise), then the io_context.
  void close_connections();

 private:
  void sweep();
  void arm_sweeper();  // REQUIRES: idle_mutex held

  std::mutex idle_mutex;
  std::unordered_map<idle_watch*, std::weak_ptr<idle_watch>> idle;
  std::optional<asio::steady_timer> sweeper{std::in_place, *io};
  bool sweeping = false;
};

}  // namespace usher::actors::http

#pragma once
/// The network edge of a live node: HTTP/1.1 and WebSocket with Boost.Beast
/// on its own io_context, at the rim of the actors layer. It authenticates
/// (`Authorization: Bearer KEY`, looked up by SHA-256), parses, and bridges
/// each request into the admission actors without ever blocking an I/O
/// thread on an actor: a one-shot actor makes the request and posts the
/// answer back to the io_context (actors/http/bridge.hpp). Long waits (a 60 s
/// queue) and SSE streams cost memory only.
///
/// Routes and statuses: docs/SERVE.md. Every error body has the shape
/// {"error":{"message":..,"type":..,"param":..,"code":..}}; statuses are
/// mapped from admission replies in one place (actors/http/responses.cpp).
/// Every answer carries an X-Request-Id: the request's own when it sent a
/// sane one, else one the edge makes up.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "actors/cluster/cluster_node.hpp"
#include "actors/gateway/gateway_config.hpp"
#include "actors/messages.hpp"

namespace spdlog {
class logger;
}

namespace usher::actors::http {

/// Where an API key leads.
struct account_route {
  std::string account;
  admission_actor actor;
  /// Which of the account's `key` lines matched (0, 1, ...): the request's
  /// key for per-key gates (docs/GATES.md, key_cap).
  policies::id key = policies::no_id;
};

struct edge_config {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;     ///< 0: ephemeral
  std::size_t max_body = 64 * 1024;
  std::unordered_map<std::string, account_route> keys;  ///< SHA-256 hex -> account
  std::string metrics_key_hash;  ///< "": /metrics is open
  std::size_t metrics_accounts = 50;
  std::vector<admission_actor> actors;  ///< all of them, for /metrics
  std::size_t io_threads = 1;
  /// Open client connections (HTTP, SSE and WebSocket) at most; 0: derived
  /// from the open-file limit (default_max_connections()). At the cap the
  /// oldest idle connection is closed to admit a new one, or, if none is
  /// idle, the new one is answered 503 and closed.
  std::size_t max_connections = 0;
  /// A connection that has not sent a complete request within this (a new
  /// one, or one between requests that started sending the next) is closed.
  std::chrono::milliseconds request_timeout{10'000};
  /// A keep-alive connection with no request for this long is closed.
  std::chrono::milliseconds idle_timeout{60'000};
  /// An answer not written within this is given up and its connection closed.
  std::chrono::milliseconds write_timeout{30'000};
  /// Why the node should get no new traffic though it is not draining, or
  /// nullptr: GET /readyz answers 503 with it. The hook for a cluster node
  /// that has no majority. Called on I/O threads; must not block.
  std::function<const char*()> not_ready;
  /// A cluster member (docs/CLUSTER.md): its cluster actor (GET /v1/cluster
  /// asks it) and what it counts (in /metrics); invalid and nullptr alone.
  caf::actor cluster;
  std::shared_ptr<const cluster::cluster_stats> cluster_stats;
  /// The OpenAI-compatible gateway (docs/GATEWAY.md): where admitted
  /// /v1/chat/completions, /v1/embeddings, ... go. nullptr: no gateway, those
  /// routes answer 404 as any unknown route.
  std::shared_ptr<const gateway::gateway_config> gateway;
  /// Request and connection ids start above it: a cluster member's are
  /// unique across the cluster (its index in the high bits).
  std::uint64_t id_base = 0;
  /// Where the edge says what went wrong, with a level (tools/node_logs.hpp);
  /// nullptr: stderr.
  std::shared_ptr<spdlog::logger> error_log;
  /// Where one line per HTTP request goes (actors/http/access_log.hpp);
  /// nullptr: no access log.
  std::shared_ptr<spdlog::logger> access_log;
  /// The labels of usher_build_info in /metrics (usher --version's).
  std::string version = "unknown";
  std::string commit = "unknown";
};

/// The connections a node holds by default: the soft RLIMIT_NOFILE less a
/// reserve for the node's own files (its event loop, timers, standard
/// streams, the spare descriptor that refuses connections at the limit):
/// 64 descriptors, or half the limit when it is under 128.
std::size_t default_max_connections();

class edge {
 public:
  /// Binds and listens. Throws std::runtime_error when the address cannot
  /// be bound.
  edge(caf::actor_system& sys, edge_config cfg);
  ~edge();

  /// The port it listens on (the ephemeral one when configured with 0).
  std::uint16_t port() const;

  /// The connection cap in force (cfg.max_connections, or its default).
  std::size_t max_connections() const;

  /// Serves until stop(); runs the io_context on cfg.io_threads threads
  /// (the calling one among them).
  void run();

  /// Stops serving; safe from any thread (and from a signal handler's
  /// asio::signal_set). Ends a drain at once.
  void stop();

  /// Drains, then stops (SIGTERM; docs/SERVE.md, "Stopping and draining"):
  /// closes the listening socket, answers GET /readyz 503, closes every
  /// WebSocket (1001, going away) and SSE stream, and asks every admission
  /// actor to drain (drain_atom: queued requests and ticket pollers get 503,
  /// new admissions 503). Connections open already stay, so holders can
  /// release and renew their leases. run() returns once no actor holds a
  /// lease, or `within` after this call. Safe from any thread; once only.
  void drain(std::chrono::milliseconds within);

  /// A reload (SIGHUP): from now on keys lead to these accounts and /metrics
  /// and drains ask these actors. Requests under way finish with the routes
  /// they started with. Safe from any thread.
  void replace_routes(std::unordered_map<std::string, account_route> keys,
                      std::vector<admission_actor> actors);

  /// After run() returned from a drain: the leases still held then (0: the
  /// holders released all of them). -1 when no drain ended the run.
  std::int64_t leases_left() const;

  struct impl;

 private:
  std::shared_ptr<impl> impl_;
  std::uint16_t port_ = 0;
};

}  // namespace usher::actors::http

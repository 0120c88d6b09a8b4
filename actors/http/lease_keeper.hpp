#pragma once
/// Keeps alive the leases a WebSocket session holds when they carry a TTL
/// (a cluster member's: docs/CLUSTER.md, "WebSocket connections"; on a node
/// alone they have none and a keeper is never started). Every TTL/3 (every
/// TTL/12 after a renewal answered 503 or not at all, until one is
/// answered) it renews each lease the session lists, saying what the lease holds
/// (lease_handle::terms) so that a member recovering after a takeover
/// adopts it as it was. It tells the session its hold is lost when the
/// owner no longer knows a lease (404), or when no renewal of one was
/// answered for 2/3 of its TTL (the owner down, unreachable): the session
/// then closes its socket, a third of a TTL before the owner could count
/// the lease free, so no client keeps using a slot the owner gave away.
///
/// Owned by its session, on the session's I/O thread; the callbacks hold
/// the session weakly.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>

#include "actors/http/bridge.hpp"
#include "actors/http/lease_handle.hpp"

namespace usher::actors::http {

class lease_keeper {
 public:
  /// Calls its argument with each lease the session holds now.
  using each_fn = std::function<void(const std::function<void(const lease_handle&)>&)>;

  lease_keeper(const boost::asio::any_io_executor& ex, bridge& to_actors);
  ~lease_keeper() { stop(); }
  lease_keeper(const lease_keeper&) = delete;
  lease_keeper& operator=(const lease_keeper&) = delete;

  /// Renews what `each` lists every `ttl`/3 until stop(); `lost` runs once,
  /// on the session's thread, when a lease cannot be kept. No effect when
  /// `ttl` is zero (leases held without one).
  void start(std::chrono::milliseconds ttl, each_fn each, std::function<void()> lost);

  /// No more renewals, and `lost` never runs. Idempotent.
  void stop();

 private:
  struct state;
  std::shared_ptr<state> s_;
};

}  // namespace usher::actors::http

#pragma once
/// A lease as the edge holds it on a client's behalf: it releases the lease
/// when destroyed, unless keep() handed it over to the client (the 200 was
/// written). So a lease granted to a client that left before the answer
/// reached it, or held by a WebSocket that closed, can never leak.
/// Move-only; used on I/O threads.

#include <caf/all.hpp>
#include <chrono>
#include <string>

#include "actors/http/bridge.hpp"
#include "actors/messages.hpp"

namespace usher::actors::http {

class lease_handle {
 public:
  lease_handle() = default;
  /// `via`: the edge's bridge, so the release and renewals run on the I/O
  /// thread's unit (a proxied call's, which ends on that thread); nullptr:
  /// anonymous sends.
  lease_handle(admission_actor actor, std::string account, std::string lease,
               bridge* via = nullptr)
      : actor_(std::move(actor)), via_(via) {
    renewal_.account = std::move(account);
    renewal_.lease = std::move(lease);
    renewal_.op = lease_op::renew;
  }
  lease_handle(lease_handle&& o) noexcept { *this = std::move(o); }
  lease_handle& operator=(lease_handle&& o) noexcept {
    if (this != &o) {
      release();
      actor_ = std::move(o.actor_);
      renewal_ = std::move(o.renewal_);
      via_ = o.via_;
      ttl_ = o.ttl_;
      since_ = o.since_;
      o.renewal_.lease.clear();
    }
    return *this;
  }
  lease_handle(const lease_handle&) = delete;
  lease_handle& operator=(const lease_handle&) = delete;
  ~lease_handle() { release(); }

  const std::string& id() const { return renewal_.lease; }

  /// The client owns the lease now: do not release it here.
  void keep() { renewal_.lease.clear(); }

  /// What renewals say the lease holds (model, product, cost, key, the
  /// WebSocket connection), so that a node or cluster member recovering
  /// adopts it as it was. Set it before renewing.
  lease_request& terms() { return renewal_; }

  /// The lease's TTL as granted (admit_reply's lease_ttl_ms: zero when its
  /// connection holds it without one), and when it was granted as the edge
  /// saw it (the answer's arrival: the grant was no later).
  void set_ttl(std::chrono::milliseconds ttl) {
    ttl_ = ttl;
    since_ = std::chrono::steady_clock::now();
  }
  std::chrono::milliseconds ttl() const { return ttl_; }
  std::chrono::steady_clock::time_point since() const { return since_; }

  /// Renews now (no answer awaited): a holder that keeps the lease past its
  /// TTL (a proxied call, docs/GATEWAY.md).
  void renew() const {
    if (renewal_.lease.empty() || !actor_) return;
    send(renewal_);
  }

  /// The renewal to send and where to, for a holder that waits for the
  /// answer (lease_keeper).
  const lease_request& renewal() const { return renewal_; }
  const admission_actor& owner() const { return actor_; }

  /// Held (not yet released or handed to the client).
  bool held() const { return !renewal_.lease.empty(); }

  /// Releases now (no answer awaited), saying how many tokens the answer had
  /// (0: not known).
  void release(std::uint32_t output_tokens = 0) {
    if (renewal_.lease.empty() || !actor_) return;
    lease_request r{renewal_.account, renewal_.lease, lease_op::release};
    r.output_tokens = output_tokens;
    send(std::move(r));
    renewal_.lease.clear();
  }

 private:
  void send(lease_request r) const {
    if (via_) via_->tell(actor_, std::move(r));
    else caf::anon_send(actor_, std::move(r));
  }

  admission_actor actor_;
  lease_request renewal_;  ///< account, lease and terms; op renew
  bridge* via_ = nullptr;
  std::chrono::milliseconds ttl_{0};
  std::chrono::steady_clock::time_point since_{};
};

}  // namespace usher::actors::http

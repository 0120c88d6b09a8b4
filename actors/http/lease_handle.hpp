#pragma once
/// A lease as the edge holds it on a client's behalf: it releases the lease
/// when destroyed, unless keep() handed it over to the client (the 200 was
/// written). So a lease granted to a client that left before the answer
/// reached it, or held by a WebSocket that closed, can never leak.
/// Move-only; used on I/O threads.

#include <caf/all.hpp>
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
      : actor_(std::move(actor)), account_(std::move(account)), lease_(std::move(lease)),
        via_(via) {}
  lease_handle(lease_handle&& o) noexcept { *this = std::move(o); }
  lease_handle& operator=(lease_handle&& o) noexcept {
    if (this != &o) {
      release();
      actor_ = std::move(o.actor_);
      account_ = std::move(o.account_);
      lease_ = std::move(o.lease_);
      via_ = o.via_;
      o.lease_.clear();
    }
    return *this;
  }
  lease_handle(const lease_handle&) = delete;
  lease_handle& operator=(const lease_handle&) = delete;
  ~lease_handle() { release(); }

  const std::string& id() const { return lease_; }

  /// The client owns the lease now: do not release it here.
  void keep() { lease_.clear(); }

  /// Renews now (no answer awaited): a holder that keeps the lease past its
  /// TTL (a proxied call, docs/GATEWAY.md). `model`: what it was granted
  /// for, so a node recovering after a restart adopts it.
  void renew(const std::string& model) const {
    if (lease_.empty() || !actor_) return;
    lease_request r{account_, lease_, lease_op::renew};
    r.model = model;
    send(std::move(r));
  }

  /// Held (not yet released or handed to the client).
  bool held() const { return !lease_.empty(); }

  /// Releases now (no answer awaited).
  void release() {
    if (lease_.empty() || !actor_) return;
    send(lease_request{account_, lease_, lease_op::release});
    lease_.clear();
  }

 private:
  void send(lease_request r) const {
    if (via_) via_->tell(actor_, std::move(r));
    else caf::anon_send(actor_, std::move(r));
  }

  admission_actor actor_;
  std::string account_;
  std::string lease_;
  bridge* via_ = nullptr;
};

}  // namespace usher::actors::http

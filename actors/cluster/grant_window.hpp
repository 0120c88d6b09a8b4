#pragma once
/// Until when a cluster node may grant, and at which of its generations
/// (actors/cluster/cluster_view.hpp): written by the node's cluster actor at
/// every beat, read by its admission actors before every grant or renewal.
/// Shared memory rather than a message, because what matters is the moment
/// a grant is decided: an admission actor that runs after its process was
/// stopped (SIGSTOP) and resumed must see that its right to grant ran out,
/// whatever still waits in its mailbox. Lock-free: one 64-bit word, the
/// generation (mod 2^16) in the low bits and the end of validity, in
/// microseconds of node time, above them.

#include <atomic>
#include <cstdint>

#include "policies/time.hpp"

namespace usher::actors::cluster {

class grant_window {
 public:
  void set(std::uint64_t generation, policies::usec valid_until) {
    auto until = static_cast<std::uint64_t>(valid_until < 0 ? 0 : valid_until);
    if (until > max_until) until = max_until;
    word_.store((until << 16) | (generation & 0xffff), std::memory_order_release);
  }

  /// True when a node at `generation` may grant at `now`.
  [[nodiscard]] bool open(std::uint64_t generation, policies::usec now) const {
    auto w = word_.load(std::memory_order_acquire);
    return (w & 0xffff) == (generation & 0xffff) && now < static_cast<policies::usec>(w >> 16);
  }

 private:
  static constexpr std::uint64_t max_until = (std::uint64_t{1} << 48) - 1;
  std::atomic<std::uint64_t> word_{0};
};

}  // namespace usher::actors::cluster

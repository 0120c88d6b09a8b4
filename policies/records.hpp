#pragma once
/// The records a simulation passes around: a trace row as the simulator
/// needs it (arrival) and how it ended (outcome). Plain values, so they cross
/// actor and node boundaries and are read and written by traces/.

#include <cstdint>

#include "policies/request.hpp"
#include "policies/time.hpp"

namespace usher::policies {

/// One trace row, as the simulator needs it.
struct arrival {
  request req;       ///< cost already resolved by plan::cost_of
  usec at = 0;       ///< arrival time
  usec duration = 0; ///< how long it holds its slot once admitted
  std::uint16_t profile = 0;   ///< plan::profile_of(account)
  bool fail = false;           ///< ends in 500 after `duration`
};

/// How one request ended.
struct outcome {
  std::uint64_t seq = 0;
  usec start = -1;  ///< -1: never admitted
  usec end = -1;
  usec wait = 0;    ///< time spent queued
  status code = status::ok;
  reason why = reason::none;
  bool queued = false;        ///< answered 202 before its final status
};

}  // namespace usher::policies

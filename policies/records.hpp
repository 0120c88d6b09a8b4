#pragma once
/// The records a simulation passes around: a trace row as the simulator
/// needs it (arrival) and how it ended (outcome). Plain values, so they cross
/// actor and node boundaries and are read and written by traces/.

#include <cstdint>

#include "policies/request.hpp"
#include "policies/time.hpp"

namespace usher::policies {

/// Marks requests a client model generated (its attempts), as opposed to
/// trace rows: their sequence numbers are (1 << 63) | account << 40 | n, so
/// they are unique and ordered per account whichever actor generates them.
constexpr std::uint64_t generated_seq_bit = std::uint64_t{1} << 63;
constexpr std::uint32_t no_client = static_cast<std::uint32_t>(-1);

/// One request as the simulator needs it: a trace row or a client's attempt.
/// An arrival without an output token count (its time is its duration).
constexpr std::uint32_t no_output_tokens = ~std::uint32_t{0};

struct arrival {
  request req;       ///< cost already resolved by plan::cost_of
  usec at = 0;       ///< arrival time
  usec duration = 0; ///< how long it holds its slot once admitted
  std::uint16_t profile = 0;   ///< plan::profile_of(account)
  bool fail = false;           ///< ends in 500 after `duration`
  // Generated attempts only.
  std::uint32_t client = no_client;  ///< the client model that sent it
  std::uint64_t request_no = 0;      ///< its logical request
  std::uint32_t attempt_no = 0;      ///< 1, 2, 3
  // (Here, in attempt_no's padding, so that an arrival stays 96 bytes.)
  /// The trace's output_tokens (request.tokens holds input + output), for the
  /// backend model; no_output_tokens when the row gives none.
  std::uint32_t output_tokens = no_output_tokens;
  usec deadline = never;             ///< the client gives up then (499)
};

/// How one request ended. Outputs are ordered by (at, seq).
struct outcome {
  std::uint64_t seq = 0;
  usec at = 0;      ///< arrival
  usec start = -1;  ///< -1: never admitted
  usec end = -1;
  usec wait = 0;    ///< time spent queued
  status code = status::ok;
  reason why = reason::none;
  bool queued = false;        ///< answered 202 before its final status
  id account = 0;
  id model = no_id;
  std::int64_t cost = 0;
  kind what = kind::request;
  std::uint16_t gate = no_gate;  ///< reason gate: the refusing gate's index in plan::gates()
  // Generated attempts only.
  std::uint32_t client = no_client;
  std::uint64_t request_no = 0;
  std::uint32_t attempt_no = 0;
  bool final = true;          ///< the last attempt of its logical request
  /// The level the row asked for (the trace's `priority`), -1: none.
  std::int16_t priority = -1;
};

}  // namespace usher::policies

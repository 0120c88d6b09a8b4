#pragma once
/// What a gate sees of a request, and what a policy answers.
///
/// Names (accounts, keys, models, products, connections) are interned into
/// small integer ids by whoever reads them (the trace reader, the HTTP edge),
/// so policies compare integers only.

#include <cstdint>
#include <string_view>

#include "policies/time.hpp"

namespace usher::policies {

using id = std::uint32_t;
constexpr id no_id = static_cast<id>(-1);
/// No plug-in gate: the index of a refusal not made by one (a plan's gates are numbered in order).
constexpr std::uint16_t no_gate = 0xFFFF;

/// What a request does to the plan's gates (see docs/PLANS.md, "Kinds").
enum class kind : std::uint8_t {
  request,     ///< HTTP request or streamed response: holds pool units while it runs
  ws_open,     ///< opens a WebSocket connection: holds a connection slot
  ws_request,  ///< a request over an open connection: holds pool units, never queues
  ws_close,    ///< closes a connection early
  session,     ///< a new streaming session: counts against the session rate
};

/// Parses a trace's `kind` field; false for an unknown word.
[[nodiscard]] bool parse_kind(std::string_view text, kind& out);
std::string_view to_string(kind k);

/// Whether a request of kind `k` names a WebSocket connection (the trace's
/// `conn` column): ws_open, ws_request, ws_close.
constexpr bool on_connection(kind k) {
  return k == kind::ws_open || k == kind::ws_request || k == kind::ws_close;
}

/// One request as the policies see it. Cheap to copy.
struct request {
  std::uint64_t seq = 0;   ///< arrival order; ties at one instant go by seq
  id account = 0;          ///< interned account name
  id model = no_id;        ///< interned model, or no_id
  id product = no_id;      ///< interned product (exclusive family), or no_id
  std::uint32_t tokens = 0;  ///< input + output tokens, for a tokens-per-minute rate
  std::uint64_t conn = 0;  ///< interned connection (ws_* kinds)
  std::int64_t cost = -1;  ///< cost in pool units; -1: take it from the plan
  kind what = kind::request;
  /// The priority level the request asks for (a trace's `priority`, the
  /// admission's), or -1: its account's `priority`. The engine cuts it to
  /// the account's `priority.max` (docs/PLANS.md, "Sharing a model's
  /// capacity") and keeps the level it waits at here in a waiter's copy.
  /// In what's padding, as `key` is.
  std::int16_t priority = -1;
  id key = no_id;          ///< interned API key of its account (a trace's `key`, the live
                           ///< node's matched key), or no_id: for per-key gates. Here, in
                           ///< what's padding, so that a request stays 48 bytes.
};
static_assert(sizeof(request) == 48, "a request is copied into every queue entry and lease");

/// The status a client sees. These are ordinary outcomes, not errors.
enum class status : std::uint16_t {
  ok = 200,
  bad_request = 400,  ///< ws_request / ws_close on a connection that is not open
  timeout = 408,      ///< waited max_wait in the queue
  rejected = 429,     ///< over a limit and no queue room
  client_closed = 499,///< the client gave up (its own timeout) and left
  failed = 500,       ///< admitted, then failed (trace `fail` = 1); freed its slot
  policy_close = 1008 ///< WebSocket close: too many new sessions
};

/// Why a request ended the way it did; one word, printed in outcomes.csv.
enum class reason : std::uint8_t {
  none,           ///< admitted and ran
  queue_full,     ///< 429: every slot busy and the queue at max_depth
  over_limit,     ///< 429: the account's pool has no room and there is no queue
  model_busy,     ///< 429: the model's provider-wide capacity is used up
  connection_cap, ///< 429: too many open WebSocket connections
  session_rate,   ///< 1008: new-session rate exhausted
  request_rate,   ///< 429: the account's requests per minute are used up
  token_rate,     ///< 429: the account's tokens per minute are used up
  queue_timeout,  ///< 408
  no_connection,  ///< 400: the named connection is not open
  failed,         ///< 500
  client_timeout, ///< 499: the client's own timeout cut the request
  recovering,     ///< 503: the live node recovers its leases after a restart (docs/SERVE.md)
  // A cluster's (docs/CLUSTER.md): live only, never in a simulation.
  not_owner,      ///< 503: the account's owner is moving to or from this node
  no_majority,    ///< 503: this node cannot reach a majority of its cluster
  owner_down,     ///< 503: the node that owns the account went down meanwhile
  gate,           ///< 429: a plug-in gate of the plan refused it (policies/gate.hpp)
};

std::string_view to_string(reason r);

}  // namespace usher::policies

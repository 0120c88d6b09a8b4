#pragma once
/// Every atom and message type the actors exchange, with the inspect()
/// overloads that let them cross a node boundary, and the one function that
/// registers them (call it on every actor_system_config: an unregistered type
/// is silently sent as an empty message between nodes).
///
/// Time fields are integer microseconds of trace (logical) time.

#include <caf/all.hpp>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "actors/clients/client_model.hpp"
#include "policies/plan.hpp"
#include "policies/records.hpp"
#include "policies/usage_meter.hpp"

// inspect() for policy records lives in their namespace, where CAF's
// argument-dependent lookup finds it.
namespace usher::policies {


template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, policies::request& x) {
  return f(caf::meta::type_name("request"), x.seq, x.account, x.model, x.product, x.tokens, x.conn,
           x.cost, x.what);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, policies::arrival& x) {
  return f(caf::meta::type_name("arrival"), x.req, x.at, x.duration, x.profile, x.fail, x.client,
           x.request_no, x.attempt_no, x.deadline);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, policies::outcome& x) {
  return f(caf::meta::type_name("outcome"), x.seq, x.at, x.start, x.end, x.wait, x.code, x.why,
           x.queued, x.account, x.model, x.cost, x.what, x.client, x.request_no, x.attempt_no,
           x.final);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, policies::interval_row& x) {
  return f(caf::meta::type_name("interval_row"), x.start, x.account, x.arrivals, x.admitted,
           x.queued, x.timeouts, x.rejected, x.closed, x.in_flight_max, x.in_flight_area,
           x.used_max, x.queue_max);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, policies::usage_totals& x) {
  return f(caf::meta::type_name("usage_totals"), x.requests, x.queued, x.by_status,
           x.waits, x.wait_sum, x.wait_max, x.queued_wait_sum, x.peak_in_flight,
           x.peak_used, x.peak_queue, x.in_flight_area, x.used_area, x.maxed_business, x.limit);
}

}  // namespace usher::policies

namespace usher::actors::clients {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, client_stats& x) {
  return f(caf::meta::type_name("client_stats"), x.behaviour, x.logical, x.succeeded, x.failed,
           x.attempts, x.client_wait, x.completed_at, x.turns);
}

}  // namespace usher::actors::clients

namespace usher::actors {

// -- atoms (at most 10 characters) --------------------------------------------

/// Sent by an actor to itself when its next deadline comes (clocked pacing).
using tick_atom = caf::atom_constant<caf::atom("tick")>;
/// Client -> account actor: no more arrivals; run everything left and report.
using finish_atom = caf::atom_constant<caf::atom("finish")>;
/// Driver -> client actor: start replaying.
using start_atom = caf::atom_constant<caf::atom("start")>;

// -- messages -----------------------------------------------------------------

/// Client -> account actor. Arrivals for the actor's accounts, sorted by
/// (at, seq), and the client's promise that no arrival before `horizon` is
/// still to come (every arrival at or after it comes in a later batch).
struct arrival_batch {
  std::vector<policies::arrival> rows;
  policies::usec horizon = 0;
};

/// Account actor -> client, once per arrival_batch (the acknowledgement) and
/// whenever a tick decides something. `through`: every time-series row of an
/// interval ending at or before it has been sent. `decided_before`: every
/// request arriving before it has had its outcome sent.
struct outcome_batch {
  std::uint32_t shard = 0;
  std::vector<policies::outcome> outcomes;
  std::vector<policies::interval_row> series;
  policies::usec through = 0;
  policies::usec decided_before = 0;
  bool acknowledges = false;  ///< answers one arrival_batch
};

/// Account actor -> client after finish_atom: per-account totals, by id.
struct final_report {
  std::uint32_t shard = 0;
  std::vector<std::pair<policies::id, policies::usage_totals>> accounts;
  std::vector<std::pair<std::uint32_t, clients::client_stats>> clients;
  std::vector<policies::outcome> outcomes;
  std::vector<policies::interval_row> series;
  policies::usec last_event = 0;
};

// -- roles ----------------------------------------------------------------------

/// Owns the policy state (pools, queues, gates) of a set of accounts.
using account_actor = caf::typed_actor<caf::reacts_to<arrival_batch>, caf::reacts_to<finish_atom>,
                                       caf::reacts_to<tick_atom>>;

/// Replays a trace into account actors and collects what they decide.
using client_actor = caf::typed_actor<caf::reacts_to<start_atom>, caf::reacts_to<tick_atom>,
                                      caf::reacts_to<outcome_batch>, caf::reacts_to<final_report>>;

// -- inspection (serialization and printing) ----------------------------------

// What a message from another process may hold is read without trusting it:
// CAF 0.17 has two traps there, each found by fuzz/cluster_messages.

/// A vector of bytes as CAF 0.17 writes one (its length, then the bytes),
/// read without trusting the length: CAF sizes such a vector from the length
/// a message claims before reading a byte of it, so one beat claiming 2^32
/// entries made a member allocate 4 GB (found by fuzz/cluster_messages). Read
/// a byte at a time, it stops with an error where the message ends.
struct wire_bytes {
  std::vector<std::uint8_t>& bytes;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wire_bytes& x) {
  if constexpr (Inspector::reads_state) {  // writing (or printing): as ever
    return f(x.bytes);
  } else {
    std::size_t n = 0;
    if (auto err = f.begin_sequence(n)) return err;
    std::vector<std::uint8_t> read;
    for (std::size_t i = 0; i < n; ++i) {
      std::uint8_t b = 0;
      if (auto err = f(b)) return err;
      read.push_back(b);
    }
    x.bytes = std::move(read);
    return f.end_sequence();
  }
}

/// A double on the wire, never infinite or NaN: CAF 0.17 packs an infinite
/// double in a loop that never ends and a NaN through an undefined cast, and
/// a message can decode to an infinite one (which the member would then hang
/// on when it sends it on, in a handoff, a copy or /metrics). Infinities go
/// as the largest finite double of their sign, NaN as 0, both ways.
struct wire_double {
  double& value;
};

inline double finite_or_bounded(double v) {
  if (std::isnan(v)) return 0;
  return std::clamp(v, -std::numeric_limits<double>::max(), std::numeric_limits<double>::max());
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wire_double& x) {
  if constexpr (Inspector::reads_state) {
    double v = finite_or_bounded(x.value);
    return f(v);
  } else {
    double v = 0;
    auto err = f(v);
    x.value = finite_or_bounded(v);
    return err;
  }
}

/// (name, value) pairs with their values as wire_double: the same bytes as
/// CAF writes a vector of pairs (its length, then each name and value).
struct wire_named_values {
  std::vector<std::pair<std::string, double>>& values;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wire_named_values& x) {
  if constexpr (Inspector::reads_state) {
    if constexpr (std::is_same_v<typename Inspector::result_type, void>) {
      return f(x.values);  // printing
    } else {
      auto n = x.values.size();
      if (auto err = f.begin_sequence(n)) return err;
      for (auto& [name, value] : x.values)
        if (auto err = f(name, wire_double{value})) return err;
      return f.end_sequence();
    }
  } else {
    std::size_t n = 0;
    if (auto err = f.begin_sequence(n)) return err;
    std::vector<std::pair<std::string, double>> read;
    for (std::size_t i = 0; i < n; ++i) {
      std::pair<std::string, double> one;
      if (auto err = f(one.first, wire_double{one.second})) return err;
      read.push_back(std::move(one));
    }
    x.values = std::move(read);
    return f.end_sequence();
  }
}


template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, arrival_batch& x) {
  return f(caf::meta::type_name("arrival_batch"), x.rows, x.horizon);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, outcome_batch& x) {
  return f(caf::meta::type_name("outcome_batch"), x.shard, x.outcomes, x.series, x.through,
           x.decided_before, x.acknowledges);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, final_report& x) {
  return f(caf::meta::type_name("final_report"), x.shard, x.accounts, x.clients, x.outcomes,
           x.series, x.last_event);
}

// == live node (issue #5) =====================================================
// Messages between the HTTP/WebSocket edge (actors/http/) and the admission
// actors (actors/admission_actor.hpp) of `usher serve`. Times here are
// wall-clock: integer microseconds since the node's epoch, or Unix epoch
// milliseconds where the seed's JSON wants them. Accounts travel by name, so
// these cross node boundaries unchanged (cluster issue). Codes are HTTP
// statuses (200, 202, 400, 404, 408, 429, 499, 503) or the WebSocket close
// code 1008.

/// Sent by an admission actor to itself when its next deadline comes.
using live_tick_atom = caf::atom_constant<caf::atom("live_tick")>;
/// Edge -> admission actor: report per-account metrics (answer: live_metrics).
using metrics_atom = caf::atom_constant<caf::atom("metrics")>;
/// Edge -> admission actor when the node drains (SIGTERM; docs/SERVE.md,
/// "Stopping and draining"). The first one gives up every queued request
/// (its waiter and every ticket poller get 503 with Retry-After) and from
/// then on new admissions get 503; releases and renewals work as before.
/// Idempotent. Answer (std::int64_t): the leases held now, WebSocket
/// connections included; the edge asks again until none is left.
using drain_atom = caf::atom_constant<caf::atom("drain")>;

/// One lease as it moves to another node when an account changes owner in
/// a cluster (docs/CLUSTER.md, "Handoff"): what the holder was granted and
/// how long it still runs unless renewed.
struct moved_lease {
  std::string account;
  std::string lease;
  std::string model;    ///< "" when none
  std::string product;  ///< "" when none
  std::int64_t cost = 0;
  std::int64_t ttl_left_us = 0;  ///< its TTL from the handoff on
  /// which of the account's keys it was granted to (its place among the
  /// account's key lines: the same on every member, whose configs match)
  policies::id key = policies::no_id;
  /// Held by a WebSocket connection (on the member whose edge has it): no
  /// TTL, it ends when the connection releases it or closes.
  bool held_by_connection = false;
  /// The connection's own slot (its ws_open lease), `conn` as `conn_instance`.
  bool holds_connection = false;
  std::uint64_t conn = 0;
  std::uint64_t conn_instance = 0;
};

/// Edge -> admission actor: admit one request of `account` (answer:
/// admit_reply). Held while the request waits in the queue, unless `async`.
struct admit_request {
  std::string account;
  policies::id key = policies::no_id;  ///< which of the account's keys it came with
  std::uint64_t request_id = 0;  ///< unique per node; names it in cancel_request
  std::string model;             ///< "" when none
  std::string product;           ///< "" when none (exclusive: one pool per product)
  std::int64_t cost = -1;        ///< -1: the plan's cost for the model
  std::uint32_t tokens = 0;      ///< input + output tokens, for a tokens-per-minute rate
  std::int16_t priority = -1;    ///< the level asked for; -1: the account's (policies::request)
  policies::kind what = policies::kind::request;  ///< request, session, ws_open, ws_request
  std::uint64_t conn = 0;        ///< ws_open / ws_request: the edge's connection id
  bool async = false;            ///< queued: answer 202 with a ticket at once
  /// The lease ends with a WebSocket, not a TTL; in a cluster it has a TTL
  /// too, which the edge renews while the socket is open (admit_reply's
  /// lease_ttl_ms says which).
  bool holder_is_connection = false;
};

/// Admission actor -> edge: how an admission (or a ticket) stands.
struct admit_reply {
  std::uint16_t code = 200;      ///< 200 admitted, 202 queued (ticket), 400, 404, 408, 429, 499, 503, 1008
                                 ///< (503 with reason recovering: the node recovers after a restart)
  policies::reason why = policies::reason::none;
  std::string gate;              ///< reason gate: the name of the plug-in gate that refused
  std::string lease;             ///< 200: the lease id
  std::string ticket;            ///< 202: the ticket id
  std::int64_t waited_us = 0;    ///< time spent queued
  std::int64_t retry_after_s = 0;  ///< 429, 503 recovering: seconds for Retry-After; 0: waiting would not help
  std::int64_t lease_ttl_ms = 0;   ///< 200: the lease's TTL (0: none, held by its connection)
  /// How long the admission actor held the request before answering (a
  /// queued admission, a ticket poll waiting for its decision): in a
  /// cluster, the member relaying a grant counts its TTL's age with it
  /// (docs/CLUSTER.md, "Requests: any member, one owner").
  std::int64_t held_us = 0;
  /// The account's concurrency limit and the units it has in use once this
  /// answer is decided (-1: not known); the gateway's x-ratelimit-* fields.
  std::int64_t limit = -1;
  std::int64_t in_use = -1;
  /// The account's limit learns per output token (adaptive.signal =
  /// per_token): its holder should say the answer's tokens at release. The
  /// gateway counts them only then (a pass over every byte it relays).
  bool count_tokens = false;
  /// The account's rates (docs/PLANS.md, "Rate limits") once this answer is
  /// decided: per minute, whole units left, microseconds until the bucket is
  /// full again; limit -1 when the plan has no such rate.
  struct rate_fields {
    std::int64_t limit = -1, remaining = 0, reset_us = 0;
  };
  rate_fields requests, tokens;
  /// A grant of a cluster member with replicas = 1: the lease as its backup
  /// must copy it before the client may hear of it (docs/CLUSTER.md,
  /// "Replicas"); said only between the admission actor and its cluster
  /// actor, which clears it.
  std::vector<moved_lease> replica;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, admit_reply::rate_fields& x) {
  return f(caf::meta::type_name("rate_fields"), x.limit, x.remaining, x.reset_us);
}

/// Edge -> admission actor, no answer: the client of `request_id` left while
/// its request was queued; the waiter leaves the queue (its promise gets 499).
/// serve -> admission actor: the config was reloaded (SIGHUP): the plan of
/// its accounts and its accounts as configured now (live_ledger::reload).
/// Local only: a plan is shared by pointer, never serialised.
struct plan_update {
  std::shared_ptr<const policies::plan> plan;
  std::vector<std::string> accounts;
};

struct cancel_request {
  std::string account;
  std::uint64_t request_id = 0;
};

enum class lease_op : std::uint8_t { release, renew };

/// Edge -> admission actor: release or renew a lease (answer: lease_reply).
/// While the node recovers after a restart (docs/SERVE.md, "Restarts and
/// recovery"), a renewal of a lease it does not know adopts it, charged as
/// `model`, `product` and `cost` say (what the holder was granted), and a
/// release of one it does not know is 200.
struct lease_request {
  lease_request() = default;
  lease_request(std::string account_, std::string lease_, lease_op op_)
      : account(std::move(account_)), lease(std::move(lease_)), op(op_) {}

  std::string account;
  std::string lease;
  lease_op op = lease_op::release;
  std::string model;       ///< renew, adopted: "" when none
  std::string product;     ///< renew, adopted: "" when none
  std::int64_t cost = -1;  ///< renew, adopted: -1: the plan's cost for the model
  /// renew, adopted: which of the account's keys renews it (a per-key gate
  /// counts an adopted lease against that key)
  policies::id key = policies::no_id;
  /// renew, adopted: a lease a WebSocket connection holds (its TTL is a
  /// cluster member's: docs/CLUSTER.md), so a member recovering after a
  /// takeover adopts it as it was: `conn` the edge's connection id, and
  /// `holds_connection` for the connection's own slot (its ws_open lease).
  std::uint64_t conn = 0;
  bool holds_connection = false;
  /// release: the tokens of the answer the lease served, as its holder
  /// counted them (0: not known), a per-token adaptive limit's sample
  /// (docs/PLANS.md, "Adaptive limits").
  std::uint32_t output_tokens = 0;
};

struct lease_reply {
  std::uint16_t code = 200;   ///< 200; 404 when the account holds no such lease (or
                              ///< cannot adopt it); 400 when adopting it would pass
                              ///< the account's max_names_per_account
  std::int64_t ttl_ms = 0;    ///< renew: the lease's TTL from now
  /// 503 (a cluster's: docs/CLUSTER.md): why the owner could not answer.
  policies::reason why = policies::reason::none;
  /// A renewal of a cluster member with replicas = 1: the lease as its
  /// backup must copy it (admit_reply::replica); a release: its name alone.
  std::vector<moved_lease> replica;
};


/// A rate bucket pair of a moved account: its own (model "") or a model's.
/// `at_us` counts from the handoff, as every time of a moved_account does.
struct moved_bucket {
  std::string model;
  std::int64_t requests = 0;  ///< bucket levels, scaled (policies/rate_limit_gate.hpp)
  std::int64_t tokens = 0;
  std::int64_t at_us = 0;     ///< last refilled, before the handoff (<= 0)
};

/// A plug-in gate's state of a moved account (policies/gate.hpp, save).
struct moved_gate_state {
  std::string gate;
  std::string bytes;
};

/// The state of an account beyond its leases as it moves with a handoff
/// (docs/CLUSTER.md, "Handoff"). Its times count from the instant of the
/// handoff, so the members' clocks (each counts from its own start) need not
/// agree; the time the message travels is lost, which only makes a bucket
/// refill and a window turn later: never more admitted than on one node.
struct moved_account {
  std::string account;
  std::vector<moved_bucket> buckets;
  bool has_sessions = false;
  std::int64_t sessions_cap = 0;
  std::int64_t sessions_opened = 0;
  std::int64_t sessions_window_end_us = 0;
  std::vector<moved_gate_state> gates;
  double mean_hold_us = 0;    ///< behind Retry-After
  double adaptive_limit = 0;  ///< as learned; 0: a fixed limit
};

/// What a handoff carries of a group: the leases held and the accounts'
/// state beyond them.
struct handed_over {
  std::vector<moved_lease> leases;
  std::vector<moved_account> accounts;
};

/// Edge -> admission actor: how a ticket stands (answer: admit_reply, held
/// until the ticket is decided; 404 when the account has no such ticket).
struct ticket_poll {
  std::string account;
  std::string ticket;
};

/// Edge -> admission actor: the client no longer wants a ticket (DELETE
/// /v1/tickets/{id}). A request still queued leaves the queue (pollers get
/// 499); a lease granted to it and not yet used is released; the ticket is
/// forgotten. Answer: lease_reply, 200, or 404 for an unknown ticket.
struct ticket_cancel {
  std::string account;
  std::string ticket;
};

/// Edge -> admission actor: one account's live usage (answer: concurrency_snapshot).
struct usage_query {
  std::string account;
};

/// One in-flight request, as the weighted seed's `requests[]` shows it.
struct in_flight_request {
  std::string id;
  std::int64_t cost = 0;
  std::string model;
  std::int64_t started_at_ms = 0;  ///< Unix epoch milliseconds
  std::int64_t duration_ms = 0;
};

/// One account's usage now (the seed's payload plus what /metrics needs).
struct concurrency_snapshot {
  std::int64_t limit = -1;     ///< -1: unlimited (JSON null)
  std::int64_t used_cost = 0;
  std::int64_t queued = 0;
  std::int64_t connections = 0;
  std::vector<in_flight_request> requests;
};

/// Per-account counters of one admission actor, for GET /metrics.
struct account_metrics {
  std::string account;
  std::int64_t in_flight = 0;
  std::int64_t used = 0;
  std::int64_t limit = -1;
  std::int64_t queued = 0;
  std::int64_t connections = 0;
  std::vector<std::pair<std::uint16_t, std::int64_t>> outcomes;  ///< code -> count
  std::int64_t enqueued = 0;        ///< requests that waited (202 first)
  std::int64_t leases_expired = 0;  ///< released by the node (TTL)
  std::int64_t adopted = 0;         ///< leases adopted while recovering after a restart
  std::int64_t adopted_over_limit = 0;  ///< of those, adopted over a pool's capacity
  std::int64_t names = 0;           ///< distinct model/product names in use now
  std::vector<std::int64_t> wait_buckets;  ///< counts per live_wait_bounds_us entry, then +Inf
  std::int64_t wait_sum_us = 0;
  std::int64_t wait_count = 0;
  /// What the plan's plug-in gates report: ("GATE.NAME", value) (policies/gate.hpp).
  std::vector<std::pair<std::string, double>> gates;
};

/// Upper bounds (microseconds) of the queue-wait histogram in /metrics.
inline const std::vector<std::int64_t>& live_wait_bounds_us() {
  static const std::vector<std::int64_t> b = {1000,    5000,    25000,    100000,   250000,
                                              500000,  1000000, 2500000,  5000000,  10000000,
                                              30000000, 60000000};
  return b;
}

struct live_metrics {
  std::vector<account_metrics> accounts;
  /// metrics_query in a cluster: why the account's owner could not answer
  /// (no_majority, owner_down, not_owner), answered 503 as an admission is;
  /// none when it did.
  policies::reason unavailable = policies::reason::none;
};

/// Edge -> admission actor (in a cluster: -> cluster actor -> the owner's):
/// one account's counters, for GET /account/metrics. Answer: live_metrics
/// with that account, or none when the actor does not have it.
struct metrics_query {
  std::string account;
};

// -- A cluster's control of its admission actors (docs/CLUSTER.md) -----------

/// Cluster actor -> admission actor: give up the accounts (the node was
/// voted out: what it held may be granted elsewhere now). Waiters get 503.
using resign_atom = caf::atom_constant<caf::atom("resign")>;
/// Cluster actor -> admission actor: the accounts move to another node
/// (answer: handed_over, what to send it; waiters 503).
using hand_off_atom = caf::atom_constant<caf::atom("hand_off")>;
/// Cluster actor -> admission actor, replicas = 1: a copy of every lease
/// held now, the actor unchanged (answer: std::vector<moved_lease>), for
/// the backup's first copy of the group (docs/CLUSTER.md, "Replicas").
using replica_atom = caf::atom_constant<caf::atom("replica")>;
/// Cluster actor -> admission actor, replicas = 1: each account's state
/// beyond its leases now (live_ledger::accounts_now), the actor unchanged
/// (answer: std::vector<moved_account>): the image the backup keeps, sent
/// each heartbeat, so that a takeover from the copy keeps buckets, session
/// windows, gates' state and adaptive limits (docs/CLUSTER.md, "Replicas").
using account_images_atom = caf::atom_constant<caf::atom("rep_image")>;

/// Cluster actor -> admission actor: grant for the accounts from now on, as
/// the node at `generation` (while its grant window is open). With
/// `recover_until` > 0 the node recovers until then (a takeover whose
/// leases are unknown); `moved` comes from a handoff.
struct group_activate {
  std::uint64_t generation = 0;
  std::int64_t recover_until = 0;
  handed_over moved;
};

/// Owns the live policy state (one policies::engine) of a set of accounts.
using admission_actor = caf::typed_actor<
    caf::replies_to<admit_request>::with<admit_reply>, caf::reacts_to<cancel_request>,
    caf::replies_to<lease_request>::with<lease_reply>,
    caf::replies_to<ticket_poll>::with<admit_reply>,
    caf::replies_to<ticket_cancel>::with<lease_reply>,
    caf::replies_to<usage_query>::with<concurrency_snapshot>,
    caf::replies_to<metrics_atom>::with<live_metrics>,
    caf::replies_to<metrics_query>::with<live_metrics>, caf::reacts_to<live_tick_atom>,
    caf::replies_to<drain_atom>::with<std::int64_t>, caf::reacts_to<plan_update>,
    caf::reacts_to<resign_atom>, caf::replies_to<hand_off_atom>::with<handed_over>,
    caf::replies_to<replica_atom>::with<std::vector<moved_lease>>,
    caf::replies_to<account_images_atom>::with<std::vector<moved_account>>, caf::reacts_to<group_activate>>;

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, admit_request& x) {
  return f(caf::meta::type_name("admit_request"), x.account, x.key, x.request_id, x.model, x.product,
           x.cost, x.tokens, x.priority, x.what, x.conn, x.async, x.holder_is_connection);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, admit_reply& x) {
  return f(caf::meta::type_name("admit_reply"), x.code, x.why, x.gate, x.lease, x.ticket, x.waited_us,
           x.retry_after_s, x.lease_ttl_ms, x.held_us, x.limit, x.in_use, x.count_tokens, x.requests,
           x.tokens, x.replica);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cancel_request& x) {
  return f(caf::meta::type_name("cancel_request"), x.account, x.request_id);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, lease_request& x) {
  return f(caf::meta::type_name("lease_request"), x.account, x.lease, x.op, x.model, x.product,
           x.cost, x.key, x.conn, x.holds_connection, x.output_tokens);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, lease_reply& x) {
  return f(caf::meta::type_name("lease_reply"), x.code, x.ttl_ms, x.why, x.replica);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, moved_lease& x) {
  return f(caf::meta::type_name("moved_lease"), x.account, x.lease, x.model, x.product, x.cost,
           x.ttl_left_us, x.key, x.held_by_connection, x.holds_connection, x.conn, x.conn_instance);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, moved_bucket& x) {
  return f(caf::meta::type_name("moved_bucket"), x.model, x.requests, x.tokens, x.at_us);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, moved_gate_state& x) {
  return f(caf::meta::type_name("moved_gate_state"), x.gate, x.bytes);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, moved_account& x) {
  return f(caf::meta::type_name("moved_account"), x.account, x.buckets, x.has_sessions, x.sessions_cap,
           x.sessions_opened, x.sessions_window_end_us, x.gates, wire_double{x.mean_hold_us},
           wire_double{x.adaptive_limit});
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, handed_over& x) {
  return f(caf::meta::type_name("handed_over"), x.leases, x.accounts);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, group_activate& x) {
  return f(caf::meta::type_name("group_activate"), x.generation, x.recover_until, x.moved);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ticket_poll& x) {
  return f(caf::meta::type_name("ticket_poll"), x.account, x.ticket);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ticket_cancel& x) {
  return f(caf::meta::type_name("ticket_cancel"), x.account, x.ticket);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, usage_query& x) {
  return f(caf::meta::type_name("usage_query"), x.account);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, in_flight_request& x) {
  return f(caf::meta::type_name("in_flight_request"), x.id, x.cost, x.model, x.started_at_ms,
           x.duration_ms);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, concurrency_snapshot& x) {
  return f(caf::meta::type_name("concurrency_snapshot"), x.limit, x.used_cost, x.queued,
           x.connections, x.requests);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, account_metrics& x) {
  return f(caf::meta::type_name("account_metrics"), x.account, x.in_flight, x.used, x.limit,
           x.queued, x.connections, x.outcomes, x.enqueued, x.leases_expired, x.adopted,
           x.adopted_over_limit, x.names, x.wait_buckets, x.wait_sum_us, x.wait_count,
           wire_named_values{x.gates});
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, live_metrics& x) {
  return f(caf::meta::type_name("live_metrics"), x.accounts, x.unavailable);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, metrics_query& x) {
  return f(caf::meta::type_name("metrics_query"), x.account);
}

// == end of live node (issue #5) ==============================================

/// Registers every message type above with `cfg`.
void add_message_types(caf::actor_system_config& cfg);

}  // namespace usher::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(usher::actors::plan_update)

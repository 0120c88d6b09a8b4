#pragma once
/// Every atom and message type the actors exchange, with the inspect()
/// overloads that let them cross a node boundary, and the one function that
/// registers them (call it on every actor_system_config: an unregistered type
/// is silently sent as an empty message between nodes).
///
/// Time fields are integer microseconds of trace (logical) time.

#include <caf/all.hpp>
#include <cstdint>
#include <vector>

#include "actors/clients/client_model.hpp"
#include "policies/records.hpp"
#include "policies/usage_meter.hpp"

// inspect() for policy records lives in their namespace, where CAF's
// argument-dependent lookup finds it.
namespace usher::policies {


template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, policies::request& x) {
  return f(caf::meta::type_name("request"), x.seq, x.account, x.model, x.product, x.conn, x.cost,
           x.what);
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

/// Registers every message type above with `cfg`.
void add_message_types(caf::actor_system_config& cfg);

}  // namespace usher::actors

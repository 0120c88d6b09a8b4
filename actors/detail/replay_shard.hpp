#pragma once
/// The simulator's driver of one account actor: a policies::ledger for its
/// accounts (the per-instant loop the live node runs too), fed from the
/// trace rows the client has handed over and from the client models
/// (retrying SDKs, conversations, batch jobs) of the generated accounts it
/// owns. Each admitted request's lease ends after its duration; the ledger's
/// events become outcomes and usage meters. Plain C++ (no CAF), so it is
/// unit-tested alone and the actor around it only turns messages into calls.
///
/// With a backend model (policies/backend_model.hpp) a request of a modelled
/// model holds its lease until its server is done with it (or its client's
/// deadline cuts it), and its outcome is decided then, not at its start.
///
/// Events run in (time, class, sequence) order, classes as in
/// policies/time.hpp: releases (the backend's finished requests first, then
/// the ledger's lease ends), queue admissions, timeouts (the server's 408 and
/// the clients' own 499), then client wake-ups and arrivals.
/// run_until(limit) runs every event strictly before `limit`; the caller
/// guarantees that no trace row before `limit` is still to come (the client's
/// horizon), which is what lets a whole batch run in one call and still give
/// exactly the outcomes of one-event-at-a-time processing. Client models need
/// no horizon: they live here, so their replies cost no message.
///
/// Not thread-safe; owned by one actor.

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <queue>
#include <vector>

#include "actors/clients/client_model.hpp"
#include "policies/backend_model.hpp"
#include "policies/ledger.hpp"
#include "policies/records.hpp"
#include "policies/usage_meter.hpp"

namespace usher::actors {

/// A client model for one generated account, as the client actor hands it
/// to the account actor that owns the account.
struct generated_account {
  policies::id account = 0;
  std::uint16_t profile = 0;
  policies::id model = policies::no_id;  ///< spec.model interned
  std::uint32_t client = 0;  ///< its index in the workload (names the client)
  clients::client_spec spec;
  std::uint64_t seed = 0;    ///< the stream seed for this account's client
};

namespace detail {

using policies::arrival;
using policies::outcome;

class replay_shard {
 public:
  /// `interval` is the time-series step.
  replay_shard(std::shared_ptr<const policies::plan> p, policies::usec interval);

  /// Starts client models for generated accounts this shard owns.
  void add_clients(const std::vector<generated_account>& accounts);

  /// Hands over trace rows. REQUIRES: sorted by (at, seq), none earlier than
  /// a row handed over before.
  void add(const std::vector<arrival>& batch);

  /// Runs every event strictly before `limit`.
  void run_until(policies::usec limit);

  /// The time of the earliest event still to run, or policies::never.
  policies::usec next_event_time();

  /// Outcomes decided and interval rows closed since the last take.
  std::vector<outcome> take_outcomes();
  std::vector<policies::interval_row> take_series();

  /// Runs everything left and closes every meter at the last event's time.
  void finish();

  /// Per-account totals, after finish(): (account id, totals), by id.
  std::vector<std::pair<policies::id, policies::usage_totals>> totals() const;
  /// Per-client statistics, after finish(): (client index, stats).
  std::vector<std::pair<std::uint32_t, clients::client_stats>> client_totals() const;

  /// The time of the last event run.
  policies::usec last_event() const { return last_event_; }

  /// Every time-series row of an interval that ends at or before this time
  /// has been emitted: later rows are for later intervals only.
  policies::usec series_complete_to() const { return swept_to_; }

  /// Every request arriving before this time has its outcome decided (and
  /// taken or in take_outcomes()).
  policies::usec decided_before() const;

 private:
  struct timed {  // a client wake-up
    policies::usec at;
    std::uint64_t key;  ///< client index
    std::uint64_t seq;
    bool operator>(const timed& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };
  struct arrival_order {
    bool operator()(const arrival& a, const arrival& b) const {
      return a.at != b.at ? a.at > b.at : a.req.seq > b.req.seq;
    }
  };
  /// A request running on the backend model, its outcome not yet decided.
  struct running {
    arrival a;
    policies::ledger::handle lease = policies::ledger::no_handle;
    policies::usec start = 0;
    std::int64_t cost = 0;
    bool queued = false;
    bool holds = false;  ///< in use (its tag is taken)
    std::uint64_t ticket = 0;  ///< its place among the undecided
  };
  struct queued_row {
    arrival a;
    std::uint64_t ticket = 0;  ///< its place among the undecided
  };
  struct cut {  // a running request's client deadline
    policies::usec at;
    std::uint64_t tag;
    std::uint64_t seq;
    bool operator>(const cut& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };
  struct hosted_client {
    std::unique_ptr<clients::client_model> model;
    policies::id account;
    std::uint16_t profile;
    std::uint32_t index;
    policies::id model_id;
    std::uint64_t next_seq = 0;
  };

  void run_events(policies::usec limit);
  policies::usage_meter& meter(policies::id account, std::uint16_t profile);
  void arrive(const arrival& a, policies::usec now);
  void start(const arrival& a, policies::usec now, bool was_queued,
             const policies::ledger::lease_record& held);
  void on_events(policies::usec now);
  /// Whether `a` runs on the backend model (its duration then follows from the load).
  bool on_backend(const arrival& a) const;
  /// `ticket`: its place among the undecided, when it has one (queued first).
  void start_on_backend(const arrival& a, policies::usec now, bool was_queued,
                        policies::ledger::handle lease, std::int64_t cost,
                        std::optional<std::uint64_t> ticket);
  /// Releases at `now` of requests on the backend model: done, or cut by their client.
  void end_backend(policies::usec now);
  void end_running(std::uint64_t tag, policies::usec now, bool done);
  policies::usec next_backend_event();
  /// The queued arrival `tag` left the queue: its place is freed. Its
  /// place among the undecided goes to `ticket` when given, else it is
  /// dropped (the request is decided).
  arrival unqueue(std::uint64_t tag, policies::usec now, std::uint64_t* ticket = nullptr);
  /// A request arriving now is undecided until drop_undecided(its ticket).
  std::uint64_t hold_undecided(policies::usec at);
  void drop_undecided(std::uint64_t ticket);
  /// `retry_after`: the Retry-After a 429 carries (as serve sends it), for
  /// the client that sent `a`.
  void decide(outcome o, const arrival& a, policies::usec now, policies::usec retry_after = 0);
  void note_queue(policies::id account, policies::usec now);
  void wake_clients(policies::usec now);
  void arm_client(std::uint32_t local);

  std::shared_ptr<const policies::plan> plan_;
  policies::ledger ledger_;
  policies::usec interval_;
  std::deque<arrival> arrivals_;  ///< trace rows, in order
  std::priority_queue<arrival, std::vector<arrival>, arrival_order> generated_;
  std::vector<hosted_client> clients_;
  std::priority_queue<timed, std::vector<timed>, std::greater<>> wakeups_;
  std::optional<policies::backend_model> backend_;
  std::vector<running> running_;               ///< requests on the backend, by tag
  std::vector<std::uint64_t> free_running_;
  std::priority_queue<cut, std::vector<cut>, std::greater<>> cuts_;  ///< stale entries skipped
  std::vector<std::uint64_t> backend_done_;    ///< scratch
  std::vector<std::optional<queued_row>> waiting_;  ///< queued requests by tag
  std::vector<std::uint64_t> free_tags_;
  /// Arrival times of requests not yet decided (queued, or running on the
  /// backend), each with whether it still is. Requests become undecided as
  /// they arrive, in time order, so the earliest is the first still
  /// undecided: O(1) per request, where an ordered set cost a tree update.
  std::deque<std::pair<policies::usec, bool>> undecided_;
  std::uint64_t undecided_base_ = 0;  ///< the ticket of undecided_.front()
  std::vector<std::optional<policies::usage_meter>> meters_;  ///< by account id
  std::vector<outcome> outcomes_;
  std::vector<policies::interval_row> series_;
  std::vector<policies::ledger::event> events_;        ///< scratch
  std::vector<clients::attempt> sent_;                 ///< scratch
  policies::usec last_event_ = 0;
  policies::usec swept_to_ = 0;
  policies::usec limit_reached_ = 0;
};

}  // namespace detail
}  // namespace usher::actors

#pragma once
/// The live node's driver of one admission actor, in plain C++ (no CAF, no
/// clock): a policies::ledger for its accounts (the per-instant loop the
/// simulator runs too: a lease here is a lease there, whose end is its TTL,
/// renewed by the holder) plus what only the live node has: names on the
/// wire (leases named by random UUIDs, model and product names lent to ids),
/// the sync waiters and tickets of queued requests, the recovery window, and
/// the counters /metrics reports. The actor around it only turns messages
/// into these calls and held promises into answers, so this is tested alone
/// with a fake `now`.
///
/// Time: integer microseconds since the node's epoch, never decreasing
/// between calls. advance(now) runs the ledger's loop: releases of leases
/// whose TTL ran out, queue admissions, queue timeouts (408), admissions
/// again; callers call it before anything else at `now`, which keeps the
/// same-instant order of policies/time.hpp (releases, admissions, timeouts,
/// arrivals). A release runs the queue admissions it allows at once and
/// leaves the timeouts of its instant to the next advance() (another release
/// may come at that same instant); a cancel or a ticket given up runs the
/// whole loop again. Two releases at one instant are thus served one after
/// the other, where the simulator frees both before it serves the queue;
/// with one cost per account and no shared model capacity this gives the
/// same admissions (docs/ARCHITECTURE.md, "One state machine, two drivers").
///
/// Answers to held requests (sync waiters under their request id, ticket
/// pollers under the caller's poll tag) are appended to an `out` vector; each
/// held tag is answered exactly once. Not thread-safe; owned by one actor.
///
/// Names: model and product names come from the network, so the ids the
/// engine knows them by are lent, not kept. A name is held by an account
/// while one of its leases or queued requests uses it; an account holds at
/// most `max_names_per_account` distinct names at once (a request with one
/// more is answered 400, too_many_names, for that account only), and a name
/// no account holds is forgotten and its id reused. Models the plan names
/// keep their ids for good and are not counted. A reused id starts at zero
/// use in every pool: no lease or waiter of any account still has it. Memory
/// for names is thus bounded by the names in use, whatever clients send.
///
/// Recovery (docs/SERVE.md, "Restarts and recovery"; the same rule a cluster
/// applies when a replica is lost): after recover_until(t), until t nothing
/// new is granted (admissions, queue places, tickets, WebSocket opens: 503,
/// reason recovering, Retry-After the seconds left), a renewal of a lease the
/// ledger does not know adopts it (charged even over a pool's capacity, see
/// policies::engine::adopt) and a release of one it does not know is 200.

#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "actors/messages.hpp"
#include "policies/ledger.hpp"

namespace usher::actors::detail {

class live_ledger {
 public:
  /// A held request answered now: `tag` is the waiter's request id or the
  /// poller's poll tag.
  struct answer {
    std::uint64_t tag = 0;
    admit_reply reply;
  };

  /// REQUIRES: `accounts` are distinct; lease_ttl > 0; max_names_per_account > 0.
  live_ledger(std::shared_ptr<const policies::plan> p, const std::vector<std::string>& accounts,
              policies::usec lease_ttl, std::int64_t epoch_unix_ms,
              std::size_t max_names_per_account, std::uint64_t seed);

  /// A new config (SIGHUP; docs/SERVE.md, "Reloading"): the plan of this
  /// actor's accounts, and `accounts` as configured now. Every lease,
  /// waiter, ticket and session window is kept; new accounts are added;
  /// accounts no longer configured keep what they hold (their keys are gone
  /// at the edge, so nothing new arrives for them). Waiters the new plan
  /// lets in are answered into `out`.
  void reload(std::shared_ptr<const policies::plan> p, const std::vector<std::string>& accounts,
              policies::usec now, std::vector<answer>& out);

  /// Recovers until `until` (see above); call before anything else. No
  /// effect when `until` <= 0.
  void recover_until(policies::usec until) { recovering_until_ = until; }

  /// A cluster member's leases held by WebSocket connections get a lease
  /// TTL too, renewed by the member whose edge has the socket: so they end
  /// if that member dies, and a member recovering after a takeover adopts
  /// them from the renewals (docs/CLUSTER.md). A node alone leaves them to
  /// the connection (its edge dies with it). Call before anything else.
  void expire_connection_leases(bool on) { connection_leases_expire_ = on; }
  [[nodiscard]] bool recovering(policies::usec now) const { return now < recovering_until_; }

  /// Releases expired leases, admits waiters that now fit, times out waiters.
  void advance(policies::usec now, std::vector<answer>& out);

  /// Decides `req`. Returns true with `reply` set when it is answered now;
  /// false when it waits (a sync waiter: answered later under
  /// req.request_id). Async requests that queue are answered now with 202
  /// and a ticket.
  [[nodiscard]] bool admit(const admit_request& req, policies::usec now, admit_reply& reply,
                           std::vector<answer>& out);

  /// The client of a queued sync request left: it leaves the queue and is
  /// answered 499. No effect when it is not waiting (admitted or decided).
  void cancel(const cancel_request& req, policies::usec now, std::vector<answer>& out);

  /// Releases or renews a lease of `req.account`; 404 when it holds none
  /// by that id (while recovering: a renewal adopts it, a release is 200).
  [[nodiscard]] lease_reply lease(const lease_request& req, policies::usec now,
                                  std::vector<answer>& out);

  /// The client gave up a ticket (ticket_cancel): a queued request leaves
  /// the queue and its pollers get 499; a granted lease is released; the
  /// ticket is forgotten. 404 for an unknown ticket.
  [[nodiscard]] lease_reply cancel_ticket(const ticket_cancel& req, policies::usec now,
                                          std::vector<answer>& out);

  /// Returns true with `reply` set when the ticket is decided (or unknown:
  /// 404); false when the poller is held under `poll_tag` until it is. A
  /// decided ticket's lease says the TTL it has left; once the lease has
  /// ended (released, expired) the ticket answers 410.
  [[nodiscard]] bool poll(const ticket_poll& req, std::uint64_t poll_tag, policies::usec now,
                          admit_reply& reply, std::vector<answer>& out);

  [[nodiscard]] concurrency_snapshot snapshot(const std::string& account,
                                              policies::usec now) const;
  /// Every account's counters (GET /metrics), or one account's (GET
  /// /account/metrics: none when this ledger does not have it).
  [[nodiscard]] live_metrics metrics() const;
  [[nodiscard]] live_metrics metrics(const std::string& account) const;

  /// The earliest time advance() has work: a queue timeout or a lease TTL.
  [[nodiscard]] policies::usec next_deadline();

  /// Answers every held request with 503 (the node stops).
  void drain(std::vector<answer>& out);

  /// The node drains (docs/SERVE.md, "Stopping and draining"): every queued
  /// request leaves its queue at once (none lets the next one in), sync
  /// waiters and ticket pollers get 503 with Retry-After 1, and a drained
  /// ticket stays decided as 503 for its pollers to come. From now on
  /// admissions get the same 503; releases, renewals and tickets already
  /// decided work as before, so holders can finish.
  void start_draining(policies::usec now, std::vector<answer>& out);
  [[nodiscard]] bool draining() const { return draining_; }

  // -- A cluster's (docs/CLUSTER.md) -----------------------------------------

  /// While `why` is not none, admissions, ticket polls still queued and
  /// renewals are answered 503 with it: this node does not own these
  /// accounts now, or cannot reach a majority. Releases still free. The
  /// requests queued here leave at once with the same 503 (Retry-After 1):
  /// none may be let in while grants are held, not even into a slot a
  /// release or an expiry frees, and the owner that takes the accounts
  /// over knows nothing of this node's queue.
  void hold_grants(policies::reason why, policies::usec now, std::vector<answer>& out);
  [[nodiscard]] policies::reason grants_held() const { return held_why_; }

  /// The accounts move to another node: every queued request leaves with
  /// 503 (reason not_owner, Retry-After 1), its tickets stay decided so; the
  /// leases held (a WebSocket connection's too) and each account's state
  /// beyond them (buckets, session window, plug-in gates' state, mean hold,
  /// adaptive limit, as they stood before the leases left) are returned,
  /// the leases forgotten here. Counters stay.
  [[nodiscard]] handed_over hand_off(policies::usec now, std::vector<answer>& out);

  /// Takes in what another node handed over: its leases under their names,
  /// each ending `ttl_left_us` from now unless renewed, then each account's
  /// state beyond them, in place of what this node had of it. What belongs
  /// to accounts or plan models not known here is dropped (the configs
  /// differ: the cluster refuses that).
  void take_in(const handed_over& moved, policies::usec now);

  /// Each account's state beyond its leases as hand_off() would move it
  /// (its times from `now`), the ledger unchanged: the image a cluster
  /// member sends its backup each heartbeat (replicas = 1). Accounts with
  /// nothing beyond their leases are left out.
  [[nodiscard]] std::vector<moved_account> accounts_now(policies::usec now) const;

  /// A copy of every lease held now, as hand_off() would move it (their
  /// TTLs left from `now`), the ledger unchanged: what a cluster member
  /// copies to its backup (replicas = 1, docs/CLUSTER.md).
  [[nodiscard]] std::vector<moved_lease> leases_now(policies::usec now) const;
  /// Appends the lease `lease` of `account` as hand_off() would move it;
  /// nothing when there is no such lease.
  void describe_lease(const std::string& account, const std::string& lease, policies::usec now,
                      std::vector<moved_lease>& out) const;

  /// Leases held now (WebSocket connections included), over all accounts.
  [[nodiscard]] std::size_t lease_count() const;

  /// Model and product names known now, the plan's models left out (tests).
  [[nodiscard]] std::size_t test_name_count() const;

 private:
  // Decided tickets' expiries, by time (lease TTLs are the ledger's).
  struct timed_key {
    policies::id account;
    std::string name;
  };
  using timer_map = std::multimap<policies::usec, timed_key>;

  struct held_lease {
    policies::ledger::handle handle = policies::ledger::no_handle;
    std::string model;
    policies::id model_id = policies::no_id;    ///< the names it holds
    policies::id product_id = policies::no_id;
  };
  struct ticket {
    std::uint64_t tag = 0;  ///< its waiter's request id
    bool decided = false;
    admit_reply result;
    std::vector<std::uint64_t> pollers;
    timer_map::iterator ttl;  ///< valid once decided: decided tickets are kept a TTL
  };
  struct account_state {
    std::string name;
    std::uint16_t profile = 0;
    std::unordered_map<std::string, held_lease> leases;
    std::unordered_map<std::string, ticket> tickets;
    std::map<std::uint16_t, std::int64_t> outcomes;  ///< code -> count
    std::int64_t enqueued = 0;
    std::int64_t expired = 0;
    std::vector<std::int64_t> wait_buckets;
    std::int64_t wait_sum = 0;
    std::int64_t wait_count = 0;
    /// Names this account holds (models, products): id -> its leases and
    /// waiters using it. The plan's models are not in it.
    std::unordered_map<policies::id, std::int64_t> uses[2];
    std::int64_t adopted = 0;
    std::int64_t adopted_over_limit = 0;
  };
  /// Appends `held` (named `name`, of `acc`) as it would move; false when
  /// the engine no longer has it.
  bool describe(const account_state& acc, const std::string& name, const held_lease& held,
                policies::usec now, std::vector<moved_lease>& out) const;
  /// The model (0) or product (1) names in use and their ids.
  struct name_table {
    std::unordered_map<std::string, policies::id> ids;
    std::vector<std::string> names;  ///< by id; "" when free
    std::vector<std::int64_t> uses;  ///< by id: over every account
    std::vector<policies::id> free;  ///< forgotten ids, reused last in, first out
    policies::id permanent = 0;      ///< ids below it: the plan's models, kept for good
  };
  struct waiter {
    policies::id account = 0;
    policies::usec arrival = 0;
    std::string model;
    policies::id model_id = policies::no_id;  ///< the names it holds
    policies::id product_id = policies::no_id;
    std::string ticket;  ///< "" for a sync waiter
    bool holder_is_connection = false;
    policies::ledger::handle place = policies::ledger::no_handle;  ///< in the ledger's queue
  };
  std::string new_id();
  /// One more use of name `s` in table k (0 models, 1 products) by account
  /// a: its id, or no_id when a holds max_names_per_account names already
  /// (unless `unbounded`: a name held before a reload).
  policies::id take_name(policies::id a, int k, const std::string& s, bool unbounded = false);
  void add_account(const std::string& name);
  /// Each account's plan profile, by id (ledger::export_accounts).
  std::vector<std::uint16_t> profiles() const;
  /// Empty name tables, with the plan's models at their ids.
  void reset_names();
  /// take_in of one lease.
  void take_in_lease(policies::id a, const moved_lease& m, policies::usec now);
  /// The TTL a lease granted now gets: none (`never`) for one a WebSocket
  /// holds, unless connection_leases_expire_.
  policies::usec hold_for(bool holder_is_connection) const;
  /// The id of a model the plan names (which alone have rates of their
  /// own), or no_id.
  policies::id plan_model(const std::string& name) const;
  /// Gives back one use of id x (no_id or a plan's model: nothing).
  void drop_name(policies::id a, int k, policies::id x);
  /// Runs the ledger's loop at `now` (without its timeouts: after a
  /// release, ledger::serve_released) and answers what it decided.
  void serve(policies::usec now, std::vector<answer>& out, bool timeouts = true);
  policies::ledger::terms terms_for(std::uint64_t request_id, bool holder_is_connection) const;
  /// Fills r.limit, r.in_use and the rate fields (the model's own rates
  /// where it has them) with account `a`'s as now.
  void report_usage(policies::id a, policies::id model, admit_reply& r) const;
  std::string grant(policies::id a, policies::ledger::handle h, const std::string& model,
                    policies::id model_id, policies::id product_id, std::string name = "");
  lease_reply adopt(policies::id a, const lease_request& req, policies::usec now);
  account_metrics metrics_of(policies::id a) const;
  /// Takes every waiter out of the queue, answering sync waiters and
  /// pollers `r`; tickets stay decided as `r` for a lease TTL.
  void evict_waiters(const admit_reply& r, policies::usec now, std::vector<answer>& out);
  /// `output_tokens`: the answer's, as its holder counted them (0: unknown).
  void release(policies::id a, const std::string& lease, policies::usec now,
               std::uint32_t output_tokens = 0);
  /// Forgets a lease the ledger no longer holds (released or expired).
  void forget_lease(policies::id a, const std::string& lease);
  void decided(policies::id a, std::uint64_t tag, const waiter& w, admit_reply reply,
               std::vector<answer>& out, policies::usec now);
  void count(account_state& acc, std::uint16_t code);
  void record_wait(account_state& acc, policies::usec wait);
  const account_state* find(const std::string& account, policies::id& a) const;
  /// The entry `name` in one of `account`'s tables (its leases or tickets),
  /// or nullptr when the account or the entry is unknown (both are 404).
  template <class T>
  T* find_entry(const std::string& account, const std::string& name,
                std::unordered_map<std::string, T> account_state::*table, policies::id& a) {
    if (!find(account, a)) return nullptr;
    auto& entries = accounts_[a].*table;
    auto i = entries.find(name);
    return i == entries.end() ? nullptr : &i->second;
  }

  std::shared_ptr<const policies::plan> plan_;
  policies::ledger ledger_;
  policies::usec lease_ttl_;
  std::int64_t epoch_unix_ms_;
  std::size_t max_names_;  ///< per account
  policies::usec recovering_until_ = 0;
  bool draining_ = false;
  bool connection_leases_expire_ = false;
  policies::reason held_why_ = policies::reason::none;
  std::mt19937_64 rng_;
  std::vector<account_state> accounts_;
  std::unordered_map<std::string, policies::id> account_ids_;
  name_table names_[2];
  std::unordered_map<std::uint64_t, waiter> waiters_;  ///< by request id (the ledger's tag)
  /// The name of each lease, by its ledger handle (to forget it when it expires).
  std::unordered_map<policies::ledger::handle, std::string> lease_names_;
  timer_map timers_;
  std::vector<policies::ledger::event> events_;  ///< scratch
};

}  // namespace usher::actors::detail

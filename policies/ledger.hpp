#pragma once
/// One account state machine for both clocks: the engine of a set of accounts
/// plus everything that drives it at one instant. The simulator's
/// replay_shard and the live node's live_ledger are drivers around it: the
/// first feeds it trace rows and turns its events into outcomes, the second
/// feeds it HTTP requests and turns its events into answers. Neither has a
/// loop of its own, so the live node runs the simulator's code line for line.
///
/// What it holds, per request:
///   - a lease for each admitted request: its units in the engine's pools,
///     when it started and when it ends. A lease ends when its holder
///     releases it, or at its end time: in a simulation the end of the
///     request's duration, live the end of its TTL (renew() moves it). Both
///     clocks end leases the same way, in advance().
///   - a waiter for each queued request, with the client's own deadline (it
///     leaves the queue then: 499) and how long its lease will last.
/// Each is named by a handle (slot and generation), so a stale handle finds
/// nothing, and by the caller's `tag`, echoed in every event.
///
/// Time: integer microseconds, never decreasing between calls; no clock.
/// advance(now) runs everything due at `now` in the order of
/// policies/time.hpp, repeating until nothing is due:
///   leases that end -> queue admissions -> queue timeouts (408) and clients'
///   deadlines (499) -> queue admissions ...
/// Callers call advance(now) before an arrival at `now` and after a release,
/// renew or cancel; arrivals at one instant go in sequence order.
///
/// What it does not hold: names (the live node lends model names; traces
/// intern them), counters and time series (a node's /metrics and a
/// simulation's meters are the driver's: they describe where a request was
/// seen, not the account). An account's whole state leaves and enters as an
/// account_image (export_account / import_account), which is what a cluster
/// copies to a backup and hands to a new owner.
///
/// Owned by one actor; not thread-safe.

#include <cstdint>
#include <memory>
#include <optional>
#include <queue>
#include <vector>

#include "policies/engine.hpp"

namespace usher::policies {

class ledger {
 public:
  /// A lease or a waiter: its slot in the low 32 bits, its generation above.
  using handle = std::uint64_t;
  static constexpr handle no_handle = ~handle{0};

  /// What a request asks besides its gates.
  struct terms {
    std::uint64_t tag = 0;     ///< the caller's name for the request, echoed in events
    usec hold = never;         ///< a grant lasts this long from its start; never: until released
    usec gives_up_at = never;  ///< the client's own deadline: it leaves the queue then,
                               ///< and a grant held past it ends then (cut short)
    /// The tokens its answer has, when known beforehand (a trace's
    /// output_tokens; 0: not known): a per-token adaptive limit's sample.
    std::uint32_t output_tokens = 0;
  };

  struct lease_record {
    request req;          ///< as it arrived, cost resolved
    std::uint16_t profile = 0;
    engine::lease units;  ///< what it holds in the engine
    std::uint64_t tag = 0;
    usec start = 0;
    usec ends = never;    ///< when it ends unless released first
    bool cut = false;     ///< ends at the client's deadline, before its hold ran out
    std::uint32_t output_tokens = 0;  ///< terms::output_tokens, or the holder's count at release
  };

  struct decision {
    engine::verdict what = engine::verdict::done;
    status code = status::ok;
    reason why = reason::none;
    std::uint16_t gate = no_gate;  ///< reason gate: which (engine::decision::gate)
    handle lease = no_handle;   ///< admitted: its lease
    handle waiter = no_handle;  ///< queued: its place
    std::int64_t retry_after_s = 0;  ///< refused (429, 1008): when to try again; 0: never fits
  };

  struct event {
    enum class kind : std::uint8_t {
      ended,      ///< a lease reached its end time (and was released)
      admitted,   ///< a waiter got in: `lease` is its new lease
      timed_out,  ///< a waiter reached the queue's max_wait (408)
      gave_up,    ///< a waiter reached its client's deadline (499)
    };
    kind what;
    std::uint64_t tag;
    request req;
    usec arrival = 0;  ///< waiter events: when it arrived
    handle lease = no_handle;
    lease_record held;  ///< ended, admitted: the lease (after `ended`, its handle is stale)
  };

  /// An account's whole state, to copy to another ledger (another node).
  /// Node-independent except for model and product ids, which the caller
  /// maps (the live node sends names).
  struct account_image {
    id account = 0;
    std::uint16_t profile = 0;
    struct held {
      request req;
      usec start = 0;
      usec ends = never;
      bool cut = false;
      std::uint64_t tag = 0;
      bool holds_connection = false;
      std::uint64_t conn_instance = 0;
    };
    struct waiting {
      request req;
      usec arrival = 0;
      terms with;
    };
    std::vector<held> leases;     ///< oldest first
    std::vector<waiting> queue;   ///< head first
    bool has_sessions = false;
    session_rate_gate::state sessions;
    bool has_rates = false;
    rate_limit_gate::state rates;
    /// Its buckets for models with their own rates: (model id, state).
    std::vector<std::pair<id, rate_limit_gate::state>> model_rates;
    /// Its plug-in gates' state beyond its leases: (gate name, bytes).
    std::vector<std::pair<std::string, std::string>> gate_states;
    double mean_hold_us = 0;
    double adaptive_limit = 0;  ///< as learned; 0: a fixed limit
  };

  /// `time_origin_unix_us` as for engine: the Unix time of now == 0 live.
  explicit ledger(std::shared_ptr<const plan> p, std::int64_t time_origin_unix_us = 0);

  /// Decides a request arriving at `now`. REQUIRES: advance(now) ran.
  [[nodiscard]] decision arrive(const request& r, std::uint16_t profile, usec now,
                                const terms& with);

  /// Runs everything due at or before `now` (see above), appending events.
  void advance(usec now, std::vector<event>& out);

  /// After releases at `now` that came one by one (the live node's DELETEs):
  /// serves the queue they unblock, but leaves the timeouts due at `now` to
  /// the next advance(now), so that every release of the instant comes
  /// before them, as in advance().
  void serve_released(usec now, std::vector<event>& out);

  /// The holder is done: frees the lease at once. The queue it unblocks is
  /// served by the next advance(now) or serve_released(now). False for a
  /// stale handle. `output_tokens`: the answer's tokens as the holder
  /// counted them (0: the terms' count, if any).
  bool release(handle lease, usec now, std::uint32_t output_tokens = 0);

  /// Moves a lease's end. False for a stale handle.
  bool renew(handle lease, usec ends);

  /// A waiter left (its client went away). Its place is freed at once; the
  /// heads behind it are served by the next advance(now). False when it is
  /// not waiting (admitted or decided already).
  bool cancel(handle waiter);

  /// Takes a lease that exists already without asking a gate (the live
  /// node's restart recovery, engine::adopt). Sets `lease` unless refused.
  engine::adoption adopt(const request& r, std::uint16_t profile, usec now, const terms& with,
                         handle& lease);

  /// The lease, or nullptr for a stale handle.
  [[nodiscard]] const lease_record* find(handle lease) const;
  /// The waiter's arrival, or nullopt when it is not waiting.
  [[nodiscard]] std::optional<usec> waiting_since(handle waiter) const;

  /// The earliest time advance() has work, or never.
  [[nodiscard]] usec next_deadline();

  /// Seconds until a refused request might fit: the session window's end
  /// (1008), the buckets' refill (request_rate, token_rate), the plan's retry_after, or an estimate from the queue and the
  /// mean hold time (429), 1..60. 0 for a request that can never fit.
  [[nodiscard]] std::int64_t retry_after_s(const request& r, std::uint16_t profile, reason why,
                                           usec now) const;

  [[nodiscard]] engine::usage usage_of(id account) const { return engine_.usage_of(account); }
  /// What the plan's plug-in gates report of `account` (engine::gate_report).
  void gate_report(id account, std::vector<std::pair<std::string, double>>& out) const {
    engine_.gate_report(account, out);
  }
  /// The account's rate buckets as they stand; false when its plan has no rate.
  bool rates_of(id account, rate_limit_gate::state& out) const { return engine_.rates_of(account, out); }
  const rate_limit_gate* model_rates(id account, id model) const { return engine_.model_rates(account, model); }
  std::int64_t limit_of(id account, std::uint16_t profile) const { return engine_.limit_of(account, profile); }
  [[nodiscard]] const plan& rules() const { return *plan_; }

  /// Copies out the state of `account` (of plan profile `profile`). The
  /// ledger keeps it.
  [[nodiscard]] account_image export_account(id account, std::uint16_t profile) const;
  /// The same, and the handles of its leases and waiters here, in the
  /// image's order (to match them with what import_account returns).
  [[nodiscard]] account_image export_account(id account, std::uint16_t profile,
                                             std::vector<handle>& leases,
                                             std::vector<handle>& waiters) const;
  /// Every account 0..profiles.size()-1 at once (account a of plan profile
  /// profiles[a]), in one pass over the leases where one export_account per
  /// account would pass over them all for each (a reload, a handoff of a
  /// group of many accounts). `leases[a]`, `waiters[a]`: as above.
  [[nodiscard]] std::vector<account_image> export_accounts(
      const std::vector<std::uint16_t>& profiles, std::vector<std::vector<handle>>& leases,
      std::vector<std::vector<handle>>& waiters) const;
  /// Takes in a copied account. Returns the handles of its leases and
  /// waiters, in the image's order. Its buckets, session window, plug-in
  /// gates' state, mean hold and adaptive limit (those it has) replace
  /// those here. REQUIRES:
  /// the image's ids mean what they mean here, and the account has no lease
  /// or waiter here, unless the image has none (a cluster's handoff adopts
  /// the leases first, then brings the rest).
  void import_account(const account_image& image, std::vector<handle>& leases,
                      std::vector<handle>& waiters);

  /// Leases held now (tests).
  [[nodiscard]] std::size_t lease_count() const { return leases_.size() - free_leases_.size(); }

 private:
  struct lease_slot {
    lease_record rec;
    std::uint32_t generation = 0;
    bool used = false;
  };
  using held_here = std::pair<account_image::held, handle>;
  /// The image of slot s's lease, with its handle.
  held_here held_at(std::uint32_t s) const;
  /// export_account once `held` has the account's leases (in any order).
  account_image image_of(id account, std::uint16_t profile, std::vector<held_here>& held,
                         std::vector<handle>& lease_handles, std::vector<handle>& waiter_handles) const;
  struct waiter_slot {
    request req;
    std::uint16_t profile = 0;
    usec arrival = 0;
    terms with;
    std::uint32_t generation = 0;
    bool used = false;
  };
  // Ties at one instant go by the request's sequence, which every copy of
  // an account shares (handles differ between ledgers).
  struct timer {
    usec at;
    std::uint64_t seq;
    handle who;
    bool operator>(const timer& o) const {
      return at != o.at ? at > o.at : seq != o.seq ? seq > o.seq : who > o.who;
    }
  };
  using timer_heap = std::priority_queue<timer, std::vector<timer>, std::greater<>>;
  struct per_account {
    double mean_hold_us = 0;  ///< moving mean of hold times, for Retry-After
  };

  handle grant(const request& r, std::uint16_t profile, const engine::lease& units,
               const terms& with, usec now);
  handle add_waiter(const request& r, std::uint16_t profile, usec arrival, const terms& with);
  void end_lease(std::uint32_t slot, usec now);
  void run(usec now, std::vector<event>& out, bool timeouts);
  void arm_give_up(handle w);
  waiter_slot take_waiter(handle w);
  lease_slot* lease_at(handle h);
  const lease_slot* lease_at(handle h) const;
  waiter_slot* waiter_at(handle h);
  usec next_lease_end();
  usec next_give_up();
  per_account& stats(id account);

  std::shared_ptr<const plan> plan_;
  engine engine_;
  std::vector<lease_slot> leases_;
  std::vector<std::uint32_t> free_leases_;
  std::vector<waiter_slot> waiters_;
  std::vector<std::uint32_t> free_waiters_;
  timer_heap ends_;      ///< lease ends; stale entries skipped
  timer_heap gives_up_;  ///< clients' deadlines of waiters; stale entries skipped
  std::vector<per_account> accounts_;
  std::vector<engine::admission> admitted_;  ///< scratch
  std::vector<engine::timeout> timed_out_;   ///< scratch
};

}  // namespace usher::policies

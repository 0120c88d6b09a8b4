#pragma once
/// The admission engine: the policy state of a set of accounts and the gates
/// they share, and the one place that decides. Both clocks drive it: the
/// simulator from a trace, the live node from HTTP requests.
///
/// A request is admitted only when every gate that applies to it admits it,
/// and it is then charged in all of them at once; a refused request leaves no
/// trace in any gate. Gates, in the order their refusal is reported:
///   session rate (1008) -> connection cap (429) -> requests and tokens per
///   minute (429 request_rate, token_rate) -> account pool (429)
///   -> model capacity shared by all accounts (429 model_busy)
///   -> the plan's plug-in gates, in plan order (429 gate; policies/gate.hpp)
///   -> queue.
/// Plug-in gates of phase on_arrival are asked with the rates (a refusal is
/// final), those of phase while_running with the pools (a refusal may wait).
/// Which gates apply depends on the request's kind (docs/PLANS.md, "Kinds").
///
/// Time: every call takes `now` in integer microseconds, never decreasing
/// between calls. Callers keep the same-instant order: at one instant call
/// release() for every release, then admit_waiting(), then expire(), then
/// arrive() for each arrival in sequence order.
///
/// Owned by one actor; not thread-safe. Accounts appear on first use.

#include <cstdint>
#include <memory>
#include <deque>
#include <optional>
#include <queue>
#include <vector>

#include "policies/connection_cap.hpp"
#include "policies/plan.hpp"
#include "policies/pool_gate.hpp"
#include "policies/queue_gate.hpp"
#include "policies/rate_limit_gate.hpp"
#include "policies/request.hpp"
#include "policies/session_rate_gate.hpp"

namespace usher::policies {

class engine {
 public:
  /// What an admitted request holds. Hand it back to release() exactly once.
  struct lease {
    id account = 0;
    std::int32_t pool = -1;         ///< account pool index, -1 when none charged
    std::int32_t shared = -1;       ///< model capacity pool index, -1 when none
    std::int64_t cost = 0;          ///< units charged in each pool
    std::uint64_t conn = 0;         ///< connection held (ws_open), with its instance
    std::uint64_t conn_instance = 0;
    bool holds_connection = false;
    std::uint32_t gate_slot = 0;    ///< its request in the engine, when the plan has while_running gates
  };

  enum class verdict : std::uint8_t {
    admitted,  ///< runs now; `held` says what to release
    queued,    ///< waits; admit_waiting() or expire() will report it by tag
    done,      ///< ended at once: refused, or a ws_close
  };

  struct decision {
    verdict what = verdict::done;
    policies::status code = policies::status::ok;
    policies::reason why = policies::reason::none;
    /// Reason gate: the plug-in gate that refused, its index in
    /// plan::gates(); no_gate otherwise.
    std::uint16_t gate = no_gate;
    lease held;
  };

  /// A waiter that admit_waiting() let in.
  struct admission {
    std::uint64_t tag;
    request req;
    usec arrival;
    lease held;
  };

  /// A waiter that expire() timed out (408).
  struct timeout {
    std::uint64_t tag;
    request req;
    usec arrival;
  };

  /// What one account holds right now.
  struct usage {
    std::int64_t in_flight = 0;   ///< admitted requests holding pool units
    std::int64_t used = 0;        ///< units they hold in the account's pools
    std::int64_t queued = 0;
    std::int64_t connections = 0; ///< open WebSocket connections
    std::int64_t limit = -1;      ///< the pool capacity (an adaptive limit: as it is now), -1 unlimited
  };

  /// `time_origin_unix_us`: the Unix time of now == 0 when it is a real
  /// clock (a live node), 0 in a simulation (gate::set_time_origin).
  explicit engine(std::shared_ptr<const plan> p, std::int64_t time_origin_unix_us = 0);

  /// Decides an arriving request. `profile` comes from plan::profile_of and
  /// `r.cost` must already be resolved (plan::cost_of). `tag` is the caller's
  /// handle for the request should it queue.
  [[nodiscard]] decision arrive(const request& r, std::uint16_t profile, usec now,
                                std::uint64_t tag);

  /// How adopt() took a lease that exists already.
  enum class adoption : std::uint8_t {
    fits,        ///< charged, within every pool's capacity
    over_limit,  ///< charged, and a pool is now over its capacity
    refused,     ///< not charged: it could never have been granted (its cost is
                 ///< over a pool's capacity), or a pool would pass twice its capacity
  };

  /// Charges `r` (kind request, session or ws_request; a ws_open takes its
  /// connection's slot, bounded the same way) as if admitted, without asking a
  /// gate: a lease that exists already, adopted by the live node after a
  /// restart (docs/SERVE.md, "Restarts and recovery"). No session is
  /// counted and no queue is passed. A pool may go over its capacity; then
  /// nothing new fits in it until use is back under it. Twice a pool's
  /// capacity bounds what clients can claim this way. Sets `held` unless
  /// refused; hand it to release() as any lease.
  [[nodiscard]] adoption adopt(const request& r, std::uint16_t profile, lease& held);

  /// Frees everything `held` holds, `held_for` after it was admitted, having
  /// produced `output_tokens` (0: not known): what an adaptive limit learns
  /// from. Queues it unblocks are served by the next admit_waiting() call.
  void release(const lease& held, usec now, usec held_for = 0, std::uint32_t output_tokens = 0);

  /// Admits queue heads that now fit, appending them to `out`: across
  /// accounts a higher `priority` first, then (capacity_order = fair) the
  /// account holding the fewest units of the model capacity its head asks
  /// for, then the oldest head.
  void admit_waiting(usec now, std::vector<admission>& out);

  /// Times out waiters whose deadline is <= now, appending them to `out`,
  /// and marks queues whose session window turned for another look. The
  /// heads behind them are served by the next admit_waiting() call.
  void expire(usec now, std::vector<timeout>& out);

  /// The earliest time expire() has work: a queue deadline, or the end of a
  /// session window that holds back a waiting head. `never` when none.
  usec next_deadline();

  /// Removes a waiter that left (a client that disconnected). Returns false
  /// when it is not waiting (already admitted or timed out).
  bool cancel(id account, std::uint64_t tag);

  usage usage_of(id account) const;
  /// The capacity of the pool of `account` (of `profile`) as it is now: its
  /// plan's limit, or an adaptive limit's current value.
  std::int64_t limit_of(id account, std::uint16_t profile) const;

  // -- Copying an account's state (policies/ledger.hpp, account_image) -------

  /// Calls visit(queue_gate::entry) for each waiter of `account`, head
  /// first (none for an unknown account).
  template <class Visit>
  void each_waiting(id account, Visit&& visit) const {
    if (account < accounts_.size() && known_[account]) accounts_[account].queue.each(visit);
  }
  /// Its session window; false when its plan has no session rate.
  bool sessions_of(id account, session_rate_gate::state& out) const;

  /// Charges a lease copied from another engine as it was held there: pool
  /// units, or for a WebSocket connection its slot, without asking a gate.
  /// `held` comes back placed in this engine's pools.
  void restore_lease(const request& r, std::uint16_t profile, lease& held);
  /// Appends a waiter copied from another engine to `r.account`'s queue, with
  /// its own arrival (and so its own deadline). Call in queue order.
  void restore_waiter(const request& r, std::uint16_t profile, usec arrival, std::uint64_t tag);
  void restore_sessions(id account, std::uint16_t profile, const session_rate_gate::state& s);
  /// Its request and token buckets; false when its plan has no rate.
  bool rates_of(id account, rate_limit_gate::state& out) const;
  void restore_rates(id account, std::uint16_t profile, const rate_limit_gate::state& s);
  /// Its adaptive limit as it has learned it (of its account-wide pool); 0
  /// when that limit is fixed or it has no pool yet.
  double adaptive_limit_of(id account) const;
  /// Sets it, cut to the plan's adaptive.min..limit (a reload may have moved
  /// them); nothing when the plan's limit is fixed or is not account-wide.
  void restore_adaptive_limit(id account, std::uint16_t profile, double limit);
  /// Its buckets for models with their own rates, by model id.
  void model_rates_of(id account, std::vector<std::pair<id, rate_limit_gate::state>>& out) const;
  void restore_model_rates(id account, std::uint16_t profile, id model, const rate_limit_gate::state& s);
  /// After a refusal for a rate: how long until a request of `tokens` for
  /// `model` would fit (`never`: bigger than a full bucket; 0: no rate).
  usec rate_wait(id account, id model, std::int64_t tokens) const;
  /// The account's buckets for `model` when it has its own rates (nullptr
  /// otherwise): what the live node reports in x-ratelimit-* headers.
  const rate_limit_gate* model_rates(id account, id model) const;
  const plan& rules() const { return *plan_; }

  /// The plug-in gates' state of `account` that its leases do not rebuild:
  /// (gate name, bytes) for each gate that has some (gate::save).
  void gate_states_of(id account, std::vector<std::pair<std::string, std::string>>& out) const;
  /// Hands `bytes` to the plug-in gate named `name` (none: ignored).
  void restore_gate_state(id account, std::uint16_t profile, const std::string& name,
                          const std::string& bytes);
  /// What the plug-in gates report of `account` (gate::report), each name
  /// prefixed with its gate's: "peak.in_flight".
  void gate_report(id account, std::vector<std::pair<std::string, double>>& out) const;

 private:
  struct account_state {
    std::uint16_t profile = 0;
    std::int32_t pool = -1;                 ///< scope account: its pool
    std::vector<std::int32_t> pool_by_key;  ///< scope model/product: by key id + 1
    queue_gate queue{0, never};
    connection_cap connections;
    std::optional<session_rate_gate> sessions;
    std::optional<rate_limit_gate> rates;
    /// By model id: the account's buckets for a model with its own rates.
    std::vector<std::optional<rate_limit_gate>> model_rates;
    std::int64_t in_flight = 0;
    std::int64_t used = 0;
    std::vector<std::int64_t> shared_held;  ///< units held in each model capacity, by index
    bool waiting_listed = false;            ///< in waiting_accounts_
    bool dirty = false;                     ///< a release may have unblocked its head
  };

  struct deadline_entry {
    usec deadline;
    std::uint64_t seq;
    id account;
    bool operator>(const deadline_entry& o) const {
      return deadline != o.deadline ? deadline > o.deadline : seq > o.seq;
    }
  };

  account_state& account(id a, std::uint16_t profile);
  std::int32_t pool_for(account_state& acc, const request& r);
  std::int32_t shared_pool_for(const request& r);
  /// Whether the pools can take `r` now; sets `why` to the first refusal.
  /// Sets the pools `r` is charged in (account pool, shared model capacity).
  void place(account_state& acc, const request& r, lease& l);
  /// `refuser`, when given, is set to the plug-in gate that refused (why = gate).
  /// Whether `r` fits in model capacity `shared` now: the units kept for
  /// levels above its own (capacity_reserve) stay free.
  bool shared_fits(std::int32_t shared, const account_state& acc, const request& r) const;
  bool pools_fit(account_state& acc, const request& r, lease& l, reason& why, usec now,
                 const gate** refuser = nullptr);
  void charge(account_state& acc, const request& r, lease& l, usec now);
  /// The first of `gates` that does not take `r` now, or nullptr.
  const gate* refusing_gate(const std::vector<std::unique_ptr<gate>>& gates, const request& r,
                            std::uint16_t profile, usec now);
  void charge_gates(const std::vector<std::unique_ptr<gate>>& gates, const request& r,
                    std::uint16_t profile, usec now);
  /// A refusal by plug-in gate `g` (reason gate, naming it).
  decision refused_by(const gate* g) const;
  /// Marks waiting accounts for a look by the next admit_waiting(): those
  /// whose head asks for the model capacity `shared`, or (-1) all of them.
  void wake_waiting(std::int32_t shared);
  /// The account's buckets for `r`'s model, made on first use; nullptr when
  /// the model has no rates of its own.
  rate_limit_gate* model_rate_for(account_state& acc, const request& r);
  /// Whether the account's rates and its model's hold `r` now (reason::none),
  /// or which refuses; `model_gate` is then what charge_rates() charges.
  reason rates_fit(account_state& acc, const request& r, usec now, rate_limit_gate*& model_gate);
  void charge_rates(account_state& acc, rate_limit_gate* model_gate, std::int64_t tokens);
  /// An adaptive pool's sample: the hold of a request that produced
  /// `output_tokens`, ending while `in_use` units (its own among them) were held.
  void adapt(std::int32_t pool, const account_profile& prof, usec held_for, std::uint32_t output_tokens,
             std::int64_t in_use);
  /// Whether `a`'s queue head gets freed capacity before `b`'s.
  bool served_before(const account_state& a, const account_state& b);
  void on_head_changed(id a, account_state& acc);
  void mark_dirty(id a, account_state& acc);
  usec next_queue_deadline();

  std::shared_ptr<const plan> plan_;
  /// The plan's plug-in gates, by phase, each in plan order.
  std::vector<std::unique_ptr<gate>> arrival_gates_, running_gates_;
  /// Their names, in the order of plan::gates().
  std::vector<std::pair<std::string, gate*>> gates_by_name_;
  bool gates_couple_ = false;  ///< a running gate ties accounts together
  /// The requests of the leases held, by lease::gate_slot (while_running
  /// gates only), and the free slots.
  std::vector<request> gate_requests_;
  std::vector<std::uint32_t> free_gate_slots_;
  usec gate_clock_ = 0;        ///< the last expire() instant: plug-in gates' time changes
  usec latest_ = 0;            ///< the latest `now` of any call: never wake before it
  std::vector<account_state> accounts_;   ///< by account id
  std::vector<bool> known_;               ///< accounts_ slots in use
  std::vector<pool_gate> pools_;          ///< account pools
  std::vector<double> adaptive_limit_;    ///< by pool: its adaptive limit, 0 when fixed
  std::vector<std::int32_t> shared_by_model_;  ///< model id + 1 -> shared pool index
  std::vector<pool_gate> shared_;         ///< model capacities shared by all accounts
  /// True when admit_waiting() orders heads by more than their age.
  bool ordered_by_share_;
  std::vector<id> waiting_accounts_;      ///< accounts with a non-empty queue
  std::vector<id> dirty_;                 ///< accounts whose head may now fit
  /// By model capacity, during one admit_waiting(): the smallest cost it
  /// had no room for.
  std::vector<std::int64_t> full_at_;
  std::priority_queue<deadline_entry, std::vector<deadline_entry>, std::greater<>> deadlines_;
  struct recheck {
    usec at;
    id account;
    bool operator>(const recheck& o) const { return at != o.at ? at > o.at : account > o.account; }
  };
  /// Queues held back by a session rate, to look at again when it turns.
  std::priority_queue<recheck, std::vector<recheck>, std::greater<>> rechecks_;
};

}  // namespace usher::policies

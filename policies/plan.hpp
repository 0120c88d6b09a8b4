#pragma once
/// A plan: the gates every account gets, with every number a parameter.
///
/// The five families of DESIGN.md are presets: each only sets defaults for the
/// same gates (pool, queue, connection cap, session rate, model capacity), so
/// families combine by setting more keys (for example `per-model` plus
/// `queue.max_depth=10`). Settings apply in order: the preset, then a plan
/// file, then `--set` overrides; `account.NAME.KEY` applies to one account.
/// docs/PLANS.md lists every key.
///
/// A plan is immutable once built and safe to share between threads.
/// Accounts resolve to a *profile* (index 0: the default; one per account
/// named in an override); models the plan names get the first model ids, so
/// per-model tables are plain vectors.

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "policies/gate.hpp"
#include "policies/rate_limit_gate.hpp"
#include "policies/session_rate_gate.hpp"
#include "policies/time.hpp"

namespace usher::policies {

enum class family { streams, exclusive, session_rate, per_model, weighted };

/// The most a request may cost, in pool units: a plan's `cost` and
/// `cost.MODEL`, a trace row's `cost` (and, at the live edge, an admit's
/// `cost`, actors/http/request_fields.hpp). Usage is integrated as
/// units x microseconds in 64 bits (usage_meter), so a cost near 2^63 would
/// overflow at once; 10^9 leaves room for days of a pool full at that cost.
inline constexpr std::int64_t max_cost = 1'000'000'000;

/// The most `sessions_per_minute` may be (the session-rate gate multiplies
/// its cap by percents in 64 bits).
inline constexpr std::int64_t max_sessions_per_window = 1'000'000'000;

std::string_view to_string(family f);

/// Which requests of an account share one pool.
enum class pool_scope {
  account,  ///< all of the account's requests (streams, weighted)
  model,    ///< one pool per (account, model) (per-model)
  product,  ///< one pool per (account, product) (exclusive)
};

/// The resolved gates of one profile. Plain data.
struct account_profile {
  std::string name;                      ///< account name, or "" for the default
  std::int64_t limit = -1;               ///< pool capacity in units; -1 unlimited
  pool_scope scope = pool_scope::account;
  std::int64_t default_cost = 1;
  bool cost_from_trace = true;           ///< use a request's own cost when it has one
  std::int64_t queue_max_depth = 0;      ///< 0: no queue; -1: unbounded
  usec queue_max_wait = never;
  usec retry_after = 0;                  ///< Retry-After sent with a 429; 0: none
  std::int64_t max_connections = -1;     ///< open WebSocket cap; -1 unlimited
  bool sessions_limited = false;
  session_rate_params sessions;
  rate_limit_params rates;               ///< requests and tokens per minute (none by default)
  std::string tier;                      ///< streams tier, "" when none
  /// Which waiting requests get freed model capacity first: higher first
  /// (docs/PLANS.md, "Sharing a model's capacity").
  std::int64_t priority = 0;
  /// The most a request may ask for (request::priority): the plan's
  /// `priority.max`, or `priority` when that is higher.
  std::int64_t priority_max = 0;
  /// An adaptive limit (AIMD, as Netflix's concurrency-limits): each pool's
  /// capacity moves between `adaptive_min` and `limit` with the holds of the
  /// requests that end (docs/PLANS.md, "Adaptive limits").
  bool adaptive = false;
  /// What a sample is: a request's whole hold, or (`adaptive.signal =
  /// per_token`) its hold divided by its output tokens, which long answers
  /// do not inflate; a request with no output token count then teaches nothing.
  bool adaptive_per_token = false;
  /// A slower sample (hold, or hold per output token) counts as a sign of overload.
  usec adaptive_target = seconds(10);
  std::int64_t adaptive_min = 1;
  double adaptive_backoff = 0.9;       ///< the capacity's factor after a slow request
};

/// Among accounts waiting for a model's provider-wide capacity, whose
/// request a freed unit goes to (after priority).
enum class capacity_order : std::uint8_t {
  oldest,  ///< the request that has waited longest (first come, first served)
  fair,    ///< the account holding the fewest units of that model's capacity
};

/// The most `priority` may be.
inline constexpr std::int64_t max_priority = 1000;

/// One model's servers, for the simulator's backend model
/// (policies/backend_model.hpp; docs/PLANS.md, "Backend model").
struct backend_params {
  std::int64_t replicas = 0;          ///< 0: no backend model (trace durations)
  std::int64_t max_streams = 256;     ///< requests one replica runs at once; more wait in it
  /// Aggregate decode rate of one replica, tokens/s, at N requests running:
  /// (N, rate) points, N rising from 1; linear between, flat after the last.
  std::vector<std::pair<std::int64_t, double>> throughput;
  double prefill_tokens_per_s = 0;    ///< prompt tokens one request's prefill reads per second

  /// The aggregate decode rate at `streams` (>= 1) running.
  double throughput_at(std::int64_t streams) const;
};

/// Thresholds for the streams seed's upgrade signals.
struct signal_params {
  double timeout_rate = 0.05;        ///< timeouts over 5 % of requests
  usec mean_queue_wait = seconds(10);
  int business_start_hour = 9;       ///< trace time 0 is 00:00 of day 0
  int business_end_hour = 17;
  double maxed_fraction = 0.5;       ///< pool at its limit this share of business hours
};

/// One `[gate.NAME]` section of a plan: a plug-in gate (policies/gate.hpp).
struct gate_spec {
  std::string name;
  std::string type;
  std::map<std::string, gate_params::value> params;  ///< its keys but type and library
  gate_params::account_values by_account;            ///< accounts' own values (profiles set)
  gate_factory make;                                  ///< the type's factory
  bool couples_accounts = false;
};

class plan {
 public:
  /// Builds a plan from a preset name ("streams", "streams:solo", "exclusive",
  /// "session-rate", "per-model", "weighted") and ordered settings. `where`
  /// names each setting's origin for errors ("plan.ini:7", "--set").
  /// Throws input_error on an unknown preset, key or bad value.
  struct setting {
    std::string key;
    std::string value;
    std::string where;
  };
  static std::shared_ptr<const plan> build(const std::string& preset,
                                           const std::vector<setting>& settings);

  /// The names a preset may be: for --help and error messages.
  static const std::vector<std::string>& preset_names();

  family base() const { return family_; }
  const std::string& preset() const { return preset_; }

  /// The profile for an account name (the default when none is named).
  std::uint16_t profile_of(const std::string& account) const;
  const account_profile& profile(std::uint16_t index) const { return profiles_[index]; }
  std::size_t profile_count() const { return profiles_.size(); }

  /// Models the plan names (costs, capacities), in id order: an interner
  /// seeded with these gives them ids 0..n-1.
  const std::vector<std::string>& named_models() const { return models_; }

  /// The cost of a request: its own (trace) cost when the profile allows it
  /// and it has one (>= 0), else the model's table cost, else the default.
  std::int64_t cost_of(std::uint16_t profile, std::uint32_t model, std::int64_t own_cost) const;

  /// Provider-wide capacity of a model shared by all accounts; -1 unlimited.
  std::int64_t model_capacity(std::uint32_t model) const;
  /// True when any model has a shared capacity, or a plug-in gate couples
  /// accounts: accounts are then coupled (one simulation shard).
  bool has_shared_gates() const;

  /// The plug-in gates (`[gate.NAME]` sections), in the order they are
  /// asked, which is the order their sections first appear.
  const std::vector<gate_spec>& gates() const { return gates_; }
  /// Makes a fresh instance of each plug-in gate, for one engine.
  std::vector<std::unique_ptr<gate>> make_gates() const;
  /// A model's own requests and tokens per minute (`requests_per_minute.MODEL`,
  /// `tokens_per_minute.MODEL`), kept per (account, model) beside the
  /// account's own rates; nullptr when the model has none. Its `burst` is
  /// unset: each account's `rate.burst` applies.
  const rate_limit_params* model_rates(std::uint32_t model) const {
    return model < model_rates_.size() && model_rates_[model].limited() ? &model_rates_[model] : nullptr;
  }
  bool has_model_rates() const { return has_model_rates_; }
  /// How freed model capacity is shared among waiting accounts.
  capacity_order order_of_capacity() const { return capacity_order_; }
  /// What a request of `level` may fill of a model capacity of `capacity`
  /// units (>= 0): all of it, less the units kept for higher levels
  /// (`capacity_reserve.LEVEL`: docs/PLANS.md, "Reserving capacity for
  /// higher levels").
  std::int64_t capacity_for_level(std::int64_t capacity, std::int64_t level) const {
    std::int64_t room = capacity;
    for (auto& r : reserves_)
      if (r.level > level) room -= std::min(room, r.units_of(capacity));
    return room;
  }
  bool has_capacity_reserves() const { return !reserves_.empty(); }

  /// The servers requests of `model` run on in a simulation, or nullptr
  /// when they keep their trace durations (no backend model for it).
  const backend_params* backend(std::uint32_t model) const;
  /// True when any model runs on a backend model: accounts are then coupled
  /// through its servers (one simulation shard). Live nodes ignore it.
  bool has_backend() const;

  const signal_params& signals() const { return signals_; }

  /// Every effective setting as key=value lines, sorted: for summary.json and
  /// so a user can see what a run used.
  const std::map<std::string, std::string>& effective() const { return effective_; }

 private:
  plan() = default;

  family family_ = family::streams;
  std::string preset_;
  std::vector<account_profile> profiles_;
  std::map<std::string, std::uint16_t> profile_by_account_;
  std::vector<std::string> models_;
  std::vector<std::int64_t> model_cost_;      ///< by model id; -1: default cost
  std::vector<std::int64_t> model_capacity_;  ///< by model id; -1 unlimited
  std::int64_t default_model_capacity_ = -1;
  capacity_order capacity_order_ = capacity_order::oldest;
  /// `capacity_reserve.LEVEL`: units (or a percent) of every model capacity
  /// that only requests of LEVEL or higher may take.
  struct capacity_reserve {
    std::int64_t level = 0;
    std::int64_t amount = 0;
    bool percent = false;
    std::int64_t units_of(std::int64_t capacity) const {
      return percent ? capacity / 100 * amount + capacity % 100 * amount / 100 : amount;  // no overflow
    }
  };
  std::vector<capacity_reserve> reserves_;  ///< by level, ascending
  std::vector<rate_limit_params> model_rates_;  ///< by model id
  bool has_model_rates_ = false;
  backend_params default_backend_;
  std::vector<backend_params> model_backend_;  ///< by model id
  signal_params signals_;
  std::vector<gate_spec> gates_;
  std::map<std::string, std::string> effective_;
};

}  // namespace usher::policies

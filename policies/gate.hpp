#pragma once
/// Plug-in gates: one more rule every request of a plan meets, named in a
/// plan file and written as one C++ class (docs/GATES.md).
///
///   [gate.peak]                 # NAME: how outcomes and reports call it
///   type = peak_hours           # a registered gate type
///   peak_limit = 4              # the type's own parameters
///
/// A plug-in gate keeps the engine's contract (policies/engine.hpp): a
/// request is admitted only when the built-in gates and every plug-in gate
/// admit it, and it is then charged in all of them at once; a refused
/// request leaves no trace in any. The engine calls a gate only in the
/// same-instant order of policies/time.hpp, with `now` never decreasing, so a
/// gate needs no clock and gives the same answers in a simulation and live.
///
/// A gate answers five things:
///   fits     does this request fit now?              (no side effect)
///   charge   it was admitted (or, on_arrival: taken)  (count it)
///   release  it ended (while_running gates only)      (give it back)
///   next_change   when its answers may change by time alone (a window turning)
///   save / restore   its state of one account that its leases do not rebuild
///                    (a bucket's level), to move the account elsewhere
/// and reports numbers per account (report) for the live node's /account.
///
/// Registration: a type in this tree is one source file in policies/gates/
/// and one line in policies/gates/builtin.hpp. A type built out of the tree
/// is a shared library exporting usher_register_gates (see USHER_GATE_LIBRARY
/// below and examples/peak_hours_gate/), named by `library = FILE` in its
/// plan section.
///
/// A gate instance belongs to one engine (one simulation shard, one live
/// node): not thread-safe, and it need not be. The registry is.

#include <charconv>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "policies/input_error.hpp"
#include "policies/request.hpp"
#include "policies/time.hpp"

namespace usher::policies {

class plan;

/// Bumped whenever this header changes in a way that breaks a gate library
/// built against an older one; a library built for another version is
/// refused when it loads.
/// 2: report() takes the account's profile; gate_params reads per-account
/// values (count_by_profile, duration_by_profile).
inline constexpr int gate_abi_version = 2;

class gate {
 public:
  /// When a gate charges a request, and what its refusal means.
  enum class phase : std::uint8_t {
    /// Charged once when the request is taken (admitted, or queued), never
    /// given back: rates, quotas. A refusal is final: 429 at once.
    on_arrival,
    /// Held while the request runs and given back when it ends: concurrency,
    /// tokens in flight. A refusal lets the request wait in its account's
    /// queue (when the plan has one) until a release or next_change() makes
    /// room, exactly like the account's pool.
    while_running,
  };

  virtual ~gate() = default;

  virtual phase when() const = 0;

  /// while_running gates: whether a request this gate refuses may wait in
  /// its account's queue (true), or is refused at once (false: 429 `gate`,
  /// as a provider's per-key concurrency limit answers). A request that
  /// waits (FIFO) holds back its account's requests behind it; one already
  /// waiting (for the pool) that this gate then refuses waits on.
  virtual bool refusal_waits() const { return true; }

  /// True when what one account does changes what another may do (a
  /// provider-wide cap): a release then wakes every waiting account, not
  /// only the releasing one.
  virtual bool couples_accounts() const { return false; }

  /// Whether `r` fits now. Called for the kinds that hold pool units
  /// (request, session, ws_request), after the built-in gates admitted it.
  /// `profile` is the account's (plan::profile). No side effects: a request
  /// asked about may still be refused by another gate.
  [[nodiscard]] virtual bool fits(const request& r, std::uint16_t profile, usec now) = 0;

  /// False when `r` can never fit, whatever is released (it is bigger than
  /// the gate's whole capacity): it is refused at once rather than left to
  /// wait out the queue. Asked on arrival only.
  virtual bool could_ever_fit(const request& /*r*/, std::uint16_t /*profile*/) const {
    return true;
  }

  /// Counts `r`. REQUIRES: fits(r, profile, now) was just true, except for
  /// a lease that exists already (a restart's adoption, an account copied
  /// in), which is charged whether or not it fits.
  virtual void charge(const request& r, std::uint16_t profile, usec now) = 0;

  /// Gives back what charge() counted for `r`, which held its units for
  /// `held_for`. while_running gates only; called exactly once per charge.
  virtual void release(const request& /*r*/, std::uint16_t /*profile*/, usec /*now*/,
                       usec /*held_for*/) {}

  /// The first instant after `now` at which a request this gate refuses
  /// might fit with nothing released (a window turning), or `never`.
  virtual usec next_change(usec /*now*/) const { return never; }

  /// Where `now` starts: Unix time in microseconds of now == 0 for a live
  /// node (its start), 0 in a simulation (trace time 0; a gate that needs
  /// the time of day takes it as 00:00 UTC of day 0). Called once, before
  /// any other call.
  virtual void set_time_origin(std::int64_t /*unix_us*/) {}

  /// Numbers worth showing for one account of `profile`, as (name, value) pairs.
  virtual void report(id /*account*/, std::uint16_t /*profile*/,
                      std::vector<std::pair<std::string, double>>& /*out*/) const {}

  /// The state of `account` that its leases do not rebuild (restoring an
  /// account charges its leases again), as bytes only this gate type reads;
  /// empty when there is none.
  virtual std::string save(id /*account*/) const { return {}; }
  /// Takes back what save() gave, for `account` of `profile`, in a fresh
  /// engine: of the same plan, or after a reload of a new plan with a gate
  /// of the same name (whose type may have changed: bytes a gate cannot
  /// read, it ignores).
  virtual void restore(id /*account*/, std::uint16_t /*profile*/, const std::string& /*bytes*/) {}
};

/// The parameters of one `[gate.NAME]` section, for a gate type's factory.
/// Each getter takes a key, parses its value or returns the default, and
/// throws input_error naming the file, line and key of a bad value; a key
/// no getter asked for is an error too (check_all_used, called by the plan).
///
/// A key may also be set for one account (`account.NAME.gate.G.KEY`, which
/// gives the account a profile of its own): a type that allows that reads
/// the key with a *_by_profile getter, which returns the value of each
/// profile (plan::profile). An account's value for a key the type reads
/// plan-wide only is an error.
class gate_params {
 public:
  struct value {
    std::string text;
    std::string where;  ///< "plan.ini:12", "--set"
  };
  /// One account's value of a key.
  struct account_value {
    std::string account;
    std::uint16_t profile = 0;
    value v;
  };
  using account_values = std::map<std::string, std::vector<account_value>>;  ///< by key

  gate_params(std::string name, std::map<std::string, value> values, account_values by_account = {},
              std::size_t profiles = 1)
      : name_(std::move(name)),
        values_(std::move(values)),
        by_account_(std::move(by_account)),
        profiles_(profiles) {}

  /// The section's NAME.
  const std::string& name() const { return name_; }

  bool has(const std::string& key) const { return values_.count(key) != 0; }

  std::string text(const std::string& key, const std::string& fallback) {
    const auto* v = take(key);
    return v ? v->text : fallback;
  }

  /// An integer within [min, max]; "none" gives -1 when `allow_none`.
  std::int64_t count(const std::string& key, std::int64_t fallback, std::int64_t min,
                     std::int64_t max, bool allow_none = false) {
    const auto* v = take(key);
    return v ? parse_count(field(key), *v, min, max, allow_none) : fallback;
  }
  /// count() for each profile: the account's own value where one is set.
  std::vector<std::int64_t> count_by_profile(const std::string& key, std::int64_t fallback,
                                             std::int64_t min, std::int64_t max,
                                             bool allow_none = false) {
    return by_profile(count(key, fallback, min, max, allow_none), key, [&](const std::string& f, const value& v) {
      return parse_count(f, v, min, max, allow_none);
    });
  }

  /// A duration: seconds, or with a unit s, ms, m, h ("30", "250ms", "2m").
  usec duration(const std::string& key, usec fallback) {
    const auto* v = take(key);
    return v ? parse_time(field(key), *v) : fallback;
  }
  /// duration() for each profile: the account's own value where one is set.
  std::vector<usec> duration_by_profile(const std::string& key, usec fallback) {
    return by_profile(duration(key, fallback), key, [&](const std::string& f, const value& v) { return parse_time(f, v); });
  }

  /// One of `words`.
  std::string choice(const std::string& key, const std::string& fallback,
                     const std::vector<std::string>& words) {
    const auto* v = take(key);
    if (!v) return fallback;
    for (const auto& w : words)
      if (v->text == w) return w;
    std::string list;
    for (const auto& w : words) list += (list.empty() ? "" : " or ") + w;
    bad(field(key), *v, list);
  }

  /// Throws input_error for a value the factory asked for and found wrong
  /// for a reason of its own (two keys that contradict each other).
  [[noreturn]] void reject(const std::string& key, const std::string& why) const {
    auto i = values_.find(key);
    throw input_error::at(i == values_.end() ? std::string() : i->second.where, 0, field(key), why);
  }

  /// Throws input_error for the first key no getter asked for, and for the
  /// first account's value of a key read plan-wide only.
  void check_all_used(const std::string& type) const {
    for (const auto& [key, v] : values_)
      if (!used_.count(key))
        throw input_error::at(v.where, 0, field(key),
                              "unknown key for a gate of type " + quoted(type) +
                                  " (docs/GATES.md lists each type's keys)");
    for (const auto& [key, list] : by_account_)
      if (!used_by_profile_.count(key))
        for (const auto& a : list)
          throw input_error::at(a.v.where, 0, account_field(a.account, key),
                                asked_.count(key) ? "a gate of type " + quoted(type) + " takes " +
                                                       quoted(key) + " plan-wide only, not per account"
                                                 : "unknown key for a gate of type " + quoted(type) +
                                                       " (docs/GATES.md lists each type's keys)");
  }

 private:
  const value* take(const std::string& key) {
    asked_.insert(key);
    auto i = values_.find(key);
    if (i == values_.end()) return nullptr;
    used_.insert(key);
    return &i->second;
  }
  /// `plan_wide` for every profile, then each account's own value (parsed
  /// by `parse(field, value)`) for its profile.
  template <class T, class Parse>
  std::vector<T> by_profile(T plan_wide, const std::string& key, Parse parse) {
    std::vector<T> out(profiles_, plan_wide);
    used_.insert(key);
    used_by_profile_.insert(key);
    auto i = by_account_.find(key);
    if (i != by_account_.end())
      for (const auto& a : i->second)
        if (a.profile < out.size()) out[a.profile] = parse(account_field(a.account, key), a.v);
    return out;
  }
  std::string field(const std::string& key) const { return "gate." + name_ + "." + key; }
  std::string account_field(const std::string& account, const std::string& key) const {
    return "account." + account + "." + field(key);
  }
  std::int64_t parse_count(const std::string& field, const value& v, std::int64_t min, std::int64_t max,
                           bool allow_none) const {
    if (allow_none && v.text == "none") return -1;
    std::int64_t n = 0;
    const char* end = v.text.data() + v.text.size();
    auto res = std::from_chars(v.text.data(), end, n);
    if (v.text.empty() || res.ec != std::errc() || res.ptr != end || n < min || n > max)
      bad(field, v, "an integer from " + std::to_string(min) + " to " + std::to_string(max) +
                        (allow_none ? " or \"none\"" : ""));
    return n;
  }
  usec parse_time(const std::string& field, const value& v) const {
    usec t = 0;
    bool unit_error = false;
    if (!parse_duration(v.text, t, unit_error)) bad(field, v, "a duration such as 60, 60s, 500ms or 2m");
    return t;
  }
  [[noreturn]] void bad(const std::string& field, const value& v, const std::string& expected) const {
    throw input_error::at(v.where, 0, field, "expected " + expected + ", got " + quoted(v.text));
  }

  std::string name_;
  std::map<std::string, value> values_;
  account_values by_account_;
  std::size_t profiles_;
  std::set<std::string> used_;             ///< keys of values_ read
  std::set<std::string> asked_;            ///< keys a getter asked for, set or not
  std::set<std::string> used_by_profile_;  ///< keys read per profile
};

/// Makes a gate from its parameters (throws input_error for bad ones). Called
/// once when the plan is built, to check them, and once per engine.
using gate_factory = std::function<std::unique_ptr<gate>(gate_params&, const plan&)>;

/// The type that turns a gate off (`gate.NAME.type = none`): a plan with
/// it has no such gate. Not a name a type may register under.
inline const std::string gate_type_off = "none";

/// Gate types by name. Built-in types are there from the start; libraries
/// add theirs when they load (traces/gate_library.hpp).
class gate_registry {
 public:
  /// The process's registry.
  static gate_registry& global();

  /// Adds (or replaces) a type. `summary` is one line for error messages.
  void add(const std::string& type, gate_factory make, std::string summary) {
    std::lock_guard<std::mutex> lock(mutex_);
    types_[type] = entry{std::move(make), std::move(summary)};
  }

  /// The factory of `type`, or nullptr.
  gate_factory find(const std::string& type) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto i = types_.find(type);
    return i == types_.end() ? gate_factory() : i->second.make;
  }

  std::vector<std::string> names() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::string> out;
    for (const auto& kv : types_) out.push_back(kv.first);
    return out;
  }

 private:
  struct entry {
    gate_factory make;
    std::string summary;
  };
  mutable std::mutex mutex_;
  std::map<std::string, entry> types_;
};

}  // namespace usher::policies

/// What a gate library exports (examples/peak_hours_gate/): its ABI version
/// and a function that adds its types to the registry.
///
///   USHER_GATE_LIBRARY(registry) {
///     registry.add("peak_hours", make_peak_hours, "a lower cap in peak hours");
///   }
#define USHER_GATE_LIBRARY(registry)                                                    \
  extern "C" __attribute__((visibility("default"))) int usher_gate_abi() {              \
    return ::usher::policies::gate_abi_version;                                         \
  }                                                                                     \
  extern "C" __attribute__((visibility("default"))) void usher_register_gates(         \
      ::usher::policies::gate_registry& registry)

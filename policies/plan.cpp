#include "policies/plan.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>
#include <set>

#include "policies/closest_match.hpp"
#include "policies/input_error.hpp"

namespace usher::policies {

namespace {

// -- keys ---------------------------------------------------------------------

// Keys an account may override (`account.NAME.KEY`) or set for all accounts.
const std::set<std::string>& account_keys() {
  static const std::set<std::string> keys = {
      "tier", "limit", "scope", "cost", "cost_source", "queue.max_depth", "queue.max_wait",
      "retry_after",
      "ws.per_concurrency", "sessions_per_minute", "sessions.window", "sessions.scale_up_at",
      "sessions.scale_up_pct", "sessions.scale_down_below", "sessions.scale_down_pct",
      "requests_per_minute", "tokens_per_minute", "rate.burst", "priority", "priority.max", "adaptive",
      "adaptive.signal", "adaptive.target", "adaptive.min", "adaptive.backoff"};
  return keys;
}

// Keys that only exist plan-wide.
const std::set<std::string>& global_keys() {
  static const std::set<std::string> keys = {
      "tiers.solo", "tiers.team", "tiers.platform", "model_capacity", "capacity_order",
      "signals.timeout_rate",
      "signals.mean_queue_wait", "signals.business_hours", "signals.maxed_fraction"};
  return keys;
}

// The backend model's keys (`backend.KEY`, `backend.MODEL.KEY`) and their
// defaults: one replica of Llama-3.3-70B-Instruct on 2 x H100 (FP8, TP2)
// under NVIDIA NIM 1.8.0, as NVIDIA's NIM benchmarking page publishes it
// (docs/PLANS.md, "Backend model", gives the rows).
const std::vector<std::pair<std::string, std::string>>& backend_keys() {
  static const std::vector<std::pair<std::string, std::string>> keys = {
      {"replicas", "none"},
      {"max_streams", "100"},
      {"throughput", "1:51.67, 5:218.48, 25:623.4, 50:814.37, 100:917.26"},
      {"prefill", "12300"},
  };
  return keys;
}

constexpr std::string_view backend_prefix = "backend.";

// Every key a plan may set as written, for suggestions.
const std::vector<std::string>& known_keys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> k(account_keys().begin(), account_keys().end());
    k.insert(k.end(), global_keys().begin(), global_keys().end());
    k.push_back("streams");
    k.push_back("concurrency");
    for (auto& b : backend_keys()) k.push_back(std::string(backend_prefix) + b.first);
    return k;
  }();
  return keys;
}

// Prefixes whose remainder is a model name.
constexpr std::string_view cost_prefix = "cost.";
constexpr std::string_view capacity_prefix = "model_capacity.";
constexpr std::string_view reserve_prefix = "capacity_reserve.";
constexpr std::string_view account_prefix = "account.";
constexpr std::string_view gate_prefix = "gate.";
constexpr std::string_view model_rpm_prefix = "requests_per_minute.";
constexpr std::string_view model_tpm_prefix = "tokens_per_minute.";

// The three words users know the pool capacity by, one per family's seed.
std::string canonical(const std::string& key) {
  if (key == "streams" || key == "concurrency") return "limit";
  return key;
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

/// account.ACCOUNT.gate.NAME.KEY split (ACCOUNT may contain dots; NAME and
/// KEY may not), or an empty account when `k` is not of that form.
struct account_gate_setting {
  std::string account, gate, key;
};
account_gate_setting account_gate_key(const std::string& k) {
  constexpr std::string_view marker = ".gate.";
  if (!starts_with(k, account_prefix)) return {};
  auto last = k.rfind('.');
  auto mid = k.rfind('.', last - 1);
  if (last == std::string::npos || mid == std::string::npos || last + 1 == k.size() || mid + 1 == last ||
      mid < marker.size())
    return {};
  auto at = mid + 1 - marker.size();  // where ".gate." would start
  if (k.compare(at, marker.size(), marker) != 0 || at <= account_prefix.size()) return {};
  return {k.substr(account_prefix.size(), at - account_prefix.size()), k.substr(mid + 1, last - mid - 1),
          k.substr(last + 1)};
}

// -- values -------------------------------------------------------------------

struct entry {
  std::string value;
  std::string where;
  std::size_t order = 0;
};
using entries = std::map<std::string, entry>;

[[noreturn]] void bad_value(const std::string& key, const entry& e, const std::string& expected) {
  throw input_error::at(e.where, 0, key, "expected " + expected + ", got " + quoted(e.value));
}

std::int64_t parse_count(const std::string& key, const entry& e, bool allow_none,
                         std::int64_t min = 0,
                         std::int64_t max = std::numeric_limits<std::int64_t>::max()) {
  if (allow_none && e.value == "none") return -1;
  std::int64_t v = 0;
  auto* end = e.value.data() + e.value.size();
  auto res = std::from_chars(e.value.data(), end, v);
  if (e.value.empty() || res.ec != std::errc() || res.ptr != end || v < min || v > max)
    bad_value(key, e,
              (max == std::numeric_limits<std::int64_t>::max()
                   ? "an integer >= " + std::to_string(min)
                   : "an integer from " + std::to_string(min) + " to " + std::to_string(max)) +
                  (allow_none ? " or \"none\"" : ""));
  return v;
}

// a x b for counts a, b >= 0, or -1 (unbounded) when that does not fit in 64
// bits: a bound that large bounds nothing (found by fuzz/ini_files).
std::int64_t times_or_unbounded(std::int64_t a, std::int64_t b) {
  if (a != 0 && b > std::numeric_limits<std::int64_t>::max() / a) return -1;
  return a * b;
}

// Durations: seconds by default; units s, ms, m, h; "none" for no limit.
usec parse_duration(const std::string& key, const entry& e, bool allow_none) {
  if (allow_none && e.value == "none") return never;
  usec t = 0;
  bool unit_error = false;
  if (policies::parse_duration(e.value, t, unit_error)) return t;
  if (unit_error) {
    auto unit = e.value.substr(e.value.find_first_not_of("0123456789."));
    throw input_error::at(e.where, 0, key, "unknown unit " + quoted(unit) + " (use s, ms, m or h)");
  }
  bad_value(key, e, "a duration such as 60, 60s, 500ms or 2m");
}

double parse_fraction(const std::string& key, const entry& e) {
  try {
    std::size_t used = 0;
    double d = std::stod(e.value, &used);
    if (used == e.value.size() && d >= 0 && d <= 1) return d;
  } catch (const std::exception&) {
  }
  bad_value(key, e, "a fraction between 0 and 1");
}

// A positive decimal number at most `max` ("917.26", "12300").
double parse_rate(const std::string& key, const entry& e, double max) {
  double d = 0;
  auto* end = e.value.data() + e.value.size();
  auto res = std::from_chars(e.value.data(), end, d);
  if (e.value.empty() || res.ec != std::errc() || res.ptr != end || !(d > 0) || d > max)
    bad_value(key, e, "a number above 0 and at most " + std::to_string(static_cast<std::int64_t>(max)));
  return d;
}

// The most a backend key may say: sizes a test machine could still model.
constexpr std::int64_t max_replicas = 100'000;
constexpr std::int64_t max_backend_streams = 1'000'000;
constexpr double max_tokens_per_s = 1e9;

// "N:RATE, N:RATE, ...": N integers rising from 1, RATE tokens/s; points
// separated by commas or spaces (a `PLAN@KEY=VALUE,...` value has no commas).
std::vector<std::pair<std::int64_t, double>> parse_curve(const std::string& key, const entry& e) {
  std::vector<std::pair<std::int64_t, double>> points;
  const std::string expected =
      "points STREAMS:TOKENS_PER_S separated by commas or spaces, STREAMS rising from 1 "
      "(such as 1:50, 25:620, 100:920)";
  const char* separators = ", \t";
  for (auto at = e.value.find_first_not_of(separators); at != std::string::npos;
       at = e.value.find_first_not_of(separators, at)) {
    auto stop = e.value.find_first_of(separators, at);
    std::string point = e.value.substr(at, stop == std::string::npos ? std::string::npos : stop - at);
    at = stop;
    auto colon = point.find(':');
    if (colon == std::string::npos) bad_value(key, e, expected);
    entry n{point.substr(0, colon), e.where, e.order};
    entry rate{point.substr(colon + 1), e.where, e.order};
    std::int64_t streams = 0;
    auto* nend = n.value.data() + n.value.size();
    auto res = std::from_chars(n.value.data(), nend, streams);
    if (n.value.empty() || res.ec != std::errc() || res.ptr != nend || streams < 1 ||
        streams > max_backend_streams || (points.empty() ? streams != 1 : streams <= points.back().first))
      bad_value(key, e, expected);
    points.emplace_back(streams, parse_rate(key, rate, max_tokens_per_s));
    if (at == std::string::npos) break;
  }
  if (points.empty()) bad_value(key, e, expected);
  return points;
}

// One model's servers from its backend keys (the plan-wide ones, then its own).
backend_params resolve_backend(const std::string& prefix, const entries& keys) {
  auto get = [&](const std::string& k) -> const entry& { return keys.at(k); };
  backend_params b;
  auto replicas = parse_count(prefix + "replicas", get("replicas"), true, 1, max_replicas);
  b.replicas = replicas < 0 ? 0 : replicas;
  b.max_streams = parse_count(prefix + "max_streams", get("max_streams"), false, 1, max_backend_streams);
  b.throughput = parse_curve(prefix + "throughput", get("throughput"));
  b.prefill_tokens_per_s = parse_rate(prefix + "prefill", get("prefill"), max_tokens_per_s);
  return b;
}

// -- presets ------------------------------------------------------------------

struct preset_info {
  family fam;
  std::vector<std::pair<std::string, std::string>> defaults;
};

// Every preset sets every account key, so the effective plan is complete.
const std::map<std::string, preset_info>& presets() {
  static const std::map<std::string, preset_info> table = [] {
    std::vector<std::pair<std::string, std::string>> common = {
        {"cost", "1"},
        {"cost_source", "trace"},
        {"queue.max_depth", "0"},
        {"queue.max_wait", "60"},
        {"retry_after", "none"},
        {"ws.per_concurrency", "0"},
        {"sessions_per_minute", "none"},
        {"sessions.window", "60"},
        {"sessions.scale_up_at", "70"},
        {"sessions.scale_up_pct", "10"},
        {"sessions.scale_down_below", "50"},
        {"sessions.scale_down_pct", "10"},
        {"requests_per_minute", "none"},
        {"tokens_per_minute", "none"},
        {"rate.burst", "60"},
        {"scope", "account"},
        {"limit", "none"},
        {"tier", ""},
        {"tiers.solo", "3"},
        {"tiers.team", "10"},
        {"tiers.platform", "50"},
        {"model_capacity", "none"},
        {"capacity_order", "oldest"},
        {"priority", "0"},
        {"priority.max", "0"},
        {"adaptive", "none"},
        {"adaptive.signal", "hold"},
        {"adaptive.target", "auto"},  // 10 s a hold, 50 ms per output token
        {"adaptive.min", "1"},
        {"adaptive.backoff", "0.9"},
        {"signals.timeout_rate", "0.05"},
        {"signals.mean_queue_wait", "10"},
        {"signals.business_hours", "9-17"},
        {"signals.maxed_fraction", "0.5"},
    };
    auto with = [&](std::vector<std::pair<std::string, std::string>> extra) {
      auto all = common;
      for (auto& kv : extra) all.push_back(kv);
      return all;
    };
    auto streams = [&](const std::string& tier) {
      return with({{"tier", tier}, {"queue.max_depth", "auto"}});
    };
    std::map<std::string, preset_info> t;
    t["streams"] = {family::streams, streams("team")};
    t["streams:solo"] = {family::streams, streams("solo")};
    t["streams:team"] = {family::streams, streams("team")};
    t["streams:platform"] = {family::streams, streams("platform")};
    t["exclusive"] = {family::exclusive,
                      with({{"limit", "1"}, {"scope", "product"}, {"ws.per_concurrency", "5"}})};
    t["session-rate"] = {family::session_rate, with({{"sessions_per_minute", "100"}})};
    t["per-model"] = {family::per_model, with({{"limit", "200"}, {"scope", "model"}})};
    t["weighted"] = {family::weighted, with({{"limit", "8"}})};
    return t;
  }();
  return table;
}

// -- resolution ---------------------------------------------------------------

std::int64_t tier_size(const entries& merged, const std::string& tier, const entry& at) {
  auto i = merged.find("tiers." + tier);
  if (tier.empty() || i == merged.end())
    bad_value("tier", at, "one of solo, team, platform");
  return parse_count("tiers." + tier, i->second, false, 1);
}

account_profile resolve(const std::string& name, const entries& merged) {
  auto get = [&](const std::string& key) -> const entry& { return merged.at(key); };
  account_profile p;
  p.name = name;
  // The pool capacity: an explicit limit or a tier, whichever was set later.
  const entry& tier = get("tier");
  const entry& limit = get("limit");
  if (!tier.value.empty() && tier.order > limit.order) {
    p.tier = tier.value;
    p.limit = tier_size(merged, tier.value, tier);
  } else {
    p.limit = parse_count("limit", limit, true);
  }
  const entry& scope = get("scope");
  if (scope.value == "account") p.scope = pool_scope::account;
  else if (scope.value == "model") p.scope = pool_scope::model;
  else if (scope.value == "product") p.scope = pool_scope::product;
  else bad_value("scope", scope, "one of account, model, product");
  p.default_cost = parse_count("cost", get("cost"), false, 1, max_cost);
  const entry& source = get("cost_source");
  if (source.value != "trace" && source.value != "plan")
    bad_value("cost_source", source, "trace or plan");
  p.cost_from_trace = source.value == "trace";
  const entry& depth = get("queue.max_depth");
  if (depth.value == "auto")
    p.queue_max_depth = p.limit < 0 ? -1 : times_or_unbounded(5, p.limit);
  else
    p.queue_max_depth = parse_count("queue.max_depth", depth, true);
  p.queue_max_wait = parse_duration("queue.max_wait", get("queue.max_wait"), true);
  usec retry_after = parse_duration("retry_after", get("retry_after"), true);
  p.retry_after = retry_after == never ? 0 : retry_after;
  auto per = parse_count("ws.per_concurrency", get("ws.per_concurrency"), false);
  p.max_connections = (per == 0 || p.limit < 0) ? -1 : times_or_unbounded(per, p.limit);
  // Bounded so that the gate's percent arithmetic (cap x percent) stays in
  // 64 bits, and a cap never grows in windows without a session
  // (scale_up_at >= 1) (found by fuzz/ini_files, docs/SECURITY.md).
  auto rate = parse_count("sessions_per_minute", get("sessions_per_minute"), true, 1,
                          max_sessions_per_window);
  p.sessions_limited = rate > 0;
  if (p.sessions_limited) {
    p.sessions.per_window = rate;
    p.sessions.window = parse_duration("sessions.window", get("sessions.window"), false);
    if (p.sessions.window <= 0) bad_value("sessions.window", get("sessions.window"), "> 0");
    p.sessions.scale_up_at =
        parse_count("sessions.scale_up_at", get("sessions.scale_up_at"), false, 1, 1000);
    p.sessions.scale_up_pct =
        parse_count("sessions.scale_up_pct", get("sessions.scale_up_pct"), false, 0, 1000);
    p.sessions.scale_down_below =
        parse_count("sessions.scale_down_below", get("sessions.scale_down_below"), false, 0, 1000);
    p.sessions.scale_down_pct =
        parse_count("sessions.scale_down_pct", get("sessions.scale_down_pct"), false, 0, 1000);
  }
  // Bounded so that a bucket's scaled level (rate x burst) stays in 64 bits.
  p.rates.requests_per_minute =
      parse_count("requests_per_minute", get("requests_per_minute"), true, 1, max_rate_per_minute);
  p.rates.tokens_per_minute =
      parse_count("tokens_per_minute", get("tokens_per_minute"), true, 1, max_rate_per_minute);
  p.rates.burst = parse_duration("rate.burst", get("rate.burst"), false);
  if (p.rates.burst <= 0 || p.rates.burst > max_rate_burst)
    bad_value("rate.burst", get("rate.burst"), "a duration above 0 and at most 1h");
  p.priority = parse_count("priority", get("priority"), false, 0, max_priority);
  // Never below the account's own level: a plan-wide ceiling does not
  // take an account's priority away.
  p.priority_max = std::max(p.priority, parse_count("priority.max", get("priority.max"), false, 0, max_priority));
  const entry& adaptive = get("adaptive");
  if (adaptive.value == "aimd") p.adaptive = true;
  else if (adaptive.value != "none") bad_value("adaptive", adaptive, "none or aimd");
  if (p.adaptive) {
    if (p.limit < 1)
      throw input_error::at(adaptive.where, 0, "adaptive",
                            "an adaptive limit needs a limit of 1 or more: its ceiling (limit is " +
                                std::string(p.limit < 0 ? "none" : "0") + ")");
    const entry& signal = get("adaptive.signal");
    if (signal.value == "per_token") p.adaptive_per_token = true;
    else if (signal.value != "hold") bad_value("adaptive.signal", signal, "hold or per_token");
    const entry& target = get("adaptive.target");
    if (target.value == "auto") p.adaptive_target = p.adaptive_per_token ? usec_per_second / 20 : seconds(10);
    else p.adaptive_target = parse_duration("adaptive.target", target, false);
    if (p.adaptive_target <= 0) bad_value("adaptive.target", get("adaptive.target"), "a duration above 0");
    p.adaptive_min = parse_count("adaptive.min", get("adaptive.min"), false, 1, p.limit);
    p.adaptive_backoff = parse_fraction("adaptive.backoff", get("adaptive.backoff"));
    if (!(p.adaptive_backoff > 0 && p.adaptive_backoff < 1))
      bad_value("adaptive.backoff", get("adaptive.backoff"), "a fraction above 0 and below 1");
  }
  return p;
}

}  // namespace

std::string_view to_string(family f) {
  switch (f) {
    case family::streams: return "streams";
    case family::exclusive: return "exclusive";
    case family::session_rate: return "session-rate";
    case family::per_model: return "per-model";
    case family::weighted: return "weighted";
  }
  return "?";
}

const std::vector<std::string>& plan::preset_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (auto& kv : presets()) n.push_back(kv.first);
    return n;
  }();
  return names;
}

std::shared_ptr<const plan> plan::build(const std::string& preset,
                                        const std::vector<setting>& settings) {
  auto pi = presets().find(preset);
  if (pi == presets().end()) {
    std::string names;
    for (auto& n : preset_names()) names += (names.empty() ? "" : ", ") + n;
    throw input_error::in("", "unknown plan " + quoted(preset) + " (presets: " + names +
                                  "; or a plan file)" + did_you_mean(preset, preset_names()));
  }
  std::shared_ptr<plan> result(new plan());
  result->family_ = pi->second.fam;
  result->preset_ = preset;

  std::size_t order = 0;
  entries global;
  for (auto& kv : pi->second.defaults) global[kv.first] = entry{kv.second, "preset " + preset, order++};
  std::map<std::string, entries> per_account;
  std::map<std::string, entry> model_costs, model_capacities, model_rpm, model_tpm, reserves;
  entries backend;  // backend.KEY, by KEY
  std::map<std::string, entries> model_backends;  // backend.MODEL.KEY, by MODEL then KEY
  for (auto& kv : backend_keys()) backend[kv.first] = entry{kv.second, "default", 0};

  // gate.NAME.KEY, by NAME in the order names first appear.
  std::vector<std::pair<std::string, std::map<std::string, gate_params::value>>> gate_sections;
  std::map<std::string, std::string> gate_where;  // NAME -> where its first key came from
  // account.ACCOUNT.gate.NAME.KEY: by NAME, then KEY; profiles resolved below.
  std::map<std::string, gate_params::account_values> gate_accounts;

  for (auto& s : settings) {
    std::string key = canonical(s.key);
    entry e{s.value, s.where, order++};
    if (starts_with(s.key, gate_prefix)) {
      // gate.NAME.KEY: NAME has no dots; KEY is the gate type's business.
      auto rest = s.key.substr(gate_prefix.size());
      auto dot = rest.find('.');
      auto name = rest.substr(0, dot);
      bool name_ok = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
      });
      if (dot == std::string::npos || dot + 1 == rest.size() || !name_ok)
        throw input_error::at(s.where, 0, s.key,
                              "expected gate.NAME.KEY, NAME of letters, digits, _ and - "
                              "(a [gate.NAME] section)");
      auto section = std::find_if(gate_sections.begin(), gate_sections.end(),
                                  [&](auto& g) { return g.first == name; });
      if (section == gate_sections.end()) {
        gate_sections.emplace_back(name, std::map<std::string, gate_params::value>{});
        section = std::prev(gate_sections.end());
        gate_where[name] = s.where;
      }
      section->second[rest.substr(dot + 1)] = gate_params::value{s.value, s.where};
    } else if (starts_with(key, backend_prefix)) {
      // backend.KEY or backend.MODEL.KEY: MODEL may contain dots, so match the key suffix.
      auto rest = key.substr(backend_prefix.size());
      bool known = false;
      for (auto& kv : backend_keys()) {
        const std::string& k = kv.first;
        if (rest == k) {
          backend[k] = e;
          known = true;
        } else if (rest.size() > k.size() + 1 && rest.compare(rest.size() - k.size(), k.size(), k) == 0 &&
                   rest[rest.size() - k.size() - 1] == '.') {
          model_backends[rest.substr(0, rest.size() - k.size() - 1)][k] = e;
          known = true;
        }
        if (known) break;
      }
      if (!known) {
        std::vector<std::string> names;
        for (auto& kv : backend_keys()) names.push_back(kv.first);
        auto dot = rest.rfind('.');
        auto match = closest_match(dot == std::string::npos ? rest : rest.substr(dot + 1), names);
        throw input_error::at(s.where, 0, s.key,
                              "unknown key (backend.KEY and backend.MODEL.KEY take one of "
                              "replicas, max_streams, throughput, prefill)" +
                                  (match.empty() ? std::string()
                                                 : "; did you mean " +
                                                       quoted(std::string(backend_prefix) +
                                                              (dot == std::string::npos ? "" : rest.substr(0, dot + 1)) +
                                                              match) +
                                                       "?"));
      }
    } else if (starts_with(key, cost_prefix)) {
      auto model = key.substr(cost_prefix.size());
      if (model.empty()) throw input_error::at(s.where, 0, s.key, "missing model name");
      parse_count(s.key, e, false, 1);
      model_costs[model] = e;
    } else if (starts_with(key, model_rpm_prefix) || starts_with(key, model_tpm_prefix)) {
      bool tokens = starts_with(key, model_tpm_prefix);
      auto model = key.substr((tokens ? model_tpm_prefix : model_rpm_prefix).size());
      if (model.empty()) throw input_error::at(s.where, 0, s.key, "missing model name");
      parse_count(s.key, e, true, 1, max_rate_per_minute);
      (tokens ? model_tpm : model_rpm)[model] = e;
    } else if (starts_with(key, reserve_prefix)) {
      auto level = key.substr(reserve_prefix.size());
      reserves[level] = e;
    } else if (starts_with(key, capacity_prefix)) {
      auto model = key.substr(capacity_prefix.size());
      if (model.empty()) throw input_error::at(s.where, 0, s.key, "missing model name");
      parse_count(s.key, e, true, 1);
      model_capacities[model] = e;
    } else if (auto g = account_gate_key(s.key); !g.account.empty()) {
      gate_accounts[g.gate][g.key].push_back(gate_params::account_value{g.account, 0, {s.value, s.where}});
      per_account[g.account];  // the account gets a profile of its own
    } else if (starts_with(key, account_prefix)) {
      // account.NAME.KEY: NAME may itself contain dots, so match the key suffix.
      auto rest = key.substr(account_prefix.size());
      std::string found;
      for (auto& k : {std::string("streams"), std::string("concurrency")})
        if (rest.size() > k.size() + 1 && rest.compare(rest.size() - k.size(), k.size(), k) == 0 &&
            rest[rest.size() - k.size() - 1] == '.')
          found = k;
      for (auto& k : account_keys())
        if (rest.size() > k.size() + 1 && rest.compare(rest.size() - k.size(), k.size(), k) == 0 &&
            rest[rest.size() - k.size() - 1] == '.' && k.size() > found.size())
          found = k;
      if (found.empty()) {
        // The typo is most likely in the key after the last dot.
        auto dot = rest.rfind('.');
        std::vector<std::string> keys(account_keys().begin(), account_keys().end());
        std::string hint;
        if (dot != std::string::npos) {
          auto match = closest_match(rest.substr(dot + 1), keys);
          if (!match.empty())
            hint = "; did you mean " +
                   quoted(std::string(account_prefix) + rest.substr(0, dot + 1) + match) + "?";
        }
        throw input_error::at(s.where, 0, s.key,
                              "unknown key (account.NAME.KEY takes an account key, see "
                              "docs/PLANS.md)" +
                                  hint);
      }
      auto account = rest.substr(0, rest.size() - found.size() - 1);
      per_account[account][canonical(found)] = e;
    } else if (account_keys().count(key) || global_keys().count(key)) {
      global[key] = e;
    } else {
      throw input_error::at(
          s.where, 0, s.key,
          "unknown key (see docs/PLANS.md for every key)" + did_you_mean(s.key, known_keys()));
    }
  }

  // Models named by the plan get ids 0..n-1, in name order.
  std::set<std::string> named;
  for (auto& kv : model_costs) named.insert(kv.first);
  for (auto& kv : model_capacities) named.insert(kv.first);
  for (auto& kv : model_backends) named.insert(kv.first);
  for (auto& kv : model_rpm) named.insert(kv.first);
  for (auto& kv : model_tpm) named.insert(kv.first);
  result->models_.assign(named.begin(), named.end());
  for (auto& m : result->models_) {
    auto c = model_costs.find(m);
    result->model_cost_.push_back(c == model_costs.end() ? -1 : parse_count("cost." + m, c->second, false, 1, max_cost));
    auto k = model_capacities.find(m);
    result->model_capacity_.push_back(
        k == model_capacities.end() ? -2 : parse_count("model_capacity." + m, k->second, true, 1));
    rate_limit_params rates;
    if (auto q = model_rpm.find(m); q != model_rpm.end())
      rates.requests_per_minute =
          parse_count("requests_per_minute." + m, q->second, true, 1, max_rate_per_minute);
    if (auto q = model_tpm.find(m); q != model_tpm.end())
      rates.tokens_per_minute = parse_count("tokens_per_minute." + m, q->second, true, 1, max_rate_per_minute);
    result->has_model_rates_ = result->has_model_rates_ || rates.limited();
    result->model_rates_.push_back(rates);
  }
  result->default_model_capacity_ = parse_count("model_capacity", global.at("model_capacity"), true, 1);
  for (auto& c : result->model_capacity_)
    if (c == -2) c = result->default_model_capacity_;
  {
    const entry& order = global.at("capacity_order");
    if (order.value == "oldest") result->capacity_order_ = capacity_order::oldest;
    else if (order.value == "fair") result->capacity_order_ = capacity_order::fair;
    else bad_value("capacity_order", order, "oldest or fair");
  }
  for (auto& [level_text, e] : reserves) {
    const auto key = std::string(reserve_prefix) + level_text;
    capacity_reserve r;
    r.level = parse_count(key + " (its LEVEL)", entry{level_text, e.where, e.order}, false, 1, max_priority);
    std::string amount = e.value;
    r.percent = !amount.empty() && amount.back() == '%';
    if (r.percent) amount.pop_back();
    r.amount = parse_count(key, entry{amount, e.where, e.order}, false, 0, r.percent ? 100 : std::numeric_limits<std::int64_t>::max());
    for (auto& other : result->reserves_)
      if (other.level == r.level)
        throw input_error::at(e.where, 0, key, "level " + std::to_string(r.level) + " is reserved twice");
    result->reserves_.push_back(r);
  }
  std::sort(result->reserves_.begin(), result->reserves_.end(),
            [](auto& a, auto& b) { return a.level < b.level; });
  if (!reserves.empty()) {
    const auto& first = reserves.begin()->second;
    const auto key = std::string(reserve_prefix) + reserves.begin()->first;
    if (result->default_model_capacity_ < 0 &&
        std::none_of(result->model_capacity_.begin(), result->model_capacity_.end(),
                     [](auto c) { return c >= 0; }))
      throw input_error::at(first.where, 0, key,
                            "reserves part of a model's capacity, but the plan sets no "
                            "model_capacity");
    // Level 0 must keep a unit of every capacity, or it could never run.
    auto check = [&](const std::string& what, std::int64_t c) {
      if (c >= 0 && result->capacity_for_level(c, 0) < 1)
        throw input_error::at(first.where, 0, key,
                              "the reserves leave nothing of " + what + " (" + std::to_string(c) +
                                  ") to requests of level 0");
    };
    check("model_capacity", result->default_model_capacity_);
    for (std::size_t m = 0; m < result->models_.size(); ++m)
      check("model_capacity." + result->models_[m], result->model_capacity_[m]);
  }

  // The backend model: plan-wide keys, then each model's own.
  result->default_backend_ = resolve_backend("backend.", backend);
  for (auto& m : result->models_) {
    auto own = model_backends.find(m);
    if (own == model_backends.end()) {
      result->model_backend_.push_back(result->default_backend_);
      continue;
    }
    entries merged = backend;
    for (auto& kv : own->second) merged[kv.first] = kv.second;
    result->model_backend_.push_back(resolve_backend("backend." + m + ".", merged));
  }

  // Signals.
  auto& sig = result->signals_;
  sig.timeout_rate = parse_fraction("signals.timeout_rate", global.at("signals.timeout_rate"));
  sig.maxed_fraction = parse_fraction("signals.maxed_fraction", global.at("signals.maxed_fraction"));
  sig.mean_queue_wait = parse_duration("signals.mean_queue_wait", global.at("signals.mean_queue_wait"), false);
  {
    const entry& bh = global.at("signals.business_hours");
    int a = -1, b = -1;
    char dash = 0;
    int consumed = 0;
    if (std::sscanf(bh.value.c_str(), "%d%c%d%n", &a, &dash, &b, &consumed) != 3 || dash != '-' ||
        consumed != static_cast<int>(bh.value.size()) || a < 0 || b > 24 || a >= b)
      bad_value("signals.business_hours", bh, "hours as START-END within 0-24, such as 9-17");
    sig.business_start_hour = a;
    sig.business_end_hour = b;
  }

  // Profiles: the default, then each account named in an override.
  result->profiles_.push_back(resolve("", global));
  for (auto& kv : per_account) {
    entries merged = global;
    for (auto& ov : kv.second) merged[ov.first] = ov.second;
    result->profile_by_account_[kv.first] = static_cast<std::uint16_t>(result->profiles_.size());
    result->profiles_.push_back(resolve(kv.first, merged));
  }
  if (result->profiles_.size() > 65535)
    throw input_error::in("", "too many per-account overrides (at most 65534 accounts)");

  // Plug-in gates: each type's factory checks its parameters once here.
  for (auto& [name, keys] : gate_accounts) {
    bool known = std::any_of(gate_sections.begin(), gate_sections.end(),
                             [&, n = name](auto& sec) { return sec.first == n; });
    auto& first = keys.begin()->second.front();
    if (!known)
      throw input_error::at(first.v.where, 0,
                            "account." + first.account + ".gate." + name + "." + keys.begin()->first,
                            "no gate " + quoted(name) + " in the plan (a [gate." + name + "] section)");
    for (auto& [key, list] : keys)
      for (auto& a : list) {
        a.profile = result->profile_by_account_.at(a.account);
        result->effective_["account." + a.account + ".gate." + name + "." + key] = a.v.text;
      }
  }
  for (auto& [name, values] : gate_sections) {
    gate_spec g;
    g.name = name;
    auto type = values.find("type");
    if (type == values.end())
      throw input_error::at(gate_where[name], 0, "gate." + name + ".type",
                            "missing: a [gate." + name + "] section names its type (docs/GATES.md)");
    g.type = type->second.text;
    // `none`: the gate is off in this plan (a variant of a plan file that
    // has it, or a sweep's baseline beside the values it tries); its other
    // keys, the accounts' ones too, are not read.
    if (g.type == gate_type_off) {
      result->effective_["gate." + name + ".type"] = gate_type_off;
      continue;
    }
    g.make = gate_registry::global().find(g.type);
    if (!g.make) {
      auto library = values.find("library");
      throw input_error::at(
          type->second.where, 0, "gate." + name + ".type",
          "unknown gate type " + quoted(g.type) +
              (library != values.end() ? " (its library " + quoted(library->second.text) + " did not add it)"
                                       : "") +
              did_you_mean(g.type, gate_registry::global().names()));
    }
    for (auto& [key, v] : values) result->effective_["gate." + name + "." + key] = v.text;
    values.erase("type");
    values.erase("library");  // loaded before the plan is built (traces/gate_library.hpp)
    g.params = values;
    if (auto i = gate_accounts.find(name); i != gate_accounts.end()) g.by_account = i->second;
    gate_params p(name, g.params, g.by_account, result->profiles_.size());
    auto probe = g.make(p, *result);
    p.check_all_used(g.type);
    g.couples_accounts = probe->couples_accounts();
    result->gates_.push_back(std::move(g));
  }

  for (auto& kv : global) result->effective_[kv.first] = kv.second.value;
  for (auto& kv : model_costs) result->effective_["cost." + kv.first] = kv.second.value;
  for (auto& kv : model_capacities) result->effective_["model_capacity." + kv.first] = kv.second.value;
  for (auto& kv : reserves) result->effective_[std::string(reserve_prefix) + kv.first] = kv.second.value;
  for (auto& kv : model_rpm) result->effective_["requests_per_minute." + kv.first] = kv.second.value;
  for (auto& kv : model_tpm) result->effective_["tokens_per_minute." + kv.first] = kv.second.value;
  // Backend keys only once any is set, so plans without the model read as before.
  if (result->has_backend()) {
    for (auto& kv : backend) result->effective_["backend." + kv.first] = kv.second.value;
  }
  for (auto& m : model_backends)
    for (auto& kv : m.second) result->effective_["backend." + m.first + "." + kv.first] = kv.second.value;
  for (auto& acc : per_account)
    for (auto& kv : acc.second) result->effective_["account." + acc.first + "." + kv.first] = kv.second.value;
  return result;
}

std::uint16_t plan::profile_of(const std::string& account) const {
  auto i = profile_by_account_.find(account);
  return i == profile_by_account_.end() ? 0 : i->second;
}

std::int64_t plan::cost_of(std::uint16_t profile, std::uint32_t model, std::int64_t own_cost) const {
  const auto& p = profiles_[profile];
  if (p.cost_from_trace && own_cost >= 0) return own_cost;
  if (model < model_cost_.size() && model_cost_[model] > 0) return model_cost_[model];
  return p.default_cost;
}

std::int64_t plan::model_capacity(std::uint32_t model) const {
  if (model < model_capacity_.size()) return model_capacity_[model];
  return default_model_capacity_;
}

double backend_params::throughput_at(std::int64_t streams) const {
  // Linear between points, flat after the last (the first is at 1 stream).
  for (std::size_t i = 1; i < throughput.size(); ++i) {
    auto [n1, r1] = throughput[i];
    if (streams <= n1) {
      auto [n0, r0] = throughput[i - 1];
      return r0 + (r1 - r0) * static_cast<double>(streams - n0) / static_cast<double>(n1 - n0);
    }
  }
  return throughput.back().second;
}

const backend_params* plan::backend(std::uint32_t model) const {
  const auto& b = model < model_backend_.size() ? model_backend_[model] : default_backend_;
  return b.replicas > 0 ? &b : nullptr;
}

bool plan::has_backend() const {
  if (default_backend_.replicas > 0) return true;
  return std::any_of(model_backend_.begin(), model_backend_.end(), [](auto& b) { return b.replicas > 0; });
}

std::vector<std::unique_ptr<gate>> plan::make_gates() const {
  std::vector<std::unique_ptr<gate>> out;
  for (const auto& g : gates_) {
    gate_params p(g.name, g.params, g.by_account, profiles_.size());
    out.push_back(g.make(p, *this));
  }
  return out;
}

bool plan::has_shared_gates() const {
  if (default_model_capacity_ >= 0) return true;
  if (std::any_of(gates_.begin(), gates_.end(), [](auto& g) { return g.couples_accounts; })) return true;
  return std::any_of(model_capacity_.begin(), model_capacity_.end(), [](auto c) { return c >= 0; });
}

}  // namespace usher::policies

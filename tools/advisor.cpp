#include "tools/advisor.hpp"

#include <algorithm>
#include <map>

#include "policies/input_error.hpp"
#include "tools/loaded_run.hpp"
#include "tools/parallel_runs.hpp"
#include "traces/plan_file.hpp"

namespace usher::tools {

using nlohmann::json;
using policies::family;
using policies::input_error;

namespace {

// One account's bisection: `lo` is known not to clear, `hi` to clear (once verified).
struct search {
  std::string account;
  std::int64_t lo = 0, hi = 1;
  bool verified = false;
  double reject_at_hi = 0;
};

class advisor {
 public:
  advisor(const traces::loaded_trace& trace, const advise_request& request)
      : trace_(trace), request_(request) {
    current_ = traces::load_plan(request.plan, request.sets);
    for (std::uint32_t i = 0; i < trace.accounts().size(); ++i)
      if (current_->profile_of(trace.accounts().name(i)) != 0) named_.push_back(trace.accounts().name(i));
  }

  const policies::plan& current() const { return *current_; }

  // Plans for one round: the current plan plus each list of overrides.
  std::vector<json> run(const std::vector<std::vector<std::string>>& variants) {
    std::vector<std::shared_ptr<const policies::plan>> plans;
    for (auto& extra : variants) {
      auto settings = request_.sets;
      settings.insert(settings.end(), extra.begin(), extra.end());
      plans.push_back(traces::load_plan(request_.plan, settings, "advise"));
    }
    std::vector<json> out(plans.size());
    run_parallel(plans.size(), request_.jobs, [&](std::size_t i, std::size_t slot) {
      out[i] = run_loaded(trace_, plans[i], request_.plan,
                          request_.progress ? &request_.progress->reached(slot) : nullptr,
                          request_.clients);
    }, nullptr);
    runs_ += plans.size();
    if (request_.progress) request_.progress->draw(runs_);
    return out;
  }

  // Every account on `key`=`value`, accounts the plan names included.
  std::vector<std::string> everyone(const std::string& key, const std::string& value) const {
    std::vector<std::string> s = {key + "=" + value};
    for (auto& n : named_) s.push_back("account." + n + "." + key + "=" + value);
    return s;
  }

  std::size_t runs() const { return runs_; }

 private:
  const traces::loaded_trace& trace_;
  const advise_request& request_;
  std::shared_ptr<const policies::plan> current_;
  std::vector<std::string> named_;
  std::size_t runs_ = 0;
};

std::int64_t setting_count(const policies::plan& p, const std::string& key) {
  return std::stoll(p.effective().at(key));
}

// Drives every account's bisection together: one run per round, each
// pending account at its own probe. `clears(summary entry)` says whether
// the account meets its target at the probed size.
template <class Clears>
void bisect(advisor& a, std::vector<search>& searches, Clears clears) {
  auto probe = [&](auto size_of) {
    std::vector<std::string> overrides;
    std::vector<std::size_t> probed;
    for (std::size_t i = 0; i < searches.size(); ++i) {
      auto n = size_of(searches[i]);
      if (n < 0) continue;
      overrides.push_back("account." + searches[i].account + ".limit=" + std::to_string(n));
      probed.push_back(i);
    }
    if (probed.empty()) return false;
    auto summary = a.run({overrides})[0];
    for (auto i : probed) {
      auto& s = searches[i];
      auto n = size_of(s);
      const json& entry = summary["accounts"][s.account];
      if (clears(entry)) {
        s.hi = n;
        s.verified = true;
        s.reject_at_hi = outcome_metrics::of(entry).rate_429;
      } else {
        s.lo = n;
        if (!s.verified) s.hi = std::max<std::int64_t>(2 * n, n + 1);
      }
    }
    return true;
  };
  // Verify each upper end, doubling it until it clears (bounded).
  for (int round = 0; round < 40; ++round)
    if (!probe([](const search& s) { return s.verified ? std::int64_t{-1} : s.hi; })) break;
  // Then halve every interval until it closes.
  while (probe([](const search& s) {
    return s.verified && s.hi - s.lo > 1 ? s.lo + (s.hi - s.lo) / 2 : std::int64_t{-1};
  })) {
  }
}

}  // namespace

advice advise_plan(const traces::loaded_trace& trace, const advise_request& request) {
  advisor a(trace, request);
  const auto& plan = a.current();
  advice out;
  out.fam = plan.base();
  out.plan = request.plan;
  if (out.fam == family::session_rate)
    throw input_error::at("--family", 0, "",
                          "session-rate has no size to advise (its cap adapts by itself); use "
                          "streams, weighted, per-model or exclusive");
  if (plan.has_shared_gates())
    throw input_error::at("--plan", 0, "model_capacity",
                          "a provider-wide model capacity couples the accounts; advise sizes "
                          "accounts one by one and needs plans without it");
  if (plan.has_backend())
    throw input_error::at("--plan", 0, "backend.replicas",
                          "a backend model couples the accounts through its servers; advise sizes "
                          "accounts one by one and needs plans without it");
  bool streams = out.fam == family::streams;

  // The current plan, the candidate tiers and no limit at all, at once.
  std::vector<std::vector<std::string>> first = {{}, a.everyone("limit", "none")};
  if (streams) {
    first.push_back(a.everyone("tier", "solo"));
    first.push_back(a.everyone("tier", "team"));
  }
  auto results = a.run(first);
  const json& now = results[0];
  const json& unlimited = results[1];

  auto streams_clear = [](const json& entry) { return !entry["signals"]["upgrade"].get<bool>(); };
  double target = request.target_reject;
  auto under_target = [target](const json& entry) {
    return outcome_metrics::of(entry).rate_429 <= target;
  };

  std::vector<search> searches;
  for (auto& [name, entry] : now["accounts"].items()) {
    account_advice adv;
    adv.account = name;
    adv.now = outcome_metrics::of(entry);
    adv.limit = entry["limit"].is_null() ? -1 : entry["limit"].get<std::int64_t>();
    if (entry.contains("tier")) adv.tier = entry["tier"].get<std::string>();
    adv.reject_rate = adv.now.rate_429;
    if (streams) {
      const json& s = entry["signals"];
      adv.timeout_rate = s["timeout_rate"].get<double>();
      adv.mean_queue_wait_s = s["mean_queue_wait_s"].get<double>();
      adv.maxed_fraction = s["maxed_business_hours_fraction"].get<double>();
      adv.timeouts = s["timeouts_over_threshold"].get<bool>();
      adv.waits = s["mean_queue_wait_over_threshold"].get<bool>();
      adv.maxed = s["maxed_through_business_hours"].get<bool>();
      if (streams_clear(results[2]["accounts"][name])) {
        adv.advice_tier = "solo";
        adv.advice_limit = setting_count(plan, "tiers.solo");
      } else if (streams_clear(results[3]["accounts"][name])) {
        adv.advice_tier = "team";
        adv.advice_limit = setting_count(plan, "tiers.team");
      } else {
        adv.advice_tier = "platform";
        search s;
        s.account = name;
        s.lo = setting_count(plan, "tiers.team");
        s.hi = std::max(unlimited["accounts"][name]["in_flight"]["peak"].get<std::int64_t>() + 1, s.lo + 1);
        searches.push_back(s);
      }
    } else {
      search s;
      s.account = name;
      s.lo = 0;
      s.hi = std::max<std::int64_t>(unlimited["accounts"][name]["used_units"]["peak"].get<std::int64_t>(), 1);
      if (adv.now.requests == 0 || target >= 1.0) {
        adv.advice_limit = 0;
      } else {
        searches.push_back(s);
      }
    }
    out.accounts.push_back(adv);
  }

  if (!searches.empty()) {
    if (streams) bisect(a, searches, streams_clear);
    else bisect(a, searches, under_target);
  }
  for (auto& s : searches) {
    auto it = std::find_if(out.accounts.begin(), out.accounts.end(),
                           [&](const account_advice& x) { return x.account == s.account; });
    it->found = s.verified;
    it->advice_limit = s.hi;
    it->reject_rate_at_advice = s.reject_at_hi;
    if (!s.verified) it->note = "no size up to " + std::to_string(s.hi) + " cleared";
  }
  out.runs = a.runs();
  return out;
}

}  // namespace usher::tools

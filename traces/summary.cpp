#include "traces/summary.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace usher::traces {

using namespace policies;
using nlohmann::json;

namespace {

double round6(double x) { return std::round(x * 1e6) / 1e6; }
double secs(std::int64_t us) { return round6(static_cast<double>(us) / 1e6); }
double ratio(std::int64_t a, std::int64_t b) {
  return b <= 0 ? 0.0 : round6(static_cast<double>(a) / static_cast<double>(b));
}

json metrics(const usage_totals& t, usec span, const plan& p, bool pool_per_account,
             std::int64_t peak_in_flight, std::int64_t peak_used) {
  json m;
  m["requests"] = t.requests;
  json by_status = json::object();
  for (std::size_t i = 0; i < reported_statuses.size(); ++i)
    if (t.by_status[i] > 0) by_status[std::to_string(static_cast<int>(reported_statuses[i]))] = t.by_status[i];
  m["status"] = by_status;
  m["queued"] = t.queued;
  auto count = [&](status s) { return t.by_status[status_slot(s)]; };
  m["queued_rate"] = ratio(t.queued, t.requests);
  m["reject_rate"] = ratio(count(status::rejected) + count(status::policy_close), t.requests);
  m["timeout_rate"] = ratio(count(status::timeout), t.requests);
  std::int64_t decided = static_cast<std::int64_t>(t.waits.count());
  m["wait_s"] = {{"mean", secs(decided == 0 ? 0 : t.wait_sum / decided)},
                 {"p50", secs(t.waits.quantile(0.50))},
                 {"p95", secs(t.waits.quantile(0.95))},
                 {"p99", secs(t.waits.quantile(0.99))},
                 {"max", secs(t.wait_max)}};
  m["queued_wait_mean_s"] = secs(t.queued == 0 ? 0 : t.queued_wait_sum / t.queued);
  m["hold_s"] = {{"mean", secs(t.holds == 0 ? 0 : t.hold_sum / t.holds)},
                 {"max", secs(t.hold_max)}};
  m["in_flight"] = {{"peak", peak_in_flight}, {"mean", ratio(t.in_flight_area, span)}};
  m["used_units"] = {{"peak", peak_used}, {"mean", ratio(t.used_area, span)}};
  if (t.limit >= 0) m["limit"] = t.limit; else m["limit"] = nullptr;
  if (t.limit > 0 && pool_per_account)
    m["utilization"] = round6(static_cast<double>(t.used_area) / static_cast<double>(span) /
                              static_cast<double>(t.limit));
  else
    m["utilization"] = nullptr;
  m["requests_per_minute"] =
      span <= 0 ? 0.0 : round6(static_cast<double>(t.requests) * 60e6 / static_cast<double>(span));
  if (p.base() == family::streams) {
    const auto& sig = p.signals();
    double timeout_rate = ratio(count(status::timeout), t.requests);
    usec mean_wait = t.queued == 0 ? 0 : t.queued_wait_sum / t.queued;
    json s;
    s["timeout_rate"] = timeout_rate;
    s["timeouts_over_threshold"] = timeout_rate > sig.timeout_rate;
    s["mean_queue_wait_s"] = secs(mean_wait);
    s["mean_queue_wait_over_threshold"] = mean_wait > sig.mean_queue_wait;
    s["maxed_business_hours_s"] = secs(t.maxed_business);
    s["upgrade"] = timeout_rate > sig.timeout_rate || mean_wait > sig.mean_queue_wait;
    m["signals"] = s;
  }
  return m;
}

// A share as the table prints it: one decimal, so the mean use of many
// pools together (the (all) row, of the summed limits) never rounds a busy
// run down to "0%"; "-" when there is none.
std::string utilization_text(const json& share) {
  if (share.is_null()) return "-";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f%%", share.get<double>() * 100);
  return buf;
}

}  // namespace

json make_summary(const plan& p, const run_info& run,
                  const std::vector<std::pair<std::string, usage_totals>>& accounts) {
  usec span = std::max<usec>(run.end - run.first_arrival, 1);
  usec business = business_overlap(run.first_arrival, run.end, p.signals().business_start_hour,
                                   p.signals().business_end_hour);
  json out;
  out["plan"] = {{"spec", run.plan},
                 {"family", std::string(to_string(p.base()))},
                 {"settings", p.effective()}};
  out["trace"] = {{"file", run.trace},
                  {"rows", run.rows},
                  {"accounts", accounts.size()},
                  {"first_arrival_s", secs(run.first_arrival)},
                  {"end_s", secs(run.end)},
                  {"span_s", secs(span)},
                  {"business_hours_s", secs(business)}};
  out["seed"] = run.seed;
  out["interval_s"] = secs(run.interval);

  usage_totals all;
  bool first = true;
  bool all_per_account = true;  // a summed limit means something only then
  json per_account = json::object();
  for (auto& [name, t] : accounts) {
    const auto& prof = p.profile(p.profile_of(name));
    bool per_account_pool = prof.scope == pool_scope::account;
    all_per_account = all_per_account && per_account_pool;
    json m = metrics(t, span, p, per_account_pool, t.peak_in_flight, t.peak_used);
    if (m.contains("signals")) {
      double maxed = business <= 0 ? 0.0 : ratio(t.maxed_business, business);
      m["signals"]["maxed_business_hours_fraction"] = maxed;
      m["signals"]["maxed_through_business_hours"] = business > 0 && maxed >= p.signals().maxed_fraction;
      m["signals"]["upgrade"] = m["signals"]["upgrade"].get<bool>() ||
                                m["signals"]["maxed_through_business_hours"].get<bool>();
    }
    if (!prof.tier.empty()) m["tier"] = prof.tier;
    per_account[name] = m;
    if (first) {
      all = t;
      first = false;
    } else {
      all.merge(t);
    }
  }
  json overall = metrics(all, span, p, all_per_account, run.peak_in_flight, run.peak_used);
  if (overall.contains("signals")) {
    overall["signals"].erase("maxed_business_hours_s");
    overall["accounts_to_upgrade"] = std::count_if(
        per_account.begin(), per_account.end(),
        [](const json& m) { return m["signals"]["upgrade"].get<bool>(); });
  }
  out["overall"] = overall;
  out["accounts"] = per_account;
  return out;
}

std::string summary_table(const json& summary, std::size_t top) {
  std::string out;
  char line[256];
  // The final statuses with a column of their own; the rest (400, 499, 500)
  // add up in "other", so the five columns always sum to the requests.
  static const char* shown[] = {"200", "408", "429", "1008"};
  auto status_of = [](const json& m, const char* code) -> long long {
    auto& s = m["status"];
    return s.contains(code) ? s[code].get<long long>() : 0;
  };
  auto others = [&](const json& m) {
    long long n = 0;
    for (auto& [code, count] : m["status"].items())
      if (std::find(std::begin(shown), std::end(shown), code) == std::end(shown))
        n += count.get<long long>();
    return n;
  };
  auto row = [&](const std::string& name, const json& m) {
    std::snprintf(line, sizeof(line),
                  "%-24.24s %9lld | %9lld %7lld %7lld %7lld %7lld | %7lld %9.3f %6lld %7s\n",
                  name.c_str(), m["requests"].get<long long>(), status_of(m, "200"),
                  status_of(m, "408"), status_of(m, "429"), status_of(m, "1008"), others(m),
                  m["queued"].get<long long>(), m["wait_s"]["p95"].get<double>(),
                  m["in_flight"]["peak"].get<long long>(),
                  utilization_text(m["utilization"]).c_str());
    out += line;
  };
  const auto& t = summary["trace"];
  std::snprintf(line, sizeof(line), "plan %s (%s) | trace %s: %llu rows, %zu accounts, %.1f s\n",
                summary["plan"]["spec"].get<std::string>().c_str(),
                summary["plan"]["family"].get<std::string>().c_str(),
                t["file"].get<std::string>().c_str(), t["rows"].get<unsigned long long>(),
                static_cast<std::size_t>(t["accounts"].get<long long>()), t["span_s"].get<double>());
  out += line;
  std::snprintf(line, sizeof(line), "%-24s %9s | %9s %7s %7s %7s %7s | %7s %9s %6s %7s\n",
                "account", "requests", "200", "408", "429", "1008", "other", "queued", "p95 wait",
                "peak", "util");
  out += line;
  row("(all)", summary["overall"]);
  std::vector<std::pair<std::string, const json*>> accounts;
  for (auto& [name, m] : summary["accounts"].items()) accounts.emplace_back(name, &m);
  using entry = std::pair<std::string, const json*>;
  std::stable_sort(accounts.begin(), accounts.end(), [](const entry& a, const entry& b) {
    return (*a.second)["requests"].get<long long>() > (*b.second)["requests"].get<long long>();
  });
  for (std::size_t i = 0; i < accounts.size() && i < top; ++i) row(accounts[i].first, *accounts[i].second);
  if (accounts.size() > top)
    out += "... " + std::to_string(accounts.size() - top) + " more accounts in summary.json\n";
  if (others(summary["overall"]) > 0) {
    out += "other statuses:";
    std::string sep = " ";
    for (auto& [code, count] : summary["overall"]["status"].items())
      if (std::find(std::begin(shown), std::end(shown), code) == std::end(shown)) {
        out += sep + code + " x " + std::to_string(count.get<long long>());
        sep = ", ";
      }
    out += " (docs/FORMATS.md)\n";
  }
  if (summary["overall"].contains("accounts_to_upgrade")) {
    auto n = summary["overall"]["accounts_to_upgrade"].get<long long>();
    std::vector<std::string> names;
    for (auto& [name, m] : summary["accounts"].items())
      if (m["signals"]["upgrade"].get<bool>()) names.push_back(name);
    out += "upgrade signals (streams seed): " + std::to_string(n) + " account(s)";
    for (std::size_t i = 0; i < names.size() && i < 10; ++i) out += (i ? ", " : ": ") + names[i];
    if (names.size() > 10) out += ", ...";
    out += "\n";
  }
  return out;
}

}  // namespace usher::traces

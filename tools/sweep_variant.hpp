#pragma once
/// One variant's result in a sweep: the overall and per-account metrics its
/// rows of sweep.csv and sweep_accounts.csv are made of. As JSON it is a
/// line of the sweep's journal (--resume) and a remote worker's answer
/// (tools/sweep_workers.hpp); from_json(to_json()) gives the same numbers
/// bit for bit, so rows built from either are the bytes a local run writes.

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "tools/outcome_metrics.hpp"

namespace usher::tools {

struct variant_result {
  outcome_metrics overall;
  std::vector<std::pair<std::string, outcome_metrics>> accounts;  ///< in name order

  /// From the summary run_loaded returns (tools/loaded_run.hpp).
  static variant_result of_summary(const nlohmann::json& summary) {
    variant_result r;
    r.overall = outcome_metrics::of(summary["overall"]);
    for (auto& [name, m] : summary["accounts"].items()) r.accounts.emplace_back(name, outcome_metrics::of(m));
    return r;
  }

  /// {"overall": {...}, "accounts": {NAME: {...}, ...}}
  nlohmann::json to_json() const {
    nlohmann::json a = nlohmann::json::object();
    for (auto& [name, m] : accounts) a[name] = m.to_json();
    return {{"overall", overall.to_json()}, {"accounts", a}};
  }

  /// Reads what to_json() wrote. Throws nlohmann::json's errors when a key is missing.
  static variant_result from_json(const nlohmann::json& j) {
    variant_result r;
    r.overall = outcome_metrics::from_json(j.at("overall"));
    for (auto& [name, m] : j.at("accounts").items()) r.accounts.emplace_back(name, outcome_metrics::from_json(m));
    return r;
  }
};

}  // namespace usher::tools

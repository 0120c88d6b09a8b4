#pragma once
/// Turns a replay's totals into summary.json and the readable table printed
/// on stdout (docs/FORMATS.md, "summary.json"). Every rate is derived here
/// from integer totals, so the same run prints the same bytes.

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "policies/plan.hpp"
#include "policies/usage_meter.hpp"

namespace usher::traces {

struct run_info {
  std::string trace;
  std::string plan;
  std::uint64_t seed = 0;
  std::uint64_t rows = 0;
  policies::usec first_arrival = 0;
  policies::usec end = 0;            ///< last event
  policies::usec interval = 0;
  std::int64_t peak_in_flight = 0;   ///< all accounts at one instant
  std::int64_t peak_used = 0;
};

/// REQUIRES: `accounts` holds one entry per account, any order.
nlohmann::json make_summary(const policies::plan& p, const run_info& run,
                            const std::vector<std::pair<std::string, policies::usage_totals>>& accounts);

/// The table: overall first, then the `top` accounts with most requests.
std::string summary_table(const nlohmann::json& summary, std::size_t top);

}  // namespace usher::traces

#pragma once
/// `usher advise`'s search: for each account, the smallest plan size that
/// clears what the account's seed tells a customer to watch, found by
/// simulating candidate sizes on a trace held in memory.
///
/// - streams: the upgrade signals (timeouts over 5 % of requests, mean queue
///   wait over 10 s, streams at the limit through business hours; thresholds
///   from the plan's signals.*). Candidates in order: solo, team (the plan's
///   tiers.solo, tiers.team), then platform N for the smallest N above team
///   that clears, found by bisection between team and the account's peak in
///   flight with no limit plus one (where nothing ever queues).
/// - weighted, per-model, exclusive: the smallest `limit` at which at most
///   `target_reject` of the account's requests end in 429, by bisection
///   between 0 and the account's peak use with no limit (doubled until the
///   target holds, for 429s the pool does not cause, such as a connection
///   cap).
///
/// Accounts that share no gate are independent (docs/PLANS.md), so one run
/// tries a candidate for every account at once, through account.NAME.*
/// overrides; a plan with a provider-wide model capacity couples accounts
/// and is refused. Bisection assumes that a larger size never makes an
/// account worse; each advised size was itself simulated and seen to clear.

#include <cstdint>
#include <string>
#include <vector>

#include "policies/plan.hpp"
#include "tools/outcome_metrics.hpp"
#include "tools/workload_file.hpp"
#include "traces/loaded_trace.hpp"

namespace usher::tools {

class progress_line;

struct advise_request {
  std::string plan;                ///< the current plan: preset or file (with @ overrides)
  std::vector<std::string> sets;   ///< --set overrides of the current plan
  double target_reject = 0.01;     ///< limit families: largest acceptable 429 share
  std::size_t jobs = 1;            ///< runs at once where runs are independent
  const workload* clients = nullptr;  ///< generated clients beside the trace, or none
  progress_line* progress = nullptr;
};

struct account_advice {
  std::string account;
  outcome_metrics now;            ///< under the current plan
  std::string tier;               ///< current streams tier ("" when none)
  std::int64_t limit = -1;        ///< current pool limit (-1 unlimited)
  // streams: the signals as observed under the current plan
  double timeout_rate = 0, mean_queue_wait_s = 0, maxed_fraction = 0;
  bool timeouts = false, waits = false, maxed = false;
  // limit families: the current 429 share
  double reject_rate = 0;
  // the advice
  std::string advice_tier;        ///< streams: solo, team or platform
  std::int64_t advice_limit = -1; ///< the size that clears
  double reject_rate_at_advice = 0;  ///< limit families
  bool found = true;              ///< false when no size cleared (see note)
  std::string note;
};

struct advice {
  policies::family fam = policies::family::streams;
  std::string plan;
  std::size_t runs = 0;           ///< simulations it took
  std::vector<account_advice> accounts;  ///< by account name
};

/// Runs the search. Throws policies::input_error when the plan's family has
/// no size to advise (session-rate) or couples accounts.
advice advise_plan(const traces::loaded_trace& trace, const advise_request& request);

}  // namespace usher::tools

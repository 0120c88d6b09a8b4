#include "tools/loaded_run.hpp"

#include <stdexcept>

#include "actors/simulation.hpp"
#include "traces/summary.hpp"

namespace usher::tools {

nlohmann::json run_loaded(const traces::loaded_trace& trace,
                          std::shared_ptr<const policies::plan> plan, const std::string& plan_spec,
                          std::atomic<policies::usec>* reached) {
  traces::loaded_trace::plan_view view(trace, plan);
  actors::client_actor_config cfg;
  cfg.plan = plan;
  // simulate's default step: the summary records it, and the meters' work
  // per interval is the same as in the run it must equal.
  cfg.interval = policies::seconds(60);
  cfg.io.read = [&](std::vector<policies::arrival>& rows, std::size_t max, std::string&) {
    view.read(rows, max);
    if (reached) reached->store(view.reached(), std::memory_order_relaxed);
    return true;
  };
  cfg.io.write_outcome = [](const policies::outcome&) {};
  cfg.io.write_series = [](const policies::interval_row&) {};
  auto result = actors::run_replay(std::move(cfg), actors::clock_kind::virtual_clock, 1);
  if (!result.ok) throw std::runtime_error(result.error);

  traces::run_info run;
  run.trace = trace.path();
  run.plan = plan_spec;
  run.seed = 1;  // simulate's default seed: recorded, unused by a trace
  run.rows = trace.rows().size();
  run.first_arrival = trace.rows().empty() ? 0 : trace.rows().front().at;
  run.end = result.end;
  run.interval = policies::seconds(60);
  run.peak_in_flight = result.peak_in_flight;
  run.peak_used = result.peak_used;
  std::vector<std::pair<std::string, policies::usage_totals>> accounts;
  accounts.reserve(result.accounts.size());
  for (auto& [id, totals] : result.accounts) accounts.emplace_back(trace.accounts().name(id), totals);
  return traces::make_summary(*plan, run, accounts);
}

}  // namespace usher::tools

#include "tools/loaded_run.hpp"

#include <optional>
#include <stdexcept>

#include "actors/simulation.hpp"
#include "tools/simulation_run.hpp"
#include "traces/summary.hpp"

namespace usher::tools {

nlohmann::json run_loaded(const traces::loaded_trace& trace,
                          std::shared_ptr<const policies::plan> plan, const std::string& plan_spec,
                          std::atomic<policies::usec>* reached, const workload* clients) {
  // A workload's accounts and models take their ids before the trace's, as
  // in run_simulation.
  std::vector<std::string> first_accounts, first_models;
  if (clients)
    for (auto& g : clients->groups)
      for (auto& name : clients->account_names(g)) {
        first_accounts.push_back(name);
        if (!g.spec.model.empty()) first_models.push_back(g.spec.model);
      }
  traces::loaded_trace::plan_view view(trace, plan, first_accounts, first_models);
  std::vector<std::string> group_of;
  std::vector<actors::generated_account> generated;
  if (clients)
    generated = generated_accounts(
        *clients, *plan, [&](const std::string& n) { return view.account_id(n); },
        [&](const std::string& n) { return view.model_id(n); }, group_of);

  actors::client_actor_config cfg;
  cfg.plan = plan;
  // simulate's default step: the summary records it, and the meters' work
  // per interval is the same as in the run it must equal.
  cfg.interval = policies::seconds(60);
  cfg.generated = generated;
  if (clients) cfg.generate_until = clients->stop;
  cfg.io.read = [&](std::vector<policies::arrival>& rows, std::size_t max, std::string&) {
    view.read(rows, max);
    if (reached) reached->store(view.reached(), std::memory_order_relaxed);
    return true;
  };
  // No outcomes.csv; only the first outcome's arrival, which simulate's
  // summary takes from its writer.
  std::optional<policies::usec> first_arrival;
  cfg.io.write_outcome = [&](const policies::outcome& o) {
    if (!first_arrival) first_arrival = o.at;
  };
  cfg.io.write_series = [](const policies::interval_row&) {};
  auto result = actors::run_replay(std::move(cfg), actors::clock_kind::virtual_clock, 1);
  if (!result.ok) throw std::runtime_error(result.error);

  traces::run_info run;
  run.trace = trace.path().empty() && clients ? clients->path : trace.path();
  run.plan = plan_spec;
  run.seed = clients ? clients->seed : 1;  // simulate's default seed, unused by a trace alone
  run.rows = trace.rows().size();
  run.first_arrival = first_arrival.value_or(0);
  run.end = result.end;
  run.interval = policies::seconds(60);
  run.peak_in_flight = result.peak_in_flight;
  run.peak_used = result.peak_used;
  std::vector<std::pair<std::string, policies::usage_totals>> accounts;
  accounts.reserve(result.accounts.size());
  for (auto& [id, totals] : result.accounts) accounts.emplace_back(view.accounts().name(id), totals);
  auto summary = traces::make_summary(*plan, run, accounts);
  if (!generated.empty())
    summary["clients"] = clients_summary(result.clients, generated, view.accounts(), group_of);
  return summary;
}

}  // namespace usher::tools

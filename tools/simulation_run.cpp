#include "tools/simulation_run.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "actors/simulation.hpp"
#include "policies/input_error.hpp"
#include "tools/plots.hpp"
#include "tools/sharded_run.hpp"
#include "tools/workload_file.hpp"
#include "traces/outcome_writer.hpp"
#include "traces/plan_file.hpp"
#include "traces/summary.hpp"
#include "traces/trace_reader.hpp"

namespace usher::tools {

namespace fs = std::filesystem;
using policies::input_error;

namespace {

double round6(double x) { return std::round(x * 1e6) / 1e6; }

}  // namespace

nlohmann::json clients_summary(
    const std::vector<std::pair<std::uint32_t, actors::clients::client_stats>>& stats,
    const std::vector<actors::generated_account>& generated, const traces::interner& accounts,
    const std::vector<std::string>& group_of) {
  nlohmann::json out = nlohmann::json::object();
  for (auto& [index, s] : stats) {
    nlohmann::json c;
    c["group"] = group_of[index];
    c["behaviour"] = s.behaviour;
    c["requests"] = s.logical;
    c["succeeded"] = s.succeeded;
    c["failed"] = s.failed;
    c["in_progress"] = s.logical - s.succeeded - s.failed;
    c["attempts"] = s.attempts;
    c["retries"] = s.attempts - s.logical;
    c["success_rate"] = s.logical == 0 ? 0.0 : round6(static_cast<double>(s.succeeded) / static_cast<double>(s.logical));
    if (s.behaviour == "limited")
      c["client_wait_mean_s"] = s.logical == 0 ? 0.0 : round6(static_cast<double>(s.client_wait) / static_cast<double>(s.logical) / 1e6);
    if (s.behaviour == "conversations") c["turns_answered"] = s.turns;
    if (s.behaviour == "batch") {
      if (s.completed_at >= 0) c["completed_s"] = round6(static_cast<double>(s.completed_at) / 1e6);
      else c["completed_s"] = nullptr;
    }
    out[accounts.name(generated[index].account)] = c;
  }
  return out;
}

std::string clients_table(
    const workload& w, const std::vector<std::pair<std::uint32_t, actors::clients::client_stats>>& stats,
    const std::vector<std::string>& group_of) {
  std::string out = "clients                  behaviour        requests  succeeded    failed  attempts\n";
  for (auto& g : w.groups) {
    actors::clients::client_stats sum;
    for (auto& [index, s] : stats)
      if (group_of[index] == g.name) {
        sum.logical += s.logical;
        sum.succeeded += s.succeeded;
        sum.failed += s.failed;
        sum.attempts += s.attempts;
      }
    char line[200];
    std::snprintf(line, sizeof(line), "%-24.24s %-13s %11lld %10lld %9lld %9lld\n", g.name.c_str(),
                  g.spec.behaviour.c_str(), static_cast<long long>(sum.logical),
                  static_cast<long long>(sum.succeeded), static_cast<long long>(sum.failed),
                  static_cast<long long>(sum.attempts));
    out += line;
  }
  return out;
}

std::vector<std::string> run_outputs() {
  std::vector<std::string> names = {"outcomes.csv", "timeseries.csv", "summary.json"};
  names.insert(names.end(), run_plot_files().begin(), run_plot_files().end());
  return names;
}

simulation_output run_simulation(const simulation_request& request) {
  if (request.interval <= 0) throw input_error::at("--interval", 0, "", "expected a positive number of seconds");
  if (request.threads == 0) throw input_error::at("--threads", 0, "", "expected 1 or more");
  auto plan = traces::load_plan(request.plan, request.sets);
  workload w;
  if (!request.workload.empty()) w = read_workload_file(request.workload);
  if (request.stop) w.stop = *request.stop;
  if (request.seed) w.seed = *request.seed;
  for (auto& c : request.clients) add_client_option(w, c);
  std::string trace = request.trace.empty() ? w.trace : request.trace;
  if (trace.empty() && w.groups.empty())
    throw input_error::at("--trace", 0, "", "nothing to simulate: give a trace, a workload or --client");
  // A trace alone on several threads: its accounts in shards at once.
  // Generated clients run on CAF's scheduler instead (below).
  if (request.threads > 1 && w.groups.empty()) return run_sharded(request, plan, trace, w.seed);
  traces::trace_reader reader(trace, plan);

  // Generated accounts get their ids before any trace row: ids stay the
  // same whatever the trace holds.
  std::vector<std::string> client_names;
  auto generated = generated_accounts(
      w, *plan, [&](const std::string& n) { return reader.intern_account(n); },
      [&](const std::string& n) { return reader.intern_model(n); }, client_names);

  // Everything is checked: only now is anything written.
  if (!request.out_dir.empty()) fs::create_directories(request.out_dir);
  auto output = [&](const char* name) { return output_path(request.out_dir, name); };
  traces::outcome_writer outcomes(output("outcomes.csv"), reader, client_names);
  traces::series_writer series(output("timeseries.csv"), reader.accounts(), request.interval);

  actors::client_actor_config cfg;
  cfg.plan = plan;
  cfg.interval = request.interval;
  cfg.shards = static_cast<std::uint32_t>(request.threads);
  cfg.generated = generated;
  cfg.generate_until = w.stop;
  cfg.io.read = [&](std::vector<policies::arrival>& rows, std::size_t max, std::string& error) {
    bool ok = reader.read(rows, max, error);
    if (request.reached && !rows.empty())
      request.reached->store(rows.back().at, std::memory_order_relaxed);
    return ok;
  };
  // Errors while writing are kept and raised after the replay: no exception
  // may cross an actor's behaviour.
  std::string write_error;
  cfg.io.write_outcome = [&](const policies::outcome& o) {
    if (!write_error.empty()) return;
    try {
      outcomes.write(o);
    } catch (const std::exception& e) {
      write_error = e.what();
    }
  };
  cfg.io.write_series = [&](const policies::interval_row& r) {
    if (!write_error.empty()) return;
    try {
      series.write(r);
    } catch (const std::exception& e) {
      write_error = e.what();
    }
  };
  auto result = actors::run_replay(
      std::move(cfg),
      request.threads == 1 ? actors::clock_kind::virtual_clock : actors::clock_kind::real_clock,
      request.threads);
  if (!result.ok) throw input_error::in("", result.error);
  if (!write_error.empty()) throw std::runtime_error(write_error);
  outcomes.close();
  series.close();

  traces::run_info run;
  run.trace = trace.empty() ? request.workload : trace;
  run.plan = request.plan;
  run.seed = w.seed;
  run.rows = reader.rows_read();
  run.first_arrival = outcomes.first_arrival();
  run.end = result.end;
  run.interval = request.interval;
  run.peak_in_flight = result.peak_in_flight;
  run.peak_used = result.peak_used;
  std::vector<std::pair<std::string, policies::usage_totals>> accounts;
  for (auto& [id, totals] : result.accounts) accounts.emplace_back(reader.accounts().name(id), totals);
  simulation_output out;
  out.summary = traces::make_summary(*plan, run, accounts);
  if (!generated.empty()) {
    out.summary["clients"] = clients_summary(result.clients, generated, reader.accounts(), client_names);
    out.clients_table = clients_table(w, result.clients, client_names);
  }
  if (!request.out_dir.empty()) write_summary(output("summary.json"), out.summary);
  return out;
}

std::string output_path(const std::string& out_dir, const char* name) {
  return out_dir.empty() ? std::string("/dev/null") : (fs::path(out_dir) / name).string();
}

void write_summary(const std::string& path, const nlohmann::json& summary) {
  std::ofstream file(path, std::ios::binary);
  file << summary.dump(2) << "\n";
  file.close();
  if (!file) throw std::runtime_error(path + ": write failed");
}

}  // namespace usher::tools

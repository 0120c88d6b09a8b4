#include "tools/simulation_run.hpp"

#include <filesystem>
#include <fstream>

#include "actors/simulation.hpp"
#include "policies/input_error.hpp"
#include "traces/outcome_writer.hpp"
#include "traces/plan_file.hpp"
#include "traces/summary.hpp"
#include "traces/trace_reader.hpp"

namespace usher::tools {

namespace fs = std::filesystem;
using policies::input_error;

namespace {

const char* output_names[] = {"outcomes.csv", "timeseries.csv", "summary.json"};

// Temporary output files that disappear unless committed.
class staged_outputs {
 public:
  explicit staged_outputs(const std::string& dir) : dir_(dir) {
    if (dir.empty()) return;
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec) throw input_error::in(dir, "cannot create the output directory: " + ec.message());
    // Old results must not pass for this run's if it fails.
    for (auto* name : output_names) fs::remove(dir_ / name, ec);
  }
  ~staged_outputs() {
    std::error_code ec;
    if (!committed_)
      for (auto* name : output_names) fs::remove(temp(name), ec);
  }
  std::string temp(const char* name) const {
    return dir_.empty() ? "/dev/null" : (dir_ / (std::string(".") + name + ".tmp")).string();
  }
  void commit() {
    if (dir_.empty()) return;
    for (auto* name : output_names) fs::rename(temp(name), dir_ / name);
    committed_ = true;
  }

 private:
  fs::path dir_;
  bool committed_ = false;
};

}  // namespace

simulation_output run_simulation(const simulation_request& request) {
  if (request.interval <= 0) throw input_error::at("--interval", 0, "", "expected a positive number of seconds");
  if (request.threads == 0) throw input_error::at("--threads", 0, "", "expected 1 or more");
  auto plan = traces::load_plan(request.plan, request.sets);
  traces::trace_reader reader(request.trace, plan);
  staged_outputs staged(request.out_dir);
  traces::outcome_writer outcomes(staged.temp("outcomes.csv"), reader);
  traces::series_writer series(staged.temp("timeseries.csv"), reader.accounts(), request.interval);

  actors::client_actor_config cfg;
  cfg.plan = plan;
  cfg.interval = request.interval;
  cfg.shards = static_cast<std::uint32_t>(request.threads);
  cfg.io.read = [&](std::vector<policies::arrival>& rows, std::size_t max, std::string& error) {
    return reader.read(rows, max, error);
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
  run.trace = request.trace;
  run.plan = request.plan;
  run.seed = request.seed;
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
  if (!request.out_dir.empty()) {
    std::ofstream js(staged.temp("summary.json"));
    js << out.summary.dump(2) << "\n";
    if (!js) throw std::runtime_error(staged.temp("summary.json") + ": write failed");
  }
  staged.commit();
  return out;
}

}  // namespace usher::tools

/// `usher simulate`: replays a trace through a plan under the virtual clock
/// and writes outcomes.csv, summary.json and timeseries.csv to --out.
/// Outputs are written to temporary names and renamed only when the whole run
/// succeeded, so a failed run never leaves output that passes for complete.

#include <boost/program_options.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <unistd.h>

#include "actors/simulation.hpp"
#include "policies/input_error.hpp"
#include "tools/commands.hpp"
#include "traces/outcome_writer.hpp"
#include "traces/plan_file.hpp"
#include "traces/summary.hpp"
#include "traces/trace_reader.hpp"

namespace usher::tools {

namespace po = boost::program_options;
namespace fs = std::filesystem;
using policies::input_error;

namespace {

struct simulate_options {
  std::string plan, trace, out;
  std::vector<std::string> sets;
  std::uint64_t seed = 0;
  std::string interval = "60";
  std::size_t threads = 1;
  std::size_t top = 20;
  bool quiet = false;
};

po::options_description describe(simulate_options& o) {
  po::options_description d("usher simulate --plan PLAN --trace FILE.csv --out DIR [options]");
  d.add_options()("help,h", "show this help")(
      "plan", po::value(&o.plan)->required(),
      "a preset (streams, streams:solo, streams:team, streams:platform, exclusive, "
      "session-rate, per-model, weighted) or a plan file (docs/PLANS.md)")(
      "trace", po::value(&o.trace)->required(), "request trace, CSV (docs/FORMATS.md)")(
      "out", po::value(&o.out)->required(), "directory for outcomes.csv, summary.json, timeseries.csv")(
      "set", po::value(&o.sets)->composing(), "KEY=VALUE: override a plan parameter (repeatable)")(
      "seed", po::value(&o.seed), "random seed (recorded; generated workloads use it)")(
      "interval", po::value(&o.interval), "time-series step in seconds (default 60)")(
      "threads", po::value(&o.threads),
      "1 (default): virtual clock, one thread; N > 1: N workers; same output")(
      "top", po::value(&o.top), "accounts shown in the table (default 20)")(
      "quiet,q", po::bool_switch(&o.quiet), "print nothing on success");
  return d;
}

}  // namespace

int simulate_command(const std::vector<std::string>& args) {
  simulate_options o;
  auto desc = describe(o);
  try {
    po::variables_map vm;
    po::store(po::command_line_parser(args).options(desc).run(), vm);
    if (vm.count("help")) {
      std::cout << desc;
      return exit_ok;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "usher simulate: " << e.what() << "\n(see usher simulate --help)\n";
    return exit_bad_input;
  }

  fs::path dir(o.out);
  std::vector<fs::path> temps;
  auto remove_temps = [&] {
    std::error_code ec;
    for (auto& t : temps) fs::remove(t, ec);
  };
  try {
    policies::usec interval = 0;
    if (!policies::parse_seconds(o.interval, interval) || interval <= 0)
      throw input_error::at("--interval", 0, "", "expected a positive number of seconds, got " +
                                                     policies::quoted(o.interval));
    if (o.threads == 0) throw input_error::at("--threads", 0, "", "expected 1 or more");
    auto plan = traces::load_plan(o.plan, o.sets);
    traces::trace_reader reader(o.trace, plan);

    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) throw input_error::in(o.out, "cannot create the output directory: " + ec.message());
    // Old results must not pass for this run's if it fails.
    for (auto* name : {"outcomes.csv", "timeseries.csv", "summary.json"}) fs::remove(dir / name, ec);
    auto temp = [&](const char* name) {
      temps.push_back(dir / (std::string(".") + name + ".tmp"));
      return temps.back().string();
    };
    traces::outcome_writer outcomes(temp("outcomes.csv"), reader);
    traces::series_writer series(temp("timeseries.csv"), reader.accounts(), interval);
    auto summary_path = temp("summary.json");

    actors::client_actor_config cfg;
    cfg.plan = plan;
    cfg.interval = interval;
    cfg.shards = static_cast<std::uint32_t>(o.threads);
    cfg.io.read = [&](std::vector<policies::arrival>& rows, std::size_t max, std::string& error) {
      return reader.read(rows, max, error);
    };
    // Errors while writing are kept and raised after the replay: no
    // exception may cross an actor's behaviour.
    std::string write_error;
    cfg.io.write_outcome = [&](const policies::outcome& oc) {
      if (!write_error.empty()) return;
      try {
        outcomes.write(oc);
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
        o.threads == 1 ? actors::clock_kind::virtual_clock : actors::clock_kind::real_clock,
        o.threads);
    if (!result.ok) {
      remove_temps();
      std::cerr << "usher simulate: " << result.error << "\n";
      return exit_bad_input;
    }
    if (!write_error.empty()) throw std::runtime_error(write_error);
    outcomes.close();
    series.close();

    traces::run_info run;
    run.trace = o.trace;
    run.plan = o.plan;
    run.seed = o.seed;
    run.rows = reader.rows_read();
    run.first_arrival = outcomes.first_arrival();
    run.end = result.end;
    run.interval = interval;
    run.peak_in_flight = result.peak_in_flight;
    run.peak_used = result.peak_used;
    std::vector<std::pair<std::string, policies::usage_totals>> accounts;
    for (auto& [id, totals] : result.accounts) accounts.emplace_back(reader.accounts().name(id), totals);
    auto summary = traces::make_summary(*plan, run, accounts);
    {
      std::ofstream js(summary_path);
      js << summary.dump(2) << "\n";
      if (!js) throw std::runtime_error(summary_path + ": write failed");
    }
    for (auto& t : temps) {
      auto final_name = t.parent_path() / t.filename().string().substr(1, t.filename().string().size() - 5);
      fs::rename(t, final_name);
    }
    if (!o.quiet) std::cout << traces::summary_table(summary, o.top);
    return exit_ok;
  } catch (const input_error& e) {
    remove_temps();
    std::cerr << "usher simulate: " << e.what() << "\n";
    return exit_bad_input;
  } catch (const std::exception& e) {
    remove_temps();
    std::cerr << "usher simulate: " << e.what() << "\n";
    return exit_failure;
  }
}

}  // namespace usher::tools

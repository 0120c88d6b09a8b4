/// `usher simulate`: replays a trace through a plan under the virtual clock
/// and writes outcomes.csv, summary.json and timeseries.csv to --out
/// (tools/simulation_run.hpp does the run; this file is the command line).
/// --out is replaced whole or not at all (tools/staged_files.hpp).

#include <boost/program_options.hpp>
#include <iostream>

#include "policies/input_error.hpp"
#include "tools/command_line.hpp"
#include "tools/commands.hpp"
#include "tools/parallel_runs.hpp"
#include "tools/plots.hpp"
#include "tools/simulation_run.hpp"
#include "tools/staged_files.hpp"
#include "traces/summary.hpp"
#include "traces/trace_reader.hpp"

namespace usher::tools {

namespace po = boost::program_options;
using policies::input_error;

namespace {

struct simulate_options {
  std::string plan, trace, out, workload, stop;
  std::vector<std::string> sets, clients;
  std::uint64_t seed = 0;
  std::string interval = "60";
  std::size_t threads = 1;
  std::size_t top = 20;
  bool quiet = false;
  bool plots = false;
};

po::options_description describe(simulate_options& o) {
  po::options_description d(
      "usher simulate --plan PLAN (--trace FILE.csv | --workload FILE | --client SPEC...) --out DIR "
      "[options]");
  d.add_options()("help,h", "show this help")(
      "plan", po::value(&o.plan)->required(),
      "a preset (streams, streams:solo, streams:team, streams:platform, exclusive, "
      "session-rate, per-model, weighted) or a plan file (docs/PLANS.md)")(
      "trace", po::value(&o.trace),
      "request trace, CSV, gzip or plain; - reads stdin (docs/FORMATS.md)")(
      "out", po::value(&o.out)->required(),
      "directory for outcomes.csv, summary.json, timeseries.csv")(
      "set", po::value(&o.sets)->composing(), "KEY=VALUE: override a plan parameter (repeatable)")(
      "seed", po::value(&o.seed), "random seed (recorded; generated workloads use it)")(
      "interval", po::value(&o.interval), "time-series step: seconds or 30s, 1m, 1h (default 60)")(
      "threads", po::value(&o.threads),
      "1 (default): one thread; N > 1: the trace read and its accounts replayed on N threads at "
      "once (held in memory); same output")(
      "top", po::value(&o.top), "accounts shown in the table (default 20)")(
      "plots", po::bool_switch(&o.plots),
      "also draw pictures (SVG) and index.html into --out with gnuplot (docs/WHATIF.md)")(
      "quiet,q", po::bool_switch(&o.quiet), "print nothing on success");
  add_client_options(d, o.workload, o.clients, o.stop);
  return d;
}

}  // namespace

int simulate_command(const std::vector<std::string>& args) {
  simulate_options o;
  auto desc = describe(o);
  po::variables_map vm;
  if (auto done = parse_options("simulate", args, desc, vm)) return *done;

  keep_freed_memory();
  return report_errors("simulate", [&] {
    simulation_request request;
    request.plan = o.plan;
    request.sets = o.sets;
    request.trace = o.trace;
    request.threads = o.threads;
    request.workload = o.workload;
    request.clients = o.clients;
    if (!o.stop.empty()) request.stop = duration_option("--stop", o.stop);
    if (vm.count("seed")) request.seed = o.seed;
    request.interval = duration_option("--interval", o.interval);
    if (request.interval <= 0)
      throw input_error::at("--interval", 0, "",
                            "expected a positive duration, got " + policies::quoted(o.interval));
    staged_files files(o.out, run_outputs());
    request.out_dir = files.staging().string();
    // A long run shows how far simulated time has got, on a terminal only.
    simulation_output out;
    // With the trace's span known, the line says the time left.
    auto span = traces::arrival_span(o.trace);
    progress_line progress("usher simulate", "", 1, span ? span->second : 0, 1);
    if (span) progress.starts_at(span->first);
    run_parallel(1, 1, [&](std::size_t, std::size_t slot) {
      request.reached = &progress.reached(slot);
      out = run_simulation(request);
    }, &progress);
    if (o.plots) write_run_plots(request.out_dir);
    files.commit();
    if (!o.quiet) std::cout << traces::summary_table(out.summary, o.top) << out.clients_table;
    return exit_ok;
  });
}

}  // namespace usher::tools

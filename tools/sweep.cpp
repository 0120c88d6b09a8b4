/// `usher sweep`: one plan under a grid of parameter values (--vary), every
/// variant on the same trace and workload. The trace is parsed once into memory
/// (traces/loaded_trace.hpp) and each variant replays it on the virtual
/// clock (tools/loaded_run.hpp), several at once (--jobs); results are
/// stored by variant number, so the files are byte-identical at any --jobs.
/// Writes sweep.csv (one row per variant) and sweep_accounts.csv (one row
/// per variant and account) to DIR (docs/WHATIF.md).

#include <boost/program_options.hpp>
#include <chrono>
#include <optional>
#include <iostream>

#include "policies/input_error.hpp"
#include "tools/command_line.hpp"
#include "tools/commands.hpp"
#include "tools/loaded_run.hpp"
#include "tools/outcome_metrics.hpp"
#include "tools/parallel_runs.hpp"
#include "tools/plots.hpp"
#include "tools/staged_files.hpp"
#include "tools/variant_grid.hpp"
#include "tools/workload_file.hpp"
#include "traces/plan_file.hpp"

namespace usher::tools {

namespace po = boost::program_options;
namespace fs = std::filesystem;
using policies::input_error;

namespace {

struct sweep_options {
  std::string trace, workload, plan, out;
  std::vector<std::string> sets, vary;
  std::size_t jobs = 0;
  bool plots = false, quiet = false;
};

po::options_description describe(sweep_options& o) {
  po::options_description d(
      "usher sweep (--trace FILE.csv | --workload FILE) --plan PLAN --vary KEY=VALUES [--vary ...] "
      "--out DIR [options]\n\nRuns every combination of the --vary values on the same trace and "
      "workload (docs/WHATIF.md)");
  d.add_options()("help,h", "show this help")(
      "trace", po::value(&o.trace),
      "request trace, CSV, gzip or plain; - reads stdin (docs/FORMATS.md)")(
      "workload", po::value(&o.workload),
      "workload file: generated clients per account, optionally with a trace; held once for "
      "every variant (docs/WORKLOADS.md)")(
      "plan", po::value(&o.plan)->required(),
      "a preset or plan file, optionally PLAN@KEY=VALUE,... (docs/PLANS.md)")(
      "set", po::value(&o.sets)->composing(), "KEY=VALUE: override for every variant (repeatable)")(
      "vary", po::value(&o.vary)->composing(),
      "KEY=V1,V2,... or KEY=LO..HI[:STEP]: values of a plan key (repeatable: a grid, the last "
      "varying fastest)")("out", po::value(&o.out)->required(),
                          "directory for sweep.csv and sweep_accounts.csv")(
      "jobs,j", po::value(&o.jobs), "variants simulated at once (default: the machine's cores)")(
      "plots", po::bool_switch(&o.plots),
      "also draw metrics against the varied keys (SVG, index.html)")(
      "quiet,q", po::bool_switch(&o.quiet), "print nothing on success");
  return d;
}

}  // namespace

int sweep_command(const std::vector<std::string>& args) {
  sweep_options o;
  auto desc = describe(o);
  po::variables_map vm;
  if (auto done = parse_options("sweep", args, desc, vm, [&] {
        if (o.vary.empty()) throw po::error("give at least one --vary KEY=VALUES");
        if (o.trace.empty() && o.workload.empty()) throw po::error("give --trace or --workload");
      }))
    return *done;

  return report_errors("sweep", [&] {
    auto started = std::chrono::steady_clock::now();
    std::vector<vary_axis> axes;
    for (auto& v : o.vary) axes.push_back(parse_vary(v));
    auto grid = make_grid(axes);
    // Every variant's plan is built (and so checked) before anything runs.
    traces::load_plan(o.plan, o.sets);
    std::vector<std::shared_ptr<const policies::plan>> plans;
    std::vector<std::string> specs;
    for (auto& point : grid) {
      auto settings = o.sets;
      auto varied = settings_of(axes, point);
      settings.insert(settings.end(), varied.begin(), varied.end());
      plans.push_back(traces::load_plan(o.plan, settings, "--vary"));
      // The variant as one plan spec (PLAN@KEY=VALUE,...), for its summary.
      std::string spec = o.plan;
      char separator = traces::split_plan_spec(o.plan).overrides.empty() ? '@' : ',';
      for (auto& v : varied) {
        spec += separator + v;
        separator = ',';
      }
      specs.push_back(spec);
    }
    std::size_t jobs = o.jobs == 0 ? default_jobs() : o.jobs;
    std::optional<workload> clients;
    if (!o.workload.empty()) clients = read_workload_file(o.workload);
    std::string trace_path = o.trace.empty() && clients ? clients->trace : o.trace;
    traces::loaded_trace trace(trace_path, jobs);  // read in `jobs` pieces at once
    // Everything is checked: an earlier sweep in --out is replaced whole or not at all.
    std::vector<std::string> outputs = {"sweep.csv", "sweep_accounts.csv"};
    outputs.insert(outputs.end(), sweep_plot_files().begin(), sweep_plot_files().end());
    staged_files files(o.out, outputs);
    policies::usec span = trace.rows().empty() ? 0 : trace.rows().back().at;
    if (clients && !clients->groups.empty()) span = std::max(span, clients->stop);
    std::vector<outcome_metrics> overall(grid.size());
    std::vector<std::vector<std::pair<std::string, outcome_metrics>>> accounts(grid.size());
    progress_line progress("usher sweep", "variants", grid.size(), span, std::min(jobs, grid.size()));
    run_parallel(grid.size(), jobs, [&](std::size_t i, std::size_t slot) {
      auto summary = run_loaded(trace, plans[i], specs[i], &progress.reached(slot),
                                clients ? &*clients : nullptr);
      overall[i] = outcome_metrics::of(summary["overall"]);
      for (auto& [name, m] : summary["accounts"].items()) accounts[i].emplace_back(name, outcome_metrics::of(m));
    }, &progress);

    std::vector<std::string> header = {"variant"};
    for (auto& a : axes) header.push_back(a.key);
    std::vector<std::string> account_header = header;
    account_header.push_back("account");
    for (auto& n : outcome_metrics::names()) {
      header.push_back(n);
      account_header.push_back(n);
    }
    std::string csv = csv_line(header), per_account = csv_line(account_header);
    for (std::size_t i = 0; i < grid.size(); ++i) {
      std::vector<std::string> lead = {std::to_string(i + 1)};
      lead.insert(lead.end(), grid[i].begin(), grid[i].end());
      auto row = lead;
      for (auto& f : overall[i].csv_fields()) row.push_back(f);
      csv += csv_line(row);
      for (auto& [name, m] : accounts[i]) {
        auto r = lead;
        r.push_back(name);
        for (auto& f : m.csv_fields()) r.push_back(f);
        per_account += csv_line(r);
      }
    }
    files.write("sweep.csv", csv);
    files.write("sweep_accounts.csv", per_account);
    if (o.plots) write_sweep_plots(files.staging().string());
    files.commit();

    if (o.quiet) return exit_ok;
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::string t;
    char line[512];
    std::snprintf(line, sizeof(line),
                  "sweep: %s on %s (%zu rows, %zu accounts): %zu variants, %zu jobs, %.1f s\n",
                  o.plan.c_str(), (trace_path.empty() ? o.workload : trace_path).c_str(),
                  trace.rows().size(), trace.accounts().size(),
                  grid.size(), std::min(jobs, grid.size()), seconds);
    t += line;
    std::vector<std::size_t> width;
    std::string head = "variant";
    for (std::size_t a = 0; a < axes.size(); ++a) {
      std::size_t w = axes[a].key.size();
      for (auto& v : axes[a].values) w = std::max(w, v.size());
      width.push_back(w);
      head += "  " + axes[a].key + std::string(w - axes[a].key.size(), ' ');
    }
    t += head + " " + outcome_metrics::table_header() + "\n";
    for (std::size_t i = 0; i < grid.size(); ++i) {
      std::snprintf(line, sizeof(line), "%7zu", i + 1);
      std::string r = line;
      for (std::size_t a = 0; a < axes.size(); ++a)
        r += "  " + grid[i][a] + std::string(width[a] - grid[i][a].size(), ' ');
      t += r + " " + overall[i].table_cells() + "\n";
    }
    t += "wrote " + (fs::path(o.out) / "sweep.csv").string() + " and sweep_accounts.csv\n";
    std::cout << t;
    return exit_ok;
  });
}

}  // namespace usher::tools

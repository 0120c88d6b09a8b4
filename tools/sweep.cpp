/// `usher sweep`: one plan under a grid of parameter values (--vary), every
/// variant on the same trace and workload. The trace is parsed once into memory
/// (traces/loaded_trace.hpp) and each variant replays it on the virtual
/// clock (tools/loaded_run.hpp), several at once (--jobs); results are
/// stored by variant number, so the files are byte-identical at any --jobs.
/// Writes sweep.csv (one row per variant) and sweep_accounts.csv (one row
/// per variant and account) to DIR (docs/WHATIF.md).

#include <boost/program_options.hpp>
#include <chrono>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <optional>
#include <iostream>

#include "actors/cluster/cluster_config.hpp"
#include "policies/input_error.hpp"
#include "tools/build_info.hpp"
#include "tools/command_line.hpp"
#include "tools/commands.hpp"
#include "tools/loaded_run.hpp"
#include "tools/outcome_metrics.hpp"
#include "tools/parallel_runs.hpp"
#include "tools/plots.hpp"
#include "tools/staged_files.hpp"
#include "tools/sweep_variant.hpp"
#include "tools/sweep_workers.hpp"
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
  std::vector<std::string> sets, vary, workers;
  std::size_t jobs = 0;
  bool plots = false, quiet = false, resume = false;
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
      "workers", po::value(&o.workers)->multitoken()->composing(),
      "HOST:PORT,...: run the variants on `usher worker` processes instead, on this machine or "
      "others (docs/WHATIF.md, \"Sweeps across machines\")")(
      "plots", po::bool_switch(&o.plots),
      "also draw metrics against the varied keys (SVG, index.html)")(
      "resume", po::bool_switch(&o.resume),
      "go on with an interrupted sweep into the same --out: variants it finished are not run "
      "again")(
      "quiet,q", po::bool_switch(&o.quiet), "print nothing on success");
  return d;
}

// The journal of a sweep (docs/WHATIF.md, "Resuming a sweep"): in DIR, one
// line naming the sweep, then one line per finished variant with the
// summary parts its rows are made of, flushed as each variant ends. A
// sweep that is killed leaves it behind; --resume takes the variants it
// holds, so the files come out as one uninterrupted run writes them.
const char* journal_name = ".usher-sweep-journal.jsonl";

// What a journal must match to be resumed: the inputs, by content stamp.
nlohmann::json sweep_identity(const sweep_options& o, const std::string& trace_path) {
  auto stamp = [](const std::string& path) -> nlohmann::json {
    if (path.empty()) return nullptr;
    std::error_code ec;
    auto size = fs::file_size(path, ec);
    auto time = fs::last_write_time(path, ec).time_since_epoch().count();
    return {{"path", path}, {"bytes", ec ? 0 : size}, {"modified", ec ? 0 : time}};
  };
  return {{"usher", build_version()}, {"plan", o.plan},     {"set", o.sets},
          {"vary", o.vary},           {"trace", stamp(trace_path)},
          {"workload", stamp(o.workload)}};
}

nlohmann::json journal_line(const variant_result& r, std::size_t index) {
  auto line = r.to_json();
  line["variant"] = index + 1;
  return line;
}

// The finished variants a journal holds, or none when there is no journal.
// Throws input_error when it belongs to another sweep. A torn last line (a
// kill mid-write) ends the reading.
std::map<std::size_t, variant_result> read_journal(const fs::path& path,
                                                   const nlohmann::json& identity,
                                                   std::size_t variants) {
  std::map<std::size_t, variant_result> done;
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return done;
  auto head = nlohmann::json::parse(line, nullptr, false);
  if (head.is_discarded() || !head.contains("sweep"))
    throw input_error::in(path.string(), "not the journal of a sweep; run without --resume");
  if (head["sweep"] != identity) {
    std::string differs;
    for (auto& [key, value] : identity.items())
      if (head["sweep"].value(key, nlohmann::json()) != value) differs += (differs.empty() ? "" : ", ") + key;
    throw input_error::in(path.string(), "the interrupted sweep differs from this one in: " +
                                             differs + "; run without --resume to start over");
  }
  while (std::getline(in, line)) {
    auto e = nlohmann::json::parse(line, nullptr, false);
    if (e.is_discarded()) break;
    try {
      auto v = e.at("variant").get<std::size_t>();
      if (v < 1 || v > variants) break;
      done[v - 1] = variant_result::from_json(e);
    } catch (const nlohmann::json::exception&) {
      break;  // not a line a sweep wrote: what follows is not trusted either
    }
  }
  return done;
}

}  // namespace

int sweep_command(const std::vector<std::string>& args) {
  sweep_options o;
  auto desc = describe(o);
  po::variables_map vm;
  if (auto done = parse_options("sweep", args, desc, vm, [&] {
        if (o.vary.empty()) throw po::error("give at least one --vary KEY=VALUES");
        if (o.trace.empty() && o.workload.empty()) throw po::error("give --trace or --workload");
        if (!o.workers.empty() && vm.count("jobs"))
          throw po::error("--jobs is for variants run here; each worker runs as many at once as its own --jobs");
        if (!o.workers.empty() && (o.trace == "-" || o.workload == "-"))
          throw po::error("--workers needs the trace and workload as files, not standard input");
      }))
    return *done;

  keep_freed_memory();
  return report_errors("sweep", [&] {
    auto started = std::chrono::steady_clock::now();
    std::vector<vary_axis> axes;
    for (auto& v : o.vary) axes.push_back(parse_vary(v));
    auto grid = make_grid(axes);
    // Every variant's plan is built (and so checked) before anything runs;
    // not the base plan with --set alone: a gate's keys may be set there
    // for a type that only --vary names (gate.NAME.type=none,TYPE).
    std::vector<std::shared_ptr<const policies::plan>> plans;
    std::vector<std::string> specs;
    // For workers: each variant as the base plan and every setting after it.
    auto split = traces::split_plan_spec(o.plan);
    worker_sweep remote;
    remote.plan_base = split.base;
    for (auto& point : grid) {
      auto settings = o.sets;
      auto varied = settings_of(axes, point);
      settings.insert(settings.end(), varied.begin(), varied.end());
      plans.push_back(traces::load_plan(o.plan, o.sets, "--set", varied, "--vary"));
      remote.settings.push_back(split.overrides);
      remote.settings.back().insert(remote.settings.back().end(), settings.begin(), settings.end());
      // The variant as one plan spec (PLAN@KEY=VALUE,...), for its summary.
      std::string spec = o.plan;
      char separator = traces::split_plan_spec(o.plan).overrides.empty() ? '@' : ',';
      for (auto& v : varied) {
        spec += separator + v;
        separator = ',';
      }
      specs.push_back(spec);
    }
    remote.specs = specs;
    std::vector<std::string> workers;
    for (auto& list : o.workers)
      for (std::size_t at = 0; at <= list.size();) {
        auto comma = std::min(list.find(',', at), list.size());
        auto address = list.substr(at, comma - at);
        at = comma + 1;
        std::string host;
        std::uint16_t port = 0;
        if (!actors::cluster::parse_host_port(address, host, port))
          throw input_error::at("--workers", 0, address, "expects HOST:PORT");
        workers.push_back(address);
      }
    std::size_t jobs = o.jobs == 0 ? default_jobs() : o.jobs;
    std::optional<workload> clients;
    if (!o.workload.empty()) clients = read_workload_file(o.workload);
    std::string trace_path = o.trace.empty() && clients ? clients->trace : o.trace;
    traces::loaded_trace trace(trace_path, jobs);  // read in `jobs` pieces at once
    // Everything is checked: an earlier sweep in --out is replaced whole or not at all.
    std::vector<std::string> outputs = {"sweep.csv", "sweep_accounts.csv"};
    outputs.insert(outputs.end(), sweep_plot_files().begin(), sweep_plot_files().end());
    // A journal kept beside the outputs while the sweep runs.
    auto identity = sweep_identity(o, trace_path);
    if (o.resume && (trace_path == "-" || o.workload == "-"))
      throw input_error::at("--resume", 0, "", "a sweep that reads standard input cannot be resumed");
    fs::path journal_path = fs::path(o.out) / journal_name;
    std::map<std::size_t, variant_result> kept;
    if (o.resume) kept = read_journal(journal_path, identity, grid.size());
    staged_files files(o.out, outputs);
    // Gone when the sweep ends, done or failed with an error (run again
    // once it is fixed); only a sweep that is killed leaves it behind.
    struct remover {
      fs::path path;
      ~remover() {
        std::error_code ignored;
        fs::remove(path, ignored);
      }
    } journal_end{journal_path};
    std::ofstream journal(journal_path, std::ios::trunc);
    journal << nlohmann::json{{"sweep", identity}}.dump() << "\n";
    for (auto& [i, r] : kept) journal << journal_line(r, i).dump() << "\n";
    journal.flush();
    std::mutex journal_lock;
    policies::usec span = trace.rows().empty() ? 0 : trace.rows().back().at;
    if (clients && !clients->groups.empty()) span = std::max(span, clients->stop);
    std::vector<variant_result> results(grid.size());
    progress_line progress("usher sweep", "variants", grid.size(), span,
                           workers.empty() ? std::min(jobs, grid.size()) : 0);
    if (!trace.rows().empty()) progress.starts_at(trace.rows().front().at);
    for (auto& [i, r] : kept) results[i] = r;
    auto finish = [&](std::size_t i, const variant_result& r) {
      results[i] = r;
      auto line = journal_line(r, i).dump();
      std::lock_guard<std::mutex> g(journal_lock);
      journal << line << "\n";
      journal.flush();
    };
    if (workers.empty()) {
      run_parallel(grid.size(), jobs, [&](std::size_t i, std::size_t slot) {
        if (kept.count(i)) return;
        auto summary = run_loaded(trace, plans[i], specs[i], &progress.reached(slot),
                                  clients ? &*clients : nullptr);
        finish(i, variant_result::of_summary(summary));
      }, &progress);
    } else {
      remote.trace_path = trace_path;
      remote.workload_path = o.workload;
      std::vector<std::size_t> todo;
      for (std::size_t i = 0; i < grid.size(); ++i)
        if (!kept.count(i)) todo.push_back(i);
      run_on_workers(workers, remote, todo, finish, &progress, kept.size());
    }

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
      for (auto& f : results[i].overall.csv_fields()) row.push_back(f);
      csv += csv_line(row);
      for (auto& [name, m] : results[i].accounts) {
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
    // Accounts of the trace, and those only the workload's clients bring.
    std::set<std::string> generated_only;
    if (clients)
      for (auto& g : clients->groups)
        for (auto& name : clients->account_names(g)) generated_only.insert(name);
    for (std::uint32_t i = 0; i < trace.accounts().size(); ++i)
      generated_only.erase(trace.accounts().name(i));
    std::string accounts = std::to_string(trace.accounts().size() + generated_only.size()) + " accounts";
    if (clients && !clients->groups.empty())
      accounts += ", " + std::to_string(clients->groups.size()) + " client group" +
                  (clients->groups.size() == 1 ? "" : "s");
    std::size_t ran_on = workers.empty() ? std::min(jobs, grid.size()) : workers.size();
    std::snprintf(line, sizeof(line),
                  "sweep: %s on %s (%zu trace rows, %s): %zu variant%s, %zu %s%s, %.1f s\n",
                  o.plan.c_str(), (trace_path.empty() ? o.workload : trace_path).c_str(),
                  trace.rows().size(), accounts.c_str(), grid.size(), grid.size() == 1 ? "" : "s",
                  ran_on, workers.empty() ? "job" : "worker", ran_on == 1 ? "" : "s", seconds);
    t += line;
    if (o.resume)
      t += "resumed: " + std::to_string(kept.size()) + " of " + std::to_string(grid.size()) +
           " variants taken from the interrupted sweep, " +
           std::to_string(grid.size() - kept.size()) + " run now\n";
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
      t += r + " " + results[i].overall.table_cells() + "\n";
    }
    t += "wrote " + (fs::path(o.out) / "sweep.csv").string() + " and sweep_accounts.csv\n";
    std::cout << t;
    return exit_ok;
  });
}

}  // namespace usher::tools

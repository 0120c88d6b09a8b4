/// `usher compare`: the same trace (or workload) under several plans, side
/// by side. Each plan is one ordinary simulation (tools/simulation_run.hpp)
/// with its full outputs in DIR/planK/, so its numbers are exactly those of
/// `usher simulate` with the same plan; plans run in parallel (--jobs).
/// Writes compare.csv and compare.json to DIR (docs/WHATIF.md), replacing
/// an earlier comparison there whole or not at all (tools/staged_files.hpp).

#include <boost/program_options.hpp>
#include <algorithm>
#include <cmath>
#include <iostream>
#include <map>

#include "policies/input_error.hpp"
#include "tools/command_line.hpp"
#include "tools/commands.hpp"
#include "tools/outcome_metrics.hpp"
#include "tools/parallel_runs.hpp"
#include "tools/plots.hpp"
#include "tools/simulation_run.hpp"
#include "tools/staged_files.hpp"
#include "traces/plan_file.hpp"

namespace usher::tools {

namespace po = boost::program_options;
namespace fs = std::filesystem;
using policies::input_error;
using nlohmann::json;

namespace {

struct compare_options {
  std::string trace, workload, out;
  std::vector<std::string> plans, sets;
  std::size_t jobs = 0, top = 10, changed = 5;
  bool plots = false, quiet = false;
};

po::options_description describe(compare_options& o) {
  po::options_description d(
      "usher compare (--trace FILE.csv | --workload FILE) --plan A --plan B [...] --out DIR "
      "[options]\n\nRuns each plan on the same input and prints them side by side (docs/WHATIF.md)");
  d.add_options()("help,h", "show this help")(
      "trace", po::value(&o.trace), "request trace, CSV, gzip or plain (docs/FORMATS.md)")(
      "workload", po::value(&o.workload), "workload file instead of a trace (docs/WORKLOADS.md)")(
      "plan", po::value(&o.plans)->composing(),
      "a plan (repeatable, 2 or more): a preset or plan file, optionally with overrides "
      "PLAN@KEY=VALUE,KEY=VALUE (e.g. streams:team@limit=12)")(
      "set", po::value(&o.sets)->composing(), "KEY=VALUE: override for every plan (repeatable)")(
      "out", po::value(&o.out)->required(),
      "directory for compare.csv, compare.json and each plan's run in planK/")(
      "jobs,j", po::value(&o.jobs), "plans simulated at once (default: the machine's cores)")(
      "top", po::value(&o.top), "accounts shown in the table, busiest first (default 10)")(
      "changed", po::value(&o.changed), "accounts listed as changed most (default 5)")(
      "plots", po::bool_switch(&o.plots),
      "also draw each plan's run with gnuplot (SVG, index.html)")(
      "quiet,q", po::bool_switch(&o.quiet), "print nothing on success");
  return d;
}

struct changed_account {
  std::string account;
  double change = 0;        // largest |not_200_rate(plan k) - not_200_rate(plan 1)|
  std::size_t plan = 0;     // the k that gave it
};

// Accounts by how much their share of non-200 answers moved against the
// first plan; ties by name.
std::vector<changed_account> changed_most(const std::vector<std::string>& accounts,
                                          const std::vector<std::map<std::string, outcome_metrics>>& by_plan) {
  std::vector<changed_account> out;
  for (auto& name : accounts) {
    changed_account c{name, 0, 0};
    auto base = by_plan[0].find(name);
    double first = base == by_plan[0].end() ? 0 : base->second.not_200_rate;
    for (std::size_t k = 1; k < by_plan.size(); ++k) {
      auto i = by_plan[k].find(name);
      double d = std::fabs((i == by_plan[k].end() ? 0 : i->second.not_200_rate) - first);
      d = std::round(d * 1e6) / 1e6;
      if (d > c.change) c = {name, d, k};
    }
    if (c.change > 0) out.push_back(c);
  }
  std::stable_sort(out.begin(), out.end(), [](const changed_account& a, const changed_account& b) {
    return a.change != b.change ? a.change > b.change : a.account < b.account;
  });
  return out;
}

std::string label(std::size_t k) { return "plan" + std::to_string(k + 1); }

// What an earlier comparison wrote into its directory: the rerun replaces
// all of it, planK/ runs of plans it no longer has included.
bool compare_output(const std::string& name) {
  if (name == "compare.csv" || name == "compare.json") return true;
  for (auto& n : compare_plot_files())
    if (n == name) return true;
  return name.size() > 4 && name.compare(0, 4, "plan") == 0 &&
         name.find_first_not_of("0123456789", 4) == std::string::npos;
}

}  // namespace

int compare_command(const std::vector<std::string>& args) {
  compare_options o;
  auto desc = describe(o);
  po::variables_map vm;
  if (auto done = parse_options("compare", args, desc, vm, [&] {
        if (o.plans.size() < 2) throw po::error("give at least two --plan options to compare");
        if (o.trace.empty() && o.workload.empty()) throw po::error("give --trace or --workload");
        if (o.trace == "-")
          throw po::error("--trace -: compare reads the trace once per plan, so it needs a file");
      }))
    return *done;

  return report_errors("compare", [&] {
    // Every plan is checked before anything runs.
    for (auto& p : o.plans) traces::load_plan(p, o.sets);
    std::size_t jobs = o.jobs == 0 ? default_jobs() : o.jobs;
    staged_files files(o.out, compare_output);

    std::vector<json> summaries(o.plans.size());
    progress_line progress("usher compare", "plans", o.plans.size(), 0, std::min(jobs, o.plans.size()));
    run_parallel(o.plans.size(), jobs, [&](std::size_t k, std::size_t slot) {
      simulation_request r;
      r.plan = o.plans[k];
      r.sets = o.sets;
      r.trace = o.trace;
      r.workload = o.workload;
      r.out_dir = (files.staging() / label(k)).string();
      r.reached = &progress.reached(slot);
      summaries[k] = run_simulation(r).summary;
    }, &progress);

    // Metrics by plan, overall and per account.
    std::vector<outcome_metrics> overall;
    std::vector<std::map<std::string, outcome_metrics>> by_plan(o.plans.size());
    std::map<std::string, std::int64_t> requests;  // busiest first in the table
    for (std::size_t k = 0; k < o.plans.size(); ++k) {
      overall.push_back(outcome_metrics::of(summaries[k]["overall"]));
      for (auto& [name, m] : summaries[k]["accounts"].items()) {
        by_plan[k][name] = outcome_metrics::of(m);
        requests[name] = std::max(requests[name], by_plan[k][name].requests);
      }
    }
    std::vector<std::string> accounts;
    for (auto& kv : requests) accounts.push_back(kv.first);
    auto changed = changed_most(accounts, by_plan);

    // compare.csv: long format, one row per plan per scope.
    std::vector<std::string> header = {"plan_index", "plan", "scope", "account"};
    for (auto& n : outcome_metrics::names()) header.push_back(n);
    std::string csv = csv_line(header);
    auto add_row = [&](std::size_t k, const char* scope, const std::string& account,
                       const outcome_metrics& m) {
      std::vector<std::string> f = {std::to_string(k + 1), o.plans[k], scope, account};
      for (auto& v : m.csv_fields()) f.push_back(v);
      csv += csv_line(f);
    };
    for (std::size_t k = 0; k < o.plans.size(); ++k) add_row(k, "overall", "", overall[k]);
    for (auto& name : accounts)
      for (std::size_t k = 0; k < o.plans.size(); ++k) {
        auto i = by_plan[k].find(name);
        if (i != by_plan[k].end()) add_row(k, "account", name, i->second);
      }

    json js;
    js["trace"] = o.trace.empty() ? o.workload : o.trace;
    js["plans"] = json::array();
    for (std::size_t k = 0; k < o.plans.size(); ++k)
      js["plans"].push_back({{"index", k + 1},
                             {"spec", o.plans[k]},
                             {"family", summaries[k]["plan"]["family"]},
                             {"dir", label(k)},
                             {"overall", overall[k].to_json()}});
    js["set"] = o.sets;
    js["accounts"] = json::object();
    for (auto& name : accounts) {
      json per = json::array();
      for (std::size_t k = 0; k < o.plans.size(); ++k) {
        auto i = by_plan[k].find(name);
        per.push_back(i == by_plan[k].end() ? json(nullptr) : i->second.to_json());
      }
      js["accounts"][name] = per;
    }
    js["changed_most"] = {
        {"definition",
         "accounts ranked by the largest absolute change, against plan 1, in the share of their "
         "requests that did not end in 200 (not_200_rate); ties by account name"},
        {"accounts", json::array()}};
    for (auto& c : changed) {
      json rates = json::array();
      for (std::size_t k = 0; k < o.plans.size(); ++k) {
        auto i = by_plan[k].find(c.account);
        rates.push_back(i == by_plan[k].end() ? 0.0 : i->second.not_200_rate);
      }
      js["changed_most"]["accounts"].push_back(
          {{"account", c.account}, {"change", c.change}, {"plan", c.plan + 1}, {"not_200_rate", rates}});
    }
    files.write("compare.csv", csv);
    files.write("compare.json", js.dump(2) + "\n");
    if (o.plots) {
      for (std::size_t k = 0; k < o.plans.size(); ++k)
        write_run_plots((files.staging() / label(k)).string());
      write_compare_index(files.staging().string());
    }
    files.commit();

    if (o.quiet) return exit_ok;
    std::string t;
    char line[400];
    t += "compare: " + std::to_string(o.plans.size()) + " plans on " + js["trace"].get<std::string>() +
         " (" + std::to_string(summaries[0]["trace"]["rows"].get<long long>()) + " rows, " +
         std::to_string(accounts.size()) + " accounts)\n";
    for (std::size_t k = 0; k < o.plans.size(); ++k)
      t += "  " + label(k) + "  " + o.plans[k] + "  (" + summaries[k]["plan"]["family"].get<std::string>() + ")\n";
    std::snprintf(line, sizeof(line), "\n%-24s %-6s %s\n", "account", "plan",
                  outcome_metrics::table_header().c_str());
    t += line;
    auto block = [&](const std::string& name, const std::vector<const outcome_metrics*>& ms) {
      for (std::size_t k = 0; k < ms.size(); ++k) {
        if (!ms[k]) continue;
        std::snprintf(line, sizeof(line), "%-24.24s %-6s %s\n", k == 0 ? name.c_str() : "",
                      label(k).c_str(), ms[k]->table_cells().c_str());
        t += line;
      }
    };
    std::vector<const outcome_metrics*> all;
    for (auto& m : overall) all.push_back(&m);
    block("(all)", all);
    std::vector<std::string> busiest = accounts;
    std::stable_sort(busiest.begin(), busiest.end(), [&](const std::string& a, const std::string& b) {
      return requests[a] > requests[b];
    });
    for (std::size_t i = 0; i < busiest.size() && i < o.top; ++i) {
      std::vector<const outcome_metrics*> ms;
      for (auto& p : by_plan) {
        auto f = p.find(busiest[i]);
        ms.push_back(f == p.end() ? nullptr : &f->second);
      }
      block(busiest[i], ms);
    }
    if (busiest.size() > o.top)
      t += "... " + std::to_string(busiest.size() - o.top) + " more accounts in compare.csv\n";
    auto not_200 = [&](std::size_t k, const std::string& name) {
      auto f = by_plan[k].find(name);
      return f == by_plan[k].end() ? 0.0 : f->second.not_200_rate;
    };
    t += "\nchanged most (share of requests not answered 200, against plan1):\n";
    if (changed.empty()) t += "  no account changed\n";
    for (std::size_t i = 0; i < changed.size() && i < o.changed; ++i) {
      auto& c = changed[i];
      std::string rates;
      for (std::size_t k = 0; k < by_plan.size(); ++k) rates += (k ? " -> " : "") + percent(not_200(k, c.account));
      std::snprintf(line, sizeof(line), "  %-24.24s %s  (%+.2f pp in %s)\n", c.account.c_str(),
                    rates.c_str(), (not_200(c.plan, c.account) - not_200(0, c.account)) * 100.0,
                    label(c.plan).c_str());
      t += line;
    }
    t += "wrote " + (fs::path(o.out) / "compare.csv").string() + ", compare.json and planK/ runs\n";
    std::cout << t;
    return exit_ok;
  });
}

}  // namespace usher::tools

/// `usher advise`: per account, what the seed tells a customer to watch, as
/// observed under the current plan, and the smallest size that clears it
/// (tools/advisor.hpp does the search). Prints a table; with --out, writes
/// advise.csv and advise.json (docs/WHATIF.md).

#include <boost/program_options.hpp>
#include <optional>
#include <iostream>

#include "policies/input_error.hpp"
#include "tools/advisor.hpp"
#include "tools/command_line.hpp"
#include "tools/commands.hpp"
#include "tools/parallel_runs.hpp"
#include "tools/staged_files.hpp"
#include "traces/plan_file.hpp"

namespace usher::tools {

namespace po = boost::program_options;
namespace fs = std::filesystem;
using policies::input_error;
using nlohmann::json;

namespace {

struct advise_options {
  std::string trace, workload, family, plan, out;
  std::vector<std::string> sets;
  double target = 0.01;
  std::size_t jobs = 0;
  bool quiet = false;
};

po::options_description describe(advise_options& o) {
  po::options_description d(
      "usher advise (--trace FILE.csv | --workload FILE) (--family FAMILY | --plan PLAN) [--out DIR] "
      "[options]\n\n"
      "Per account: the signals of its seed under the current plan, and the smallest size "
      "that clears them (docs/WHATIF.md)");
  d.add_options()("help,h", "show this help")(
      "trace", po::value(&o.trace),
      "request trace, CSV, gzip or plain; - reads stdin (docs/FORMATS.md)")(
      "workload", po::value(&o.workload),
      "workload file: generated clients per account, optionally with a trace; held once for "
      "every run (docs/WORKLOADS.md)")(
      "family", po::value(&o.family),
      "streams (tiers: upgrade signals), weighted, per-model or exclusive (limit: 429 share)")(
      "plan", po::value(&o.plan),
      "the current plan, a preset or plan file (default: the family's preset)")(
      "set", po::value(&o.sets)->composing(),
      "KEY=VALUE: override in the current plan (repeatable)")(
      "target-reject", po::value(&o.target),
      "weighted, per-model, exclusive: the largest acceptable share of 429s (default 0.01)")(
      "out", po::value(&o.out), "directory for advise.csv and advise.json")(
      "jobs,j", po::value(&o.jobs), "runs simulated at once (default: the machine's cores)")(
      "quiet,q", po::bool_switch(&o.quiet), "print nothing on success");
  return d;
}

std::string yes(bool b) { return b ? "1" : "0"; }

std::string change(std::int64_t now, std::int64_t advised) {
  if (now < 0) return "limit";  // unlimited today: a limit is new
  return advised > now ? "upgrade" : advised < now ? "downgrade" : "keep";
}

}  // namespace

int advise_command(const std::vector<std::string>& args) {
  advise_options o;
  auto desc = describe(o);
  po::variables_map vm;
  if (auto done = parse_options("advise", args, desc, vm, [&] {
        if (o.family.empty() && o.plan.empty()) throw po::error("give --family or --plan");
        if (o.trace.empty() && o.workload.empty()) throw po::error("give --trace or --workload");
        if (!(o.target >= 0 && o.target <= 1)) throw po::error("--target-reject: expected a share between 0 and 1");
      }))
    return *done;

  keep_freed_memory();
  return report_errors("advise", [&] {
    if (!o.family.empty() && o.family != "streams" && o.family != "weighted" &&
        o.family != "per-model" && o.family != "exclusive" && o.family != "session-rate")
      throw input_error::at("--family", 0, "",
                            "expected streams, weighted, per-model or exclusive, got " +
                                policies::quoted(o.family));
    if (o.plan.empty()) o.plan = o.family;
    auto plan = traces::load_plan(o.plan, o.sets);
    std::string fam(policies::to_string(plan->base()));
    if (!o.family.empty() && fam != o.family)
      throw input_error::at("--plan", 0, "",
                            policies::quoted(o.plan) + " is of the " + fam +
                                " family, not " + o.family);
    std::size_t jobs = o.jobs == 0 ? default_jobs() : o.jobs;
    std::optional<workload> clients;
    if (!o.workload.empty()) clients = read_workload_file(o.workload);
    traces::loaded_trace trace(o.trace.empty() && clients ? clients->trace : o.trace,
                               jobs);  // read in `jobs` pieces at once
    std::unique_ptr<staged_files> files;
    if (!o.out.empty())
      files = std::make_unique<staged_files>(o.out,
                                             std::vector<std::string>{"advise.csv", "advise.json"});
    progress_line progress("usher advise", "runs", 0,
                           trace.rows().empty() ? 0 : trace.rows().back().at, jobs);
    if (!trace.rows().empty()) progress.starts_at(trace.rows().front().at);
    advise_request request;
    request.plan = o.plan;
    request.sets = o.sets;
    request.target_reject = o.target;
    request.jobs = jobs;
    request.clients = clients ? &*clients : nullptr;
    request.progress = &progress;
    auto adv = advise_plan(trace, request);
    progress.clear();
    bool streams = adv.fam == policies::family::streams;

    std::vector<std::string> header =
        streams ? std::vector<std::string>{"account", "requests", "tier", "limit", "timeout_rate",
                                           "mean_queue_wait_s", "maxed_business_hours_fraction",
                                           "timeouts_over_threshold", "mean_queue_wait_over_threshold",
                                           "maxed_through_business_hours", "upgrade_signal",
                                           "advice_tier", "advice_limit", "change"}
                : std::vector<std::string>{"account", "requests", "limit", "reject_rate",
                                           "target_reject", "advice_limit",
                                           "reject_rate_at_advice", "change"};
    std::string csv = csv_line(header);
    json js;
    js["family"] = fam;
    js["plan"] = o.plan;
    js["set"] = o.sets;
    js["trace"] = o.trace;
    js["runs"] = adv.runs;
    if (!streams) js["target_reject"] = o.target;
    js["accounts"] = json::array();
    for (auto& a : adv.accounts) {
      std::string limit = a.limit < 0 ? "none" : std::to_string(a.limit);
      std::string advised = a.found ? std::to_string(a.advice_limit) : "";
      json j;
      j["account"] = a.account;
      j["requests"] = a.now.requests;
      j["limit"] = a.limit < 0 ? json(nullptr) : json(a.limit);
      if (streams) {
        bool upgrade = a.timeouts || a.waits || a.maxed;
        csv += csv_line({a.account, std::to_string(a.now.requests), a.tier, limit,
                         decimal(a.timeout_rate), decimal(a.mean_queue_wait_s),
                         decimal(a.maxed_fraction), yes(a.timeouts), yes(a.waits), yes(a.maxed),
                         yes(upgrade), a.advice_tier, advised,
                         a.found ? change(a.limit, a.advice_limit) : "unknown"});
        j["tier"] = a.tier;
        j["signals"] = {{"timeout_rate", a.timeout_rate},
                        {"mean_queue_wait_s", a.mean_queue_wait_s},
                        {"maxed_business_hours_fraction", a.maxed_fraction},
                        {"timeouts_over_threshold", a.timeouts},
                        {"mean_queue_wait_over_threshold", a.waits},
                        {"maxed_through_business_hours", a.maxed},
                        {"upgrade", upgrade}};
        j["advice"] = {{"tier", a.advice_tier}, {"limit", a.found ? json(a.advice_limit) : json(nullptr)}};
      } else {
        csv += csv_line({a.account, std::to_string(a.now.requests), limit, decimal(a.reject_rate),
                         decimal(o.target), advised, decimal(a.reject_rate_at_advice),
                         a.found ? change(a.limit, a.advice_limit) : "unknown"});
        j["reject_rate"] = a.reject_rate;
        j["advice"] = {{"limit", a.found ? json(a.advice_limit) : json(nullptr)},
                       {"reject_rate", a.reject_rate_at_advice}};
      }
      if (!a.note.empty()) j["note"] = a.note;
      js["accounts"].push_back(j);
    }
    if (files) {
      files->write("advise.csv", csv);
      files->write("advise.json", js.dump(2) + "\n");
      files->commit();
    }
    if (o.quiet) return exit_ok;

    std::string t;
    char line[400];
    std::snprintf(line, sizeof(line), "advise: %s family, plan %s, trace %s (%zu rows, %zu accounts), %zu runs\n",
                  fam.c_str(), o.plan.c_str(), o.trace.c_str(), trace.rows().size(),
                  adv.accounts.size(), adv.runs);
    t += line;
    if (streams) {
      std::snprintf(line, sizeof(line), "%-24s %9s %-14s %8s %10s %7s  %-20s %s\n", "account",
                    "requests", "now", "408", "queue wait", "maxed", "signals", "smallest tier that clears");
      t += line;
      for (auto& a : adv.accounts) {
        std::string now = (a.tier.empty() ? "limit" : a.tier) + " (" + (a.limit < 0 ? "none" : std::to_string(a.limit)) + ")";
        std::string sig;
        if (a.timeouts) sig += "timeouts";
        if (a.waits) sig += std::string(sig.empty() ? "" : ",") + "wait";
        if (a.maxed) sig += std::string(sig.empty() ? "" : ",") + "maxed";
        if (sig.empty()) sig = "-";
        std::string adv_text = !a.found ? "none found (" + a.note + ")"
                               : a.advice_tier == "platform" ? "platform " + std::to_string(a.advice_limit)
                                                             : a.advice_tier + " (" + std::to_string(a.advice_limit) + ")";
        std::snprintf(line, sizeof(line), "%-24.24s %9lld %-14s %8s %9.1fs %7s  %-20s %s\n",
                      a.account.c_str(), static_cast<long long>(a.now.requests), now.c_str(),
                      percent(a.timeout_rate).c_str(), a.mean_queue_wait_s,
                      percent(a.maxed_fraction).c_str(), sig.c_str(), adv_text.c_str());
        t += line;
      }
      t += "signals: timeouts > " + percent(plan->signals().timeout_rate) + " of requests, mean queue wait > " +
           decimal(static_cast<double>(plan->signals().mean_queue_wait) / 1e6) +
           " s, maxed = at the limit >= " + percent(plan->signals().maxed_fraction) + " of business hours\n";
    } else {
      // The share it judged by, by name and value, in the header.
      std::snprintf(line, sizeof(line), "%-24s %9s %8s %8s  %s\n", "account", "requests", "limit",
                    "429 now", ("smallest limit with 429 <= " + percent(o.target)).c_str());
      t += line;
      for (auto& a : adv.accounts) {
        std::string adv_text = a.found ? std::to_string(a.advice_limit) + " (429 " +
                                             percent(a.reject_rate_at_advice) + ")"
                                       : "none found (" + a.note + ")";
        std::snprintf(line, sizeof(line), "%-24.24s %9lld %8s %8s  %s\n", a.account.c_str(),
                      static_cast<long long>(a.now.requests),
                      a.limit < 0 ? "none" : std::to_string(a.limit).c_str(),
                      percent(a.reject_rate).c_str(), adv_text.c_str());
        t += line;
      }
      t += "429 share: of an account's requests, those that ended in 429; target "
           "(--target-reject): at most " +
           percent(o.target) + "\n";
    }
    if (files) t += "wrote " + (fs::path(o.out) / "advise.csv").string() + " and advise.json\n";
    std::cout << t;
    return exit_ok;
  });
}

}  // namespace usher::tools

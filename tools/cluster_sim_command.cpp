/// `usher cluster-sim`: a cluster of serve members under the virtual clock
/// with a fault schedule (tools/cluster_sim.hpp does the run; this file is
/// the command line). --out is replaced whole or not at all.

#include <boost/program_options.hpp>
#include <iostream>

#include "tools/cluster_sim.hpp"
#include "tools/cluster_sim_shrink.hpp"
#include "tools/command_line.hpp"
#include "tools/commands.hpp"
#include "tools/staged_files.hpp"
#include "tools/workload_file.hpp"

namespace usher::tools {

namespace po = boost::program_options;

/// --shrink's schedule, in --out (not faults.txt: a user's schedule may be
/// there, and --out's files of an earlier run are replaced).
constexpr const char* shrunk_name = "shrunk-faults.txt";
constexpr const char* shrunk_trace_name = "shrunk-trace.csv";

int cluster_sim_command(const std::vector<std::string>& args) {
  cluster_sim_request r;
  bool quiet = false, shrink = false;
  std::string client_timeout, health_check, health_timeout, stop;
  po::options_description d(
      "usher cluster-sim --config FILE (--trace FILE.csv | --workload FILE | --client SPEC...) "
      "[--faults FILE] [--random-faults N] "
      "[--client-timeout T] [--health-check T [--health-threshold N] [--health-timeout T]] [--tickets] [--holders-keep-going] [--seed S] "
      "[--follow ACCOUNT] [--shrink] --out DIR");
  d.add_options()("help,h", "show this help")(
      "config", po::value(&r.config)->required(),
      "a serve config with a [cluster] section: every member runs it (docs/CLUSTER.md)")(
      "trace", po::value(&r.trace),
      "the requests, CSV (docs/FORMATS.md); each enters the member its node column names, or "
      "the members in turn")(
      "faults", po::value(&r.faults),
      "a fault schedule: crash, restart, pause, partition, delay, drop (docs/CLUSTER-SIM.md)")(
      "random-faults", po::value(&r.random_faults),
      "N more faults drawn from the seed: crashes, pauses, partitions of one member at a time")(
      "holders-keep-going", po::bool_switch(&r.holders_keep_going),
      "clients go on using a lease they lost (their renewals failing) to their request's end: "
      "what breaking the admission API's rules costs")(
      "client-timeout", po::value(&client_timeout),
      "a client with no answer after this long gives up (499): 65s as the OpenAI SDK's; default "
      "none. With it, --random-faults draws message losses too")(
      "health-check", po::value(&health_check),
      "the load balancer checks each member's readiness (/readyz) this often and sends nothing to "
      "one that failed its last check (no majority, or paused); default: it skips only members "
      "whose process is gone")(
      "health-threshold", po::value(&r.health_threshold),
      "with --health-check: checks in a row that must disagree with a member's state to change "
      "it, both ways (default 1)")(
      "health-timeout", po::value(&health_timeout),
      "with --health-check: a check of a paused member (a process that answers nothing) fails "
      "this long after it was sent, as a real probe's timeout (default: at once); less than "
      "--health-check")(
      "tickets", po::bool_switch(&r.tickets),
      "clients admit asynchronously (202 and a ticket when queued) and poll their ticket until "
      "it is decided, as a client of \"async\": true does")(
      "seed", po::value(&r.seed),
      "random seed of the faults, the network and the clients (default: the workload's, or 1): "
      "the same seed gives the same files")(
      "follow", po::value(&r.follow)->composing(),
      "ACCOUNT: events.log also tells its requests as its clients saw them (sent, answered, "
      "renewed, released, lost); repeatable")(
      "shrink", po::bool_switch(&shrink),
      "when the run breaks a promise (over a limit, unanswered, unavailable at the end, a lease "
      "unaccounted for), find the fewest of its faults that still break it, each try a run with "
      "the same seed, and over a limit cut the trace after its first instant; DIR gets that run's "
      "files, its schedule (shrunk-faults.txt) and its trace (shrunk-trace.csv)")(
      "out", po::value(&r.out_name)->required(),
      "directory for outcomes.csv, leases.csv, summary.json, events.log")(
      "quiet,q", po::bool_switch(&quiet), "print nothing on success");
  add_client_options(d, r.workload, r.clients, stop,
                     "; its accounts must be in --config, its requests enter the members in turn");
  po::variables_map vm;
  if (auto done = parse_options("cluster-sim", args, d, vm)) return *done;
  return report_errors("cluster-sim", [&] {
    if (!client_timeout.empty()) r.client_timeout = duration_option("--client-timeout", client_timeout);
    if (!stop.empty()) r.stop = duration_option("--stop", stop);
    if (!health_check.empty()) r.health_check = duration_option("--health-check", health_check);
    if (r.health_threshold < 1)
      throw policies::input_error::at("--health-threshold", 0, "", "expected 1 or more");
    if (vm.count("health-threshold") && r.health_check <= 0)
      throw policies::input_error::at("--health-threshold", 0, "", "needs --health-check");
    if (!health_timeout.empty()) {
      r.health_timeout = duration_option("--health-timeout", health_timeout);
      if (r.health_check <= 0)
        throw policies::input_error::at("--health-timeout", 0, "", "needs --health-check");
      if (r.health_timeout >= r.health_check)
        throw policies::input_error::at("--health-timeout", 0, "",
                                        "a check's timeout must be less than --health-check, its interval");
    }
    if (!vm.count("seed") && !r.workload.empty()) r.seed = read_workload_file(r.workload).seed;
    staged_files files(r.out_name, std::vector<std::string>{"outcomes.csv", "leases.csv", "summary.json",
                                                            "events.log", shrunk_name, shrunk_trace_name});
    auto run = r;
    run.out_dir = files.staging().string();
    if (shrink) {
      auto schedule = (files.staging() / shrunk_name).string();
      auto s = shrink_faults(r, schedule, (files.staging() / shrunk_trace_name).string(),
                             [&](const std::string& step) {
        if (!quiet) std::cerr << "usher cluster-sim: shrink: " << step << "\n";
      });
      if (s.broken.any() && s.reproduced) {
        // Its files are those of the smallest schedule's run, whose events.log
        // follows the account first over its limit.
        run.faults = schedule;
        run.faults_name = (std::filesystem::path(r.out_name) / shrunk_name).string();
        run.random_faults = 0;
        if (run.follow.empty() && !s.first_over_account.empty()) run.follow.push_back(s.first_over_account);
      }
      if (!s.trace.empty()) {
        run.trace = s.trace;
        run.trace_name = (std::filesystem::path(r.out_name) / shrunk_trace_name).string();
      } else {
        std::filesystem::remove(files.staging() / shrunk_trace_name);
      }
      if (!quiet && s.broken.any() && s.reproduced) {
        auto replay = run;
        replay.out_name = "DIR";  // another directory: one run into --out replaces its schedule
        std::cout << "shrunk " << s.whole.size() << " faults to " << s.lines.size();
        if (!s.trace.empty()) std::cout << " and the trace to " << s.rows_kept << " of " << s.rows << " rows";
        std::cout << " in " << s.runs << " runs; they still break: " << s.broken.text() << "\n"
                  << "replay: " << replay_command(replay) << "\n";
      }
    }
    auto t = run_cluster_sim(run);
    files.commit();
    if (!quiet)
      std::cout << "requests " << t.requests << ", admitted " << t.admitted << ", refused 503 "
                << t.refused_503 << ", unanswered " << t.unanswered << "\n"
                << "unavailable " << t.unavailable_s << " account-seconds (longest "
                << t.longest_unavailable_s << " s)\n"
                << "leases " << t.leases << ", lost " << t.leases_lost
                << "; unit-seconds over a limit " << t.unit_seconds_over << " (most at once "
                << t.max_over << "), connection-seconds over a cap " << t.connection_seconds_over
                << "\n"
                << t.schedule.size() << (t.schedule.size() == 1 ? " fault; " : " faults; ")
                << t.messages_lost << " messages lost; files in " << r.out_name << "\n"
                << t.clients_table;
    return exit_ok;
  });
}

}  // namespace usher::tools

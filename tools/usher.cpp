/// `usher <subcommand> [options]`: the one binary. This file only dispatches;
/// each subcommand lives in its own file and maps errors to exit codes there.

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "policies/closest_match.hpp"
#include "policies/input_error.hpp"
#include "tools/commands.hpp"
#include "usher_version.hpp"  // generated at build time: cmake/UsherVersion.cmake

namespace {

const char* usage =
    "usher: concurrency plans of AI inference APIs, simulated and enforced\n"
    "\n"
    "usage: usher <command> [options]\n"
    "\n"
    "commands:\n"
    "  simulate   replay a request trace through a plan (usher simulate --help)\n"
    "  trace      convert, generate and inspect request traces (usher trace --help)\n"
    "  compare    run several plans on the same trace, side by side (docs/WHATIF.md)\n"
    "  sweep      run a plan over a grid of parameter values, in parallel\n"
    "  worker     run the variants of sweeps started on other machines (sweep --workers)\n"
    "  advise     per account: upgrade signals and the smallest tier or limit that clears them\n"
    "  plot       draw SVG pictures and an index.html of a run, sweep or comparison\n"
    "  serve      run a live admission node over HTTP (usher serve --help, docs/SERVE.md)\n"
    "  cluster-sim  a cluster of serve members under a virtual clock, with faults (docs/CLUSTER-SIM.md)\n"
    "  key        hash or make API keys for a node config (usher key --help)\n"
    "  mock-model  an OpenAI-compatible model server stand-in for tests, demos and benchmarks (docs/GATEWAY.md)\n"
    "  help CMD   the options of a command (the same as usher CMD --help)\n"
    "  version    print the version and the commit it was built from (also: --version)\n"
    "\n"
    "Docs: README.md, docs/PLANS.md (every plan key), docs/FORMATS.md (files).\n";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> words(argv + 1, argv + argc);
  // `usher help CMD [SUB]` is `usher CMD [SUB] --help`.
  if (words.size() > 1 && words[0] == "help") {
    words.erase(words.begin());
    words.push_back("--help");
  }
  if (words.empty() || words[0] == "--help" || words[0] == "-h" || words[0] == "help") {
    std::fputs(usage, words.empty() ? stderr : stdout);
    return words.empty() ? usher::tools::exit_bad_input : usher::tools::exit_ok;
  }
  if (words[0] == "--version" || words[0] == "version") {
    std::printf("usher %s (commit %s)\n", USHER_VERSION, USHER_COMMIT);
    return usher::tools::exit_ok;
  }
  std::string command = words[0];
  std::vector<std::string> args(words.begin() + 1, words.end());
  if (command == "simulate") return usher::tools::simulate_command(args);
  if (command == "trace") return usher::tools::trace_command(args);
  if (command == "compare") return usher::tools::compare_command(args);
  if (command == "sweep") return usher::tools::sweep_command(args);
  if (command == "worker") return usher::tools::worker_command(args);
  if (command == "advise") return usher::tools::advise_command(args);
  if (command == "plot") return usher::tools::plot_command(args);
  if (command == "serve") return usher::tools::serve_command(args);
  if (command == "cluster-sim") return usher::tools::cluster_sim_command(args);
  if (command == "key") return usher::tools::key_command(args);
  if (command == "mock-model") return usher::tools::mock_model_command(args);
  std::string hint =
      usher::policies::did_you_mean(command, {"simulate", "trace", "compare", "sweep", "worker", "advise",
                                              "plot", "serve", "cluster-sim", "key", "mock-model", "version",
                                              "help"});
  std::fprintf(stderr, "usher: unknown command %s%s\n\n%s",
               usher::policies::quoted(command).c_str(), hint.c_str(), usage);
  return usher::tools::exit_bad_input;
}

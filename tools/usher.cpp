/// `usher <subcommand> [options]`: the one binary. This file only dispatches;
/// each subcommand lives in its own file and maps errors to exit codes there.

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "tools/commands.hpp"

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
    "  advise     per account: upgrade signals and the smallest tier or limit that clears them\n"
    "  plot       draw SVG pictures and an index.html of a run, sweep or comparison\n"
    "  serve      run a live admission node over HTTP (usher serve --help, docs/SERVE.md)\n"
    "  key        hash or make API keys for a node config (usher key --help)\n"
    "\n"
    "Docs: README.md, docs/PLANS.md (every plan key), docs/FORMATS.md (files).\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") ||
      !std::strcmp(argv[1], "help")) {
    std::fputs(usage, argc < 2 ? stderr : stdout);
    return argc < 2 ? usher::tools::exit_bad_input : usher::tools::exit_ok;
  }
  std::string command = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  if (command == "simulate") return usher::tools::simulate_command(args);
  if (command == "trace") return usher::tools::trace_command(args);
  if (command == "compare") return usher::tools::compare_command(args);
  if (command == "sweep") return usher::tools::sweep_command(args);
  if (command == "advise") return usher::tools::advise_command(args);
  if (command == "plot") return usher::tools::plot_command(args);
  if (command == "serve") return usher::tools::serve_command(args);
  if (command == "key") return usher::tools::key_command(args);
  std::fprintf(stderr, "usher: unknown command \"%s\"\n\n%s", command.c_str(), usage);
  return usher::tools::exit_bad_input;
}

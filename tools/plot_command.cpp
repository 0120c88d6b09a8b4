/// `usher plot`: draws the pictures of results already on disk (a run of
/// simulate, a sweep, a comparison) with gnuplot; tools/plots.hpp.

#include <boost/program_options.hpp>
#include <filesystem>
#include <iostream>

#include "policies/input_error.hpp"
#include "tools/command_line.hpp"
#include "tools/commands.hpp"
#include "tools/plots.hpp"

namespace usher::tools {

namespace po = boost::program_options;
namespace fs = std::filesystem;

int plot_command(const std::vector<std::string>& args) {
  std::string run, sweep, compare;
  std::size_t busiest = 5;
  bool quiet = false;
  po::options_description d(
      "usher plot (--run DIR | --sweep DIR | --compare DIR) [options]\n\n"
      "Draws SVG pictures and an index.html with gnuplot (docs/WHATIF.md)");
  d.add_options()("help,h", "show this help")(
      "run", po::value(&run), "a simulate output directory (summary.json, timeseries.csv, outcomes.csv)")(
      "sweep", po::value(&sweep), "a sweep output directory (sweep.csv)")(
      "compare", po::value(&compare), "a compare output directory (compare.json, planK/)")(
      "busiest", po::value(&busiest), "accounts drawn one by one in a run's pictures (default 5)")(
      "quiet,q", po::bool_switch(&quiet), "print nothing on success");
  po::variables_map vm;
  if (auto done = parse_options("plot", args, d, vm, [&] {
        if (!run.empty() + !sweep.empty() + !compare.empty() != 1)
        throw po::error("give exactly one of --run, --sweep, --compare");
      }))
    return *done;
  return report_errors("plot", [&] {
    std::string dir = !run.empty() ? run : !sweep.empty() ? sweep : compare;
    std::vector<std::string> files;
    if (!run.empty()) files = write_run_plots(run, busiest);
    if (!sweep.empty()) files = write_sweep_plots(sweep);
    if (!compare.empty()) {
      // Each plan's own pictures first: the comparison page shows them.
      for (auto& entry : fs::directory_iterator(compare))
        if (entry.is_directory() && fs::exists(entry.path() / "summary.json"))
          write_run_plots(entry.path().string(), busiest);
      files = write_compare_index(compare);
    }
    if (!quiet) {
      std::cout << "wrote";
      for (auto& f : files) std::cout << " " << (fs::path(dir) / f).string();
      std::cout << "\n";
    }
    return exit_ok;
  });
}

}  // namespace usher::tools

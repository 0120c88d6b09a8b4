/// `usher plot`: draws the pictures of results already on disk (a run of
/// simulate, a sweep, a comparison) with gnuplot; tools/plots.hpp.

#include <boost/program_options.hpp>
#include <filesystem>
#include <iostream>
#include <memory>

#include "policies/input_error.hpp"
#include "tools/command_line.hpp"
#include "tools/commands.hpp"
#include "tools/plots.hpp"
#include "tools/staged_files.hpp"

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
    // Pictures are drawn aside and replace the earlier ones only when all
    // are drawn (tools/staged_files.hpp): a failed redraw changes nothing.
    std::vector<std::string> files;
    if (!run.empty()) {
      staged_files out(run, run_plot_files());
      files = write_run_plots(run, busiest, out.staging().string());
      out.commit();
    }
    if (!sweep.empty()) {
      staged_files out(sweep, sweep_plot_files());
      files = write_sweep_plots(sweep, out.staging().string());
      out.commit();
    }
    if (!compare.empty()) {
      staged_files out(compare, compare_plot_files());
      // Each plan's own pictures first: the comparison page shows them.
      std::vector<std::unique_ptr<staged_files>> plans;
      for (auto& entry : fs::directory_iterator(compare))
        if (entry.is_directory() && fs::exists(entry.path() / "summary.json")) {
          plans.push_back(std::make_unique<staged_files>(entry.path(), run_plot_files()));
          write_run_plots(entry.path().string(), busiest, plans.back()->staging().string());
        }
      files = write_compare_index(compare, out.staging().string());
      for (auto& p : plans) p->commit();
      out.commit();
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

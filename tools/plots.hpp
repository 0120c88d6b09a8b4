#pragma once
/// Pictures of what-if results, drawn by gnuplot (tools/gnuplot.hpp) as SVG
/// files a browser opens, with an index.html that shows them together.
/// The numbers are prepared here from the result files (small data files
/// and the gnuplot scripts are kept in DIR/plots/, so a picture can be
/// redrawn or restyled by hand); gnuplot only draws.
///
/// - a run (`usher simulate --plots`, `usher plot --run DIR`): in flight and
///   queue depth over time for the busiest accounts (timeseries.csv), the
///   queue-wait distribution (outcomes.csv), the outcome mix per account.
/// - a sweep (`usher sweep --plots`, `usher plot --sweep DIR`): each metric
///   against the first varied key, one line per value of the second.
/// - a comparison (`usher compare --plots`): every plan's run pictures, and
///   the outcome mix of the plans side by side.
///
/// Every function reads its results from one directory and draws into
/// `into` (the same directory when empty; a staging directory when a command
/// replaces its pictures whole, tools/staged_files.hpp). Scripts name their
/// files relative to that directory, so `cd DIR && gnuplot plots/NAME.gp`
/// redraws a picture. Every function throws policies::input_error when a
/// result file is missing or malformed and std::runtime_error when gnuplot
/// fails.

#include <string>
#include <vector>

namespace usher::tools {

/// Draws inflight.svg, waits.svg, outcomes.svg and index.html for the run in
/// `run_dir` (which holds summary.json, timeseries.csv and outcomes.csv);
/// `busiest` accounts (by requests) get their own lines and bars. Returns
/// the files written.
std::vector<std::string> write_run_plots(const std::string& run_dir, std::size_t busiest = 5,
                                         const std::string& into = "");

/// Draws one SVG per metric and index.html for the sweep in `sweep_dir` (sweep.csv).
std::vector<std::string> write_sweep_plots(const std::string& sweep_dir,
                                           const std::string& into = "");

/// Draws compare_outcomes.svg and index.html for the comparison in
/// `compare_dir` (compare.json, and planK/ runs already drawn by write_run_plots).
std::vector<std::string> write_compare_index(const std::string& compare_dir,
                                             const std::string& into = "");

/// Every name each of the three may write into a directory (pictures,
/// index.html, plots/): what a rerun or a redraw replaces.
const std::vector<std::string>& run_plot_files();
const std::vector<std::string>& sweep_plot_files();
const std::vector<std::string>& compare_plot_files();

}  // namespace usher::tools

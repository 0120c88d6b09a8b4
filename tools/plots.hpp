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
/// Every function throws policies::input_error when a result file is
/// missing or malformed and std::runtime_error when gnuplot fails.

#include <string>
#include <vector>

namespace usher::tools {

/// Draws inflight.svg, waits.svg, outcomes.svg and index.html into `run_dir`
/// (which holds summary.json, timeseries.csv and outcomes.csv); `busiest`
/// accounts (by requests) get their own lines and bars. Returns the files
/// written.
std::vector<std::string> write_run_plots(const std::string& run_dir, std::size_t busiest = 5);

/// Draws one SVG per metric and index.html into `sweep_dir` (sweep.csv).
std::vector<std::string> write_sweep_plots(const std::string& sweep_dir);

/// Draws compare_outcomes.svg and index.html into `compare_dir`
/// (compare.json, and planK/ runs already drawn by write_run_plots).
std::vector<std::string> write_compare_index(const std::string& compare_dir);

}  // namespace usher::tools

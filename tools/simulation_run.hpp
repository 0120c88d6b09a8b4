#pragma once
/// One simulation run, as `simulate`, `compare` and `sweep` need it: a plan
/// (preset or file, plus overrides), a trace, and where to write outputs.
/// Outputs are written to temporary names and renamed only when the whole run
/// succeeded, so a failed run never leaves output that passes for complete.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "policies/time.hpp"

namespace usher::tools {

struct simulation_request {
  std::string plan;                ///< preset name or plan file
  std::vector<std::string> sets;   ///< KEY=VALUE overrides, applied in order
  std::string trace;               ///< trace CSV
  std::string out_dir;             ///< empty: write no files
  policies::usec interval = policies::seconds(60);
  std::size_t threads = 1;         ///< 1: virtual clock; N > 1: N workers
  std::uint64_t seed = 0;
};

struct simulation_output {
  nlohmann::json summary;
};

/// Runs it. Throws policies::input_error for bad input (plan, trace, values)
/// and std::runtime_error for anything else (a disk that refuses writes).
simulation_output run_simulation(const simulation_request& request);

}  // namespace usher::tools

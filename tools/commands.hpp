#pragma once
/// The `usher` subcommands. Each takes the arguments after its name and
/// returns the process exit code: 0 success, 2 bad input (the message names
/// the file, line and field), 1 anything else.

#include <string>
#include <vector>

namespace usher::tools {

constexpr int exit_ok = 0;
constexpr int exit_failure = 1;
constexpr int exit_bad_input = 2;

int simulate_command(const std::vector<std::string>& args);
int trace_command(const std::vector<std::string>& args);
// What-if experiments (issue #4, docs/WHATIF.md).
int compare_command(const std::vector<std::string>& args);
int sweep_command(const std::vector<std::string>& args);
// Runs the variants of sweeps on other machines (issue #14, tools/sweep_workers.hpp).
int worker_command(const std::vector<std::string>& args);
int advise_command(const std::vector<std::string>& args);
int plot_command(const std::vector<std::string>& args);
int serve_command(const std::vector<std::string>& args);
// A cluster of serve members under the virtual clock, with faults (issue #11).
int cluster_sim_command(const std::vector<std::string>& args);
int key_command(const std::vector<std::string>& args);
// An OpenAI-compatible model server stand-in (docs/GATEWAY.md).
int mock_model_command(const std::vector<std::string>& args);

}  // namespace usher::tools

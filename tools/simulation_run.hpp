#pragma once
/// One simulation run, as `simulate` and `compare` need it: a plan (preset or
/// file, plus overrides), a trace, and where to write outputs. Nothing is
/// written before the plan, the workload and the trace's header are checked;
/// the commands write into a staging directory (tools/staged_files.hpp), so
/// a run that fails later never leaves output that passes for complete.

#include <atomic>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "actors/client_actor.hpp"
#include "policies/time.hpp"
#include "tools/workload_file.hpp"
#include "traces/interner.hpp"

namespace usher::tools {

struct simulation_request {
  std::string plan;                ///< preset name or plan file
  std::vector<std::string> sets;   ///< KEY=VALUE overrides, applied in order
  std::string trace;               ///< trace CSV; may be empty with a workload
  std::string workload;            ///< workload file (docs/WORKLOADS.md), or empty
  std::vector<std::string> clients;  ///< --client NAME:key=value,... groups
  std::optional<policies::usec> stop;  ///< overrides the workload's stop
  std::string out_dir;  ///< created if missing; files there are overwritten; empty: write no files
  policies::usec interval = policies::seconds(60);
  /// 1: one thread. N > 1: a trace's accounts on N threads at once
  /// (tools/sharded_run.hpp); generated clients on N workers of CAF's
  /// scheduler. The same output either way.
  std::size_t threads = 1;
  std::optional<std::uint64_t> seed;  ///< overrides the workload's seed
  /// When set, kept at the arrival time of the last trace row read (for
  /// progress lines; tools/parallel_runs.hpp).
  std::atomic<policies::usec>* reached = nullptr;
};

struct simulation_output {
  nlohmann::json summary;
  std::string clients_table;  ///< per client group, when there are clients
};

/// Every name a run writes into its directory, its pictures included
/// (tools/plots.hpp): what a rerun into the same directory replaces.
std::vector<std::string> run_outputs();

/// summary.json's "clients": what each generated client achieved (`stats`
/// by client index), by account name.
nlohmann::json clients_summary(
    const std::vector<std::pair<std::uint32_t, actors::clients::client_stats>>& stats,
    const std::vector<actors::generated_account>& generated, const traces::interner& accounts,
    const std::vector<std::string>& group_of);

/// One line per client group: what its accounts achieved together (`stats`
/// by client index; `group_of`: each client's group name).
std::string clients_table(
    const workload& w, const std::vector<std::pair<std::uint32_t, actors::clients::client_stats>>& stats,
    const std::vector<std::string>& group_of);

/// Where a run writes its file `name`: in `out_dir`, or /dev/null when it
/// is empty.
std::string output_path(const std::string& out_dir, const char* name);

/// Writes summary.json. Throws std::runtime_error when the disk refuses.
void write_summary(const std::string& path, const nlohmann::json& summary);

/// Runs it. Throws policies::input_error for bad input (plan, trace, values)
/// and std::runtime_error for anything else (a disk that refuses writes).
simulation_output run_simulation(const simulation_request& request);

}  // namespace usher::tools

#pragma once
/// One simulation of a trace held in memory (traces/loaded_trace.hpp) under
/// one plan, as `sweep` and `advise` run hundreds of them: the virtual
/// clock, single-threaded and deterministic, and only the summary kept (no
/// outcomes.csv or timeseries.csv). The summary is the one `usher simulate`
/// writes for the same trace and plan (traces/summary.hpp), number for
/// number; tests/tools/whatif_test.cpp holds it to that.
///
/// Runs on the calling thread with an actor system of its own, so several
/// may run at once on different threads over one shared loaded_trace.

#include <atomic>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "policies/plan.hpp"
#include "tools/workload_file.hpp"
#include "traces/loaded_trace.hpp"

namespace usher::tools {

/// Replays `trace` under `plan` and returns summary.json's content, with
/// `plan_spec` recorded as the plan's name. When `reached` is set, it is
/// kept at the arrival time of the last row handed to the simulation (for
/// progress lines). With `clients`, a workload's generated clients run
/// beside the trace's rows, as in `usher simulate --workload` (one workload,
/// read once, serves every run). Throws std::runtime_error if the replay fails.
nlohmann::json run_loaded(const traces::loaded_trace& trace,
                          std::shared_ptr<const policies::plan> plan, const std::string& plan_spec,
                          std::atomic<policies::usec>* reached = nullptr,
                          const workload* clients = nullptr);

}  // namespace usher::tools

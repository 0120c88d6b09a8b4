#pragma once
/// `usher simulate --threads N` over a trace: one run on N cores, with the
/// outputs of `--threads 1` byte for byte.
///
/// The trace is read into memory in N pieces at once (traces/loaded_trace,
/// labels kept). Its accounts are dealt to N shards, balanced by row count;
/// the accounts that send anything to a model with a provider-wide capacity
/// (`model_capacity`) decide together and go to one shard as a group.
/// Each shard is a whole virtual-clock replay of its accounts' rows on a
/// thread of its own; it formats its outcomes.csv and timeseries.csv rows as
/// it decides them and passes them, with its in-flight changes for the
/// peaks, to the calling thread in chunks that come back empty for reuse.
/// The calling thread meanwhile writes outcomes.csv in trace order (each
/// row's id, account and key, then the next row of the shard that holds the
/// account), merges timeseries.csv by (interval, account) and the changes
/// into the peaks, and at the end writes summary.json.
///
/// What stays serial: the writer. Memory: the trace (48 bytes a row, plus
/// its ids and keys) and a few 256 KB chunks per shard.

#include <memory>
#include <vector>

#include "policies/plan.hpp"
#include "traces/loaded_trace.hpp"
#include "tools/simulation_run.hpp"

namespace usher::tools {

/// Which shard (0 .. at most `threads` - 1) replays each account of `trace`
/// (by id): the coupled accounts as one group, every other account on its
/// own, largest first, each to the shard with fewest rows so far. Every
/// shard gets at least one account.
std::vector<std::uint32_t> deal_accounts(const traces::loaded_trace& trace,
                                         std::shared_ptr<const policies::plan> plan,
                                         std::size_t threads);

/// Runs `request` (a trace, no generated clients; request.threads > 1) under
/// `plan`, writes its files into request.out_dir (when set) and returns the
/// summary. `seed` is recorded in the summary. Throws policies::input_error
/// for a bad trace (file, line, column, as the serial read says it).
simulation_output run_sharded(const simulation_request& request,
                              std::shared_ptr<const policies::plan> plan, const std::string& trace,
                              std::uint64_t seed);

}  // namespace usher::tools

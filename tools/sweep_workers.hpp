#pragma once
/// Sweeps across machines (issue #14, docs/WHATIF.md "Sweeps across
/// machines"): `usher worker --listen HOST:PORT` on each machine, and
/// `usher sweep ... --workers HOST:PORT,...` shipping variants to them over
/// CAF networking (the middleman, BASP: the transport of the live cluster).
///
/// The protocol uses only atoms, integers and strings (JSON text), no
/// message types of usher's own, so two builds can always talk far enough
/// to tell each other their versions. Sweep (S) and worker (W), each
/// message sent with `send`, each answer arriving as a message back:
///
///   S -> W  (hello, VERSION)                     W -> S  (hello, {"version", "jobs"})
///   S -> W  (prepare, SWEEP, {trace, workload, plan})
///                                                W -> S  (prepare, SWEEP, {"ready"} | {"need_trace"} | {"error"})
///   S -> W  (chunk, SHA256, OFFSET, BYTES)       W -> S  (chunk, {"next": OFFSET} | {"error"})
///   S -> W  (run, SWEEP, INDEX, {spec, settings}) W -> S  (run, INDEX, variant_result JSON | {"error"}
///                                                                      | {"unprepared"}: prepare again)
///
/// The trace goes once per worker: by path when the worker sees a file of
/// that size and SHA-256 at the same path (shared storage), from its cache
/// when an earlier sweep shipped it, else streamed in chunks. A worker of
/// another usher build is refused: variants of two builds may differ, and
/// sweep.csv must be the bytes a local run writes.

#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "tools/parallel_runs.hpp"
#include "tools/sweep_variant.hpp"

namespace usher::tools {

namespace remote {
using hello_atom = caf::atom_constant<caf::atom("sw_hello")>;
using prepare_atom = caf::atom_constant<caf::atom("sw_prep")>;
using chunk_atom = caf::atom_constant<caf::atom("sw_chunk")>;
using run_atom = caf::atom_constant<caf::atom("sw_run")>;

/// What both sides compare: the version and the commit built.
std::string build_identity();

/// The actor system settings of both sides: the middleman loaded, CAF's
/// log quiet, and heartbeats, so a worker whose machine hangs without
/// closing its connection counts as gone after `connection-timeout`.
void configure(caf::actor_system_config& cfg);
}  // namespace remote

/// What a worker needs to run the variants of one sweep.
struct worker_sweep {
  std::string plan_base;    ///< a preset name, or the path of a plan file (shipped as text)
  std::string trace_path;   ///< empty: no trace
  std::string workload_path;  ///< empty: no workload file (shipped as text)
  /// Per variant: every KEY=VALUE applied to plan_base, in order (the
  /// spec's overrides, --set, then the varied keys), and its plan spec.
  std::vector<std::vector<std::string>> settings;
  std::vector<std::string> specs;
};

/// Runs the variants `todo` of `sweep` on the workers at `addresses`
/// (HOST:PORT each), on each as many at once as it has jobs, and calls
/// `done(index, result)` on the calling thread as each one ends (the
/// caller journals it). A worker that cannot be reached, runs another
/// build, or goes away mid-sweep is reported on stderr and left out; its
/// unfinished variants go to the others. Throws std::runtime_error when no
/// worker is left or a variant fails on a worker. `progress` (may be
/// nullptr) is redrawn with `finished` (variants done before) plus those done here.
void run_on_workers(const std::vector<std::string>& addresses, const worker_sweep& sweep,
                    const std::vector<std::size_t>& todo,
                    const std::function<void(std::size_t, const variant_result&)>& done,
                    progress_line* progress, std::size_t finished);

}  // namespace usher::tools

#pragma once
/// `usher cluster-sim --shrink` (docs/CLUSTER-SIM.md, "Shrinking a failing
/// run"): the fewest of a run's faults that still break the promises the
/// whole schedule broke, found by delta debugging (Zeller and Hildebrandt's
/// ddmin) over the schedule's lines. Each candidate is a whole run with the
/// same seed, so what remains is a schedule that replays the failure, small
/// enough to read its event log.

#include <functional>
#include <string>
#include <vector>

#include "tools/cluster_sim.hpp"

namespace usher::tools {

/// The cluster's promises a run broke: what the property test checks.
struct broken_promises {
  bool over_limit = false;          ///< units (or connections) held above a limit (or cap)
  bool unanswered = false;          ///< a request never answered
  bool unavailable_at_end = false;  ///< an account still refused when the run ended
  bool leases_unaccounted = false;  ///< admitted requests and leases.csv's rows disagree
  bool any() const { return over_limit || unanswered || unavailable_at_end || leases_unaccounted; }
  /// Breaks at least every promise `o` breaks.
  bool covers(const broken_promises& o) const {
    return (over_limit || !o.over_limit) && (unanswered || !o.unanswered) &&
           (unavailable_at_end || !o.unavailable_at_end) && (leases_unaccounted || !o.leases_unaccounted);
  }
  /// "over a limit, unanswered requests": the promises broken, for messages.
  std::string text() const;
};

broken_promises broken_by(const cluster_sim_totals& t);

struct shrink_result {
  broken_promises broken;          ///< what the whole schedule broke
  std::vector<std::string> whole;  ///< the whole schedule's lines
  std::vector<std::string> lines;  ///< the fewest found that still break it
  std::size_t runs = 0;            ///< runs made, the first included
  /// Over a limit: the trace cut after the first instant over it, when that
  /// still breaks them ("": not cut), and its rows of the whole.
  std::string trace;
  std::size_t rows_kept = 0, rows = 0;
  /// The account first over its limit in the smallest run ("": none).
  std::string first_over_account;
  /// The whole schedule, written to a file, broke the same promises again.
  /// (Not so if faults of one instant apply in another order from the file
  /// than they did drawn: then nothing is shrunk.)
  bool reproduced = false;
};

/// Runs `request` (its files not written), and when it broke a promise,
/// shrinks its schedule (--faults and --random-faults together) to the
/// fewest lines that break those promises still: every candidate is
/// written to `schedule_path` and run with the request's seed and inputs
/// but no random faults. Then, over a limit in a run of a trace alone, cuts
/// the trace after the first instant over it (and the faults that start
/// later): `trace_path` gets the rows up to it, kept when the cut run still
/// breaks them. Last, each window's end (a pause, a partition, a drop
/// window, a crash to its restart) is bisected towards its start while it
/// still breaks them. `progress` hears each step. On return `schedule_path`
/// holds the smallest schedule found (the whole one when nothing broke).
/// Throws policies::input_error as run_cluster_sim does.
shrink_result shrink_faults(const cluster_sim_request& request, const std::string& schedule_path,
                            const std::string& trace_path,
                            const std::function<void(const std::string&)>& progress);

}  // namespace usher::tools

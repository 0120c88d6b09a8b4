#pragma once
/// Runs independent simulations on several threads, and a progress line on
/// stderr while they run.
///
/// Each task is a whole virtual-clock run with an actor system of its own
/// (tools/loaded_run.hpp), so tasks share nothing but read-only input; a
/// task stores its result by index, which is what keeps output identical
/// whatever the number of threads. tests/tools/whatif_test.cpp runs the same
/// sweep at 1 and 2 jobs and compares the files byte for byte.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "policies/time.hpp"

namespace usher::tools {

/// The progress line ("usher sweep: 37/100 variants done, simulated 5:12:00
/// 0:24:10 of 24:00:00"), drawn over itself on stderr only when stderr is a
/// terminal; otherwise every call does nothing, so logs and pipes get no
/// extra bytes. Slots are the running workers, each with the simulated time
/// it has reached.
class progress_line {
 public:
  /// `what` names the command and unit ("usher sweep", "variants"; an empty
  /// unit leaves the count out: "usher simulate: simulated 5:12:00"); `span`
  /// is the trace's last arrival (0: unknown). `force` draws even without a
  /// terminal (tests only).
  progress_line(std::string command, std::string unit, std::size_t total, policies::usec span,
                std::size_t slots, bool force = false);
  ~progress_line();

  bool enabled() const { return enabled_; }
  /// Where worker `slot` keeps its simulated time (-1: idle).
  std::atomic<policies::usec>& reached(std::size_t slot) { return reached_[slot]; }
  void total(std::size_t n) { total_ = n; }
  /// The trace's first arrival (0 by default): simulated time before it is
  /// not work, so a trace of epoch times still gets a fair time left.
  void starts_at(policies::usec first) { start_ = first; }
  /// Redraws the line with `done` units finished.
  void draw(std::size_t done);
  /// The line's text with `done` units finished after `elapsed_s` seconds:
  /// counts, simulated times, and, once two seconds have passed and some
  /// work is done, the time left ("about 0:04:10 left"), estimated from
  /// the share done so far (finished units, plus each running one's
  /// simulated time over the span) at the pace so far.
  std::string text(std::size_t done, double elapsed_s) const;
  /// Erases the line (also done by the destructor).
  void clear();

 private:
  std::string command_, unit_;
  std::size_t total_;
  policies::usec span_;
  policies::usec start_ = 0;
  std::size_t slots_;
  std::unique_ptr<std::atomic<policies::usec>[]> reached_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

/// Runs task(index, slot) once for every index in [0, count) on `jobs`
/// worker threads (slot in [0, jobs) names the worker); the calling thread
/// waits and redraws `progress` (may be nullptr) a few times a second. If a
/// task throws, no further task starts, and the exception of the lowest
/// failed index is rethrown once the running ones have ended.
/// REQUIRES: jobs >= 1; with jobs == 1 the tasks run in index order.
void run_parallel(std::size_t count, std::size_t jobs,
                  const std::function<void(std::size_t index, std::size_t slot)>& task,
                  progress_line* progress);

/// The machine's cores (at least 1): the default --jobs.
std::size_t default_jobs();

}  // namespace usher::tools

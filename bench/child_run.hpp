#pragma once
/// Runs a program as a child process and measures it from outside: wall
/// time from fork to reaped exit, CPU time and peak resident memory
/// (wait4's rusage; ru_maxrss is the child's high-water mark in KiB). Used by
/// the replay benchmark to time `usher simulate` whole: process start, plan,
/// CSV parsing, simulation and the three output files.
///
/// Why a spawner process: a forked child starts with a copy of its parent's
/// resident pages, and Linux keeps that size in the child's ru_maxrss across
/// exec. The benchmark holds large in-memory traces, so it forks one small
/// spawner at startup, before allocating anything, and every measured child
/// is forked from that spawner: its peak is then its own (plus the
/// spawner's few MiB at most).

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace usher::bench {

struct child_result {
  int exit_code = -1;     ///< the child's exit status; -1 when killed by a signal
  double wall_s = 0;
  double user_s = 0;
  double sys_s = 0;
  std::int64_t max_rss_kib = 0;
};

class spawner {
 public:
  /// Forks the spawner. Call it before allocating much. Throws
  /// std::runtime_error when it cannot.
  spawner();
  ~spawner();
  spawner(const spawner&) = delete;
  spawner& operator=(const spawner&) = delete;

  /// Runs argv[0] with `argv` (PATH not searched), stdout to /dev/null and
  /// stderr inherited, and waits for it. Throws std::runtime_error when the
  /// spawner is gone.
  child_result run(const std::vector<std::string>& argv);

 private:
  int to_spawner_ = -1, from_spawner_ = -1;
  pid_t pid_ = -1;
};

}  // namespace usher::bench

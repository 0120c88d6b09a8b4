#pragma once
/// The logs of `usher serve` (docs/SERVE.md, "Logs"): the error log, what the
/// node says with a level (debug, info, warn, error), and the access log, one
/// logfmt line per HTTP request (actors/http/access_log.hpp formats and
/// batches the lines; this opens where they go). Each goes to stderr (which
/// systemd hands to journald) or to a file, opened for appending; a file is
/// reopened by reopen() (SIGUSR1, after logrotate moved it). Thread-safe:
/// the loggers' sinks lock.

#include <memory>
#include <string>
#include <vector>

namespace spdlog {
class logger;
}

namespace usher::tools {

struct node_config;

struct node_logs {
  std::shared_ptr<spdlog::logger> error;   ///< never null
  std::shared_ptr<spdlog::logger> access;  ///< null: access_log = off

  /// Reopens every log that is a file under its configured path (a file
  /// moved away is left to its new name; a new one is created). Returns
  /// the errors, one per file that could not be opened (that log then
  /// keeps writing to the file it had).
  std::vector<std::string> reopen();
};

/// Opens the logs `c` names (access_log, error_log, log_level). Throws
/// std::runtime_error naming the setting and file when a file cannot be
/// opened for appending.
node_logs open_node_logs(const node_config& c);

/// An error log for before the config is read and for tests: stderr, info.
std::shared_ptr<spdlog::logger> stderr_error_log();

}  // namespace usher::tools

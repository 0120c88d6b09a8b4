#pragma once
/// Test support: runs the usher binary as users do (in the source directory,
/// so paths in messages are relative) and reads what it wrote. For tests of
/// the what-if commands; tests/tools/cli_test.cpp keeps its own copy.

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace usher::testing {

struct cli_result {
  int code = -1;
  std::string out, err;
};

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// A fresh scratch path under the temp directory, unique to this process.
inline std::filesystem::path scratch(const std::string& name) {
  auto p = std::filesystem::temp_directory_path() / ("usher-whatif-" + std::to_string(::getpid())) / name;
  std::filesystem::remove_all(p);
  return p;
}

/// Runs `usher ARGS`, stdout and stderr to files (so stderr is no terminal).
inline cli_result run_usher(const std::string& args) {
  static int n = 0;
  auto dir = std::filesystem::temp_directory_path() / ("usher-whatif-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto out = dir / ("out" + std::to_string(n));
  auto err = dir / ("err" + std::to_string(n++));
  std::string cmd = std::string("cd '") + USHER_SOURCE_DIR + "' && '" + USHER_BINARY + "' " + args +
                    " >'" + out.string() + "' 2>'" + err.string() + "'";
  int raw = std::system(cmd.c_str());
  cli_result r;
  r.code = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

inline std::string source_path(const std::string& relative) {
  return (std::filesystem::path(USHER_SOURCE_DIR) / relative).string();
}

}  // namespace usher::testing

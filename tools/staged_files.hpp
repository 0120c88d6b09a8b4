#pragma once
/// The output directory of a command (`--out DIR`), replaced whole or not at
/// all. The command writes everything into a hidden staging directory inside
/// DIR (DIR/.usher-staging-XXXXXX: the same filesystem, so moves are renames).
/// commit() then takes away DIR's outputs of an earlier run (every entry
/// `ours` accepts: result files, pictures, index.html, plots/) and renames
/// the new ones in. A run that fails before commit() leaves DIR as it was:
/// the staging directory is removed, and so is DIR when the run created it.
/// Entries of DIR that `ours` does not accept (the user's files) are never
/// touched, so a mistyped rerun cannot destroy the results it was meant to
/// replace, and a good one leaves no stale picture behind.
///
/// With an empty `dir` nothing is kept: staging() is empty and file() is
/// /dev/null. Owned by one command, not thread-safe. A process killed
/// mid-run (Ctrl-C, SIGKILL) leaves its hidden staging directory behind;
/// its name holds the run's pid (DIR/.usher-staging-PID-XXXXXX), and the
/// next run into DIR removes it once no process of that pid is left.

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "policies/input_error.hpp"

namespace usher::tools {

class staged_files {
 public:
  /// Which names in DIR a command's earlier run wrote.
  using owned = std::function<bool(const std::string& name)>;

  /// Creates `dir` (and missing parents) when missing, and the staging
  /// directory in it. Throws input_error when `dir` is a file or cannot be
  /// created.
  staged_files(std::filesystem::path dir, owned ours)
      : dir_(std::move(dir)), ours_(std::move(ours)) {
    if (dir_.empty()) return;
    namespace fs = std::filesystem;
    std::error_code ec;
    if (fs::exists(dir_, ec) && !fs::is_directory(dir_, ec))
      throw policies::input_error::in(dir_.string(), "not a directory");
    // Parents first, each remembered, so a failed run can take them away again.
    std::vector<fs::path> missing;
    for (auto p = dir_; !p.empty() && !fs::exists(p, ec); p = p.parent_path()) {
      missing.push_back(p);
      if (p == p.parent_path()) break;
    }
    for (auto i = missing.rbegin(); i != missing.rend(); ++i) {
      if (!fs::create_directory(*i, ec) && ec)
        throw policies::input_error::in(dir_.string(),
                                        "cannot create the output directory: " + ec.message());
      created_.push_back(*i);
    }
    remove_abandoned();
    std::string pattern = (dir_ / (".usher-staging-" + std::to_string(::getpid()) + "-XXXXXX")).string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      remove_created();
      throw policies::input_error::in(dir_.string(), "cannot write to the output directory");
    }
    staging_ = pattern;
  }
  /// Owns exactly `names`.
  staged_files(std::filesystem::path dir, std::vector<std::string> names)
      : staged_files(std::move(dir), [names](const std::string& n) {
          for (auto& m : names)
            if (m == n) return true;
          return false;
        }) {}
  ~staged_files() {
    if (committed_ || staging_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(staging_, ec);
    remove_created();
  }
  staged_files(const staged_files&) = delete;
  staged_files& operator=(const staged_files&) = delete;

  /// Where the command writes: the staging directory ("" without a `dir`).
  const std::filesystem::path& staging() const { return staging_; }

  /// Where `name` is written until commit() (for writers that open it themselves).
  std::string file(const std::string& name) const {
    return staging_.empty() ? "/dev/null" : (staging_ / name).string();
  }

  /// Writes the content of `name` into the staging directory.
  void write(const std::string& name, const std::string& content) {
    std::ofstream out(file(name), std::ios::binary);
    out << content;
    out.close();
    if (!out) throw std::runtime_error((dir_ / name).string() + ": write failed");
  }

  /// Replaces DIR's earlier outputs with the staged ones. If a rename fails,
  /// puts back what it moved and throws std::runtime_error.
  void commit() {
    committed_ = true;
    if (staging_.empty()) return;
    namespace fs = std::filesystem;
    std::error_code ec;
    std::string trash_pattern =
        (dir_ / (".usher-replaced-" + std::to_string(::getpid()) + "-XXXXXX")).string();
    if (::mkdtemp(trash_pattern.data()) == nullptr)
      return fail("cannot write to the output directory");
    fs::path trash = trash_pattern;
    std::vector<std::string> old, added;
    for (auto& e : fs::directory_iterator(dir_, ec)) {
      auto name = e.path().filename().string();
      if (name.rfind(".usher-", 0) != 0 && ours_(name)) old.push_back(name);
    }
    auto undo = [&] {
      std::error_code ignored;
      for (auto& n : added) fs::rename(dir_ / n, staging_ / n, ignored);
      for (auto& n : old) fs::rename(trash / n, dir_ / n, ignored);
      fs::remove_all(trash, ignored);
    };
    for (auto& n : old) {
      fs::rename(dir_ / n, trash / n, ec);
      if (ec) {
        undo();
        return fail((dir_ / n).string() + ": cannot replace it: " + ec.message());
      }
    }
    for (auto& e : fs::directory_iterator(staging_)) {
      auto name = e.path().filename().string();
      fs::rename(e.path(), dir_ / name, ec);
      if (ec) {
        undo();
        return fail((dir_ / name).string() + ": cannot write it: " + ec.message());
      }
      added.push_back(name);
    }
    fs::remove_all(trash, ec);
    fs::remove(staging_, ec);
  }

  const std::filesystem::path& dir() const { return dir_; }

 private:
  // Removes the staging and replaced-outputs directories of runs that were
  // killed: those whose name carries the pid of a process that is gone.
  // Names without a pid (left by earlier builds) and those of live processes stay.
  void remove_abandoned() {
    namespace fs = std::filesystem;
    std::error_code ec;
    for (auto& e : fs::directory_iterator(dir_, ec)) {
      auto name = e.path().filename().string();
      std::size_t at = 0;
      for (const char* prefix : {".usher-staging-", ".usher-replaced-"})
        if (name.rfind(prefix, 0) == 0) at = std::char_traits<char>::length(prefix);
      auto dash = name.find('-', at);
      if (at == 0 || dash == std::string::npos || dash == at || dash - at > 9 ||
          name.find_first_not_of("0123456789", at) != dash)
        continue;
      auto pid = static_cast<pid_t>(std::stol(name.substr(at, dash - at)));
      if (pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH) fs::remove_all(e.path(), ec);
    }
  }

  // The directories this run created, deepest first, while still empty.
  void remove_created() {
    std::error_code ec;
    for (auto i = created_.rbegin(); i != created_.rend(); ++i) std::filesystem::remove(*i, ec);
  }
  [[noreturn]] void fail(const std::string& what) {
    committed_ = false;  // the destructor removes the staging directory
    throw std::runtime_error(what);
  }

  std::filesystem::path dir_, staging_;
  owned ours_;
  std::vector<std::filesystem::path> created_;  ///< outermost first
  bool committed_ = false;
};

}  // namespace usher::tools

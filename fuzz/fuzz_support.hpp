#pragma once
/// What the fuzz targets share: a file holding the current input, for the
/// readers that take a path, and one way to report a broken oracle (a
/// message, then abort(), which libFuzzer reports as a crash and saves the
/// input). Header-only; each target is one executable (fuzz/CMakeLists.txt).

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace usher::fuzz {

/// A broken oracle: prints what and why, then aborts.
[[noreturn]] inline void fail(const std::string& what, const std::string& detail = "") {
  std::fprintf(stderr, "\nusher fuzz: ORACLE FAILED: %s%s%s\n", what.c_str(),
               detail.empty() ? "" : ": ", detail.c_str());
  std::fflush(stderr);
  std::abort();
}

/// A file in a directory of this process's own (under /dev/shm when it
/// exists, a tmpfs, else /tmp), rewritten with each input, so that relative
/// paths in the input (a plan file named by a node config) resolve inside
/// that directory. Removed when the process exits normally.
class input_file {
 public:
  explicit input_file(const std::string& name) {
    namespace fs = std::filesystem;
    fs::path base = fs::exists("/dev/shm") ? "/dev/shm" : "/tmp";
    dir_ = base / ("usher-fuzz-" + std::to_string(::getpid()));
    // Directories of fuzz processes that died (a crash aborts; no
    // destructor runs) go first.
    std::error_code ec;
    for (auto& d : fs::directory_iterator(base, ec)) {
      auto name = d.path().filename().string();
      if (name.rfind("usher-fuzz-", 0) != 0) continue;
      auto pid = std::atoi(name.c_str() + 11);
      if (pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH) fs::remove_all(d.path(), ec);
    }
    fs::create_directories(dir_);
    path_ = (dir_ / name).string();
  }
  ~input_file() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  input_file(const input_file&) = delete;
  input_file& operator=(const input_file&) = delete;

  /// Writes the input and returns the file's path.
  const std::string& write(const std::uint8_t* data, std::size_t size) {
    int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) fail("cannot write the input file", path_);
    std::size_t done = 0;
    while (done < size) {
      auto n = ::write(fd, data + done, size - done);
      if (n <= 0) fail("cannot write the input file", path_);
      done += static_cast<std::size_t>(n);
    }
    ::close(fd);
    return path_;
  }

  const std::string& path() const { return path_; }
  std::string dir() const { return dir_.string(); }

 private:
  std::filesystem::path dir_;
  std::string path_;
};

}  // namespace usher::fuzz

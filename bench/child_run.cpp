// Runs `usher simulate` as a measured child process, forked from a small
// spawner process (bench/child_run.hpp).

#include "bench/child_run.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

namespace usher::bench {

namespace {

double seconds_of(const timeval& tv) {
  return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

bool read_all(int fd, void* data, std::size_t n) {
  auto* p = static_cast<char*>(data);
  while (n > 0) {
    ssize_t got = read(fd, p, n);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    p += got;
    n -= static_cast<std::size_t>(got);
  }
  return true;
}

bool write_all(int fd, const void* data, std::size_t n) {
  auto* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t put = write(fd, p, n);
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) return false;
    p += put;
    n -= static_cast<std::size_t>(put);
  }
  return true;
}

// Forks, execs and reaps one child (runs inside the spawner).
child_result run_direct(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  child_result r;
  auto t0 = std::chrono::steady_clock::now();
  pid_t pid = fork();
  if (pid < 0) return r;
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    if (null >= 0) dup2(null, STDOUT_FILENO);
    execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  rusage ru{};
  while (wait4(pid, &status, 0, &ru) < 0)
    if (errno != EINTR) return r;
  auto t1 = std::chrono::steady_clock::now();
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.wall_s = std::chrono::duration<double>(t1 - t0).count();
  r.user_s = seconds_of(ru.ru_utime);
  r.sys_s = seconds_of(ru.ru_stime);
  r.max_rss_kib = ru.ru_maxrss;
  return r;
}

// The spawner's loop: argv in (count, then length + bytes each), result out.
[[noreturn]] void serve(int in, int out) {
  for (;;) {
    std::uint32_t count = 0;
    if (!read_all(in, &count, sizeof(count))) _exit(0);
    std::vector<std::string> argv(count);
    for (auto& a : argv) {
      std::uint32_t len = 0;
      if (!read_all(in, &len, sizeof(len))) _exit(1);
      a.resize(len);
      if (len > 0 && !read_all(in, a.data(), len)) _exit(1);
    }
    child_result r = run_direct(argv);
    if (!write_all(out, &r, sizeof(r))) _exit(1);
  }
}

}  // namespace

spawner::spawner() {
  int down[2], up[2];
  if (pipe(down) != 0 || pipe(up) != 0) throw std::runtime_error("pipe failed");
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid_ == 0) {
    close(down[1]);
    close(up[0]);
    serve(down[0], up[1]);
  }
  close(down[0]);
  close(up[1]);
  to_spawner_ = down[1];
  from_spawner_ = up[0];
}

spawner::~spawner() {
  close(to_spawner_);
  close(from_spawner_);
  int status = 0;
  if (pid_ > 0) waitpid(pid_, &status, 0);
}

child_result spawner::run(const std::vector<std::string>& argv) {
  auto count = static_cast<std::uint32_t>(argv.size());
  bool ok = write_all(to_spawner_, &count, sizeof(count));
  for (auto& a : argv) {
    auto len = static_cast<std::uint32_t>(a.size());
    ok = ok && write_all(to_spawner_, &len, sizeof(len)) &&
         write_all(to_spawner_, a.data(), a.size());
  }
  child_result r;
  if (!ok || !read_all(from_spawner_, &r, sizeof(r)))
    throw std::runtime_error("the spawner process is gone");
  return r;
}

}  // namespace usher::bench

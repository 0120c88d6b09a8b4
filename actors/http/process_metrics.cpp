#include "actors/http/process_metrics.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace usher::actors::http {

namespace {

// The fields of /proc/self/stat from field 3 (state) on: the command name
// (field 2) may hold spaces and parentheses, so fields start after its
// last ')'. Empty when unreadable.
std::vector<std::string> stat_fields() {
  std::ifstream in("/proc/self/stat");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  auto close = text.rfind(')');
  if (close == std::string::npos) return {};
  std::istringstream rest(text.substr(close + 1));
  std::vector<std::string> f;
  for (std::string s; rest >> s;) f.push_back(s);
  return f;
}

// The system's boot time, Unix seconds (btime of /proc/stat); -1: unknown.
double boot_time() {
  std::ifstream in("/proc/stat");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("btime ", 0) == 0) return std::stod(line.substr(6));
  return -1;
}

// The shortest text that reads back as `v` (a start time keeps its
// milliseconds, which the stream's default six digits would drop).
std::string number(double v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

void sample(std::ostream& o, const char* name, const char* type, const char* help, double v) {
  o << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n"
    << name << " " << number(v) << "\n";
}

}  // namespace

void write_process_metrics(std::ostream& o) {
  auto ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  auto page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  auto f = stat_fields();
  // Field n of stat(5) is f[n - 3].
  if (f.size() >= 22 && ticks > 0) {
    sample(o, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.",
           (std::stod(f[11]) + std::stod(f[12])) / ticks);
    sample(o, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
           std::stod(f[20]));
    sample(o, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
           std::stod(f[21]) * page);
    if (auto boot = boot_time(); boot >= 0)
      sample(o, "process_start_time_seconds", "gauge",
             "Start time of the process since unix epoch in seconds.",
             boot + std::stod(f[19]) / ticks);
  }
  std::error_code ec;
  std::size_t fds = 0;
  for (auto i = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && i != std::filesystem::directory_iterator(); i.increment(ec))
    ++fds;
  // The iterator's own descriptor is listed too while it walks: not counted.
  if (!ec && fds > 0)
    sample(o, "process_open_fds", "gauge", "Number of open file descriptors.",
           static_cast<double>(fds - 1));
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) == 0) {
    o << "# HELP process_max_fds Maximum number of open file descriptors.\n"
         "# TYPE process_max_fds gauge\nprocess_max_fds ";
    if (r.rlim_cur == RLIM_INFINITY)
      o << "+Inf\n";
    else
      o << number(static_cast<double>(r.rlim_cur)) << "\n";
  }
}

}  // namespace usher::actors::http

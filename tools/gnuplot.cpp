#include "tools/gnuplot.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace usher::tools {

void run_gnuplot(const std::string& dir, const std::string& script_name,
                 const std::string& script) {
  std::string script_path = (std::filesystem::path(dir) / script_name).string();
  {
    std::ofstream out(script_path);
    out << script;
    if (!out) throw std::runtime_error(script_path + ": write failed");
  }
  std::string log = script_path + ".log";
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("cannot start gnuplot: fork failed");
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      ::dup2(fd, STDERR_FILENO);
      ::dup2(fd, STDOUT_FILENO);
      ::close(fd);
    }
    if (::chdir(dir.c_str()) != 0) ::_exit(126);
    ::execlp("gnuplot", "gnuplot", script_name.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
  }
  std::ifstream in(log);
  std::stringstream message;
  message << in.rdbuf();
  std::remove(log.c_str());
  if (WIFEXITED(status) && WEXITSTATUS(status) == 126)
    throw std::runtime_error("cannot draw into " + dir + ": cannot enter the directory");
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
    throw std::runtime_error(
        "gnuplot not found: install the Debian package gnuplot-nox (scripts/install-deps)");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error("gnuplot failed on " + script_path + ": " + message.str());
}

std::string gnuplot_quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') out += '\'';
    if (c == '\n' || c == '\r') c = ' ';
    out += c;
  }
  return out + "'";
}

std::string svg_terminal(int width, int height) {
  return "set terminal svg size " + std::to_string(width) + "," + std::to_string(height) +
         " dynamic noenhanced font 'sans,13' background rgb 'white'\n";
}

const char* palette(std::size_t i) {
  // Okabe-Ito, without yellow (too faint on white).
  static const char* colours[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                  "#E69F00", "#56B4E9", "#000000", "#999999"};
  return colours[i % (sizeof(colours) / sizeof(colours[0]))];
}

}  // namespace usher::tools

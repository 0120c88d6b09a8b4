#pragma once
/// Test support: a real `usher mock-model` child process on 127.0.0.1 with an
/// ephemeral port (the OpenAI-compatible upstream of gateway tests), stopped
/// with SIGTERM (then SIGKILL if it lingers) when the fixture ends. Talk to it
/// with live_node.hpp's http_client, ws_client and raw_conn.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "support/live_node.hpp"

namespace usher::testing {

class mock_model_process {
 public:
  /// `args` go after `usher mock-model --listen 127.0.0.1:0`.
  explicit mock_model_process(const std::vector<std::string>& args = {}) {
    static int n = 0;
    stderr_path_ = std::filesystem::temp_directory_path() /
                   ("usher-mock-model-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    std::vector<std::string> argv_text = {"usher", "mock-model", "--listen", "127.0.0.1:0"};
    argv_text.insert(argv_text.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_text) argv.push_back(a.data());
    argv.push_back(nullptr);
    int out_pipe[2];
    REQUIRE(::pipe(out_pipe) == 0);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::dup2(out_pipe[1], 1);
      int fd = ::open(stderr_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) ::dup2(fd, 2);
      ::close(out_pipe[0]);
      ::execv(USHER_BINARY, argv.data());
      ::_exit(127);
    }
    ::close(out_pipe[1]);
    out_fd_ = out_pipe[0];
    // Wait (bounded) for "listening on 127.0.0.1:PORT".
    std::string line;
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < until) {
      pollfd p{out_fd_, POLLIN, 0};
      if (::poll(&p, 1, 200) <= 0) continue;
      char buf[256];
      auto got = ::read(out_fd_, buf, sizeof(buf));
      if (got <= 0) break;
      line.append(buf, static_cast<std::size_t>(got));
    }
    INFO("usher mock-model said: " << line << " / stderr: " << stderr_text());
    REQUIRE(line.rfind("listening on 127.0.0.1:", 0) == 0);
    port = static_cast<std::uint16_t>(std::stoi(line.substr(23)));
  }

  mock_model_process(const mock_model_process&) = delete;
  mock_model_process& operator=(const mock_model_process&) = delete;

  /// Stops it and checks it exited with 0 (under the sanitizer build: no
  /// leak, no error at shutdown either).
  ~mock_model_process() {
    int code = stop();
    INFO("usher mock-model's stderr: " << stopped_stderr);
    CHECK(code == 0);
  }

  /// SIGTERM, then SIGKILL after 5 s. Returns the exit status (-1 if killed).
  int stop() {
    if (pid_ <= 0) return exit_code_;
    int status = 0;
    ::kill(pid_, SIGTERM);
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > until) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    pid_ = 0;
    ::close(out_fd_);
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    stopped_stderr = stderr_text();
    std::error_code ec;
    std::filesystem::remove(stderr_path_, ec);
    return exit_code_;
  }

  std::string stderr_text() const {
    std::ifstream in(stderr_path_);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  /// GET /_stats.
  nlohmann::json stats() const {
    http_client c(port);
    return c.call(bhttp::verb::get, "/_stats", "").json();
  }

  /// POST `body` (JSON) to `target` on a fresh connection; `key` non-empty
  /// sends "Authorization: Bearer KEY".
  http_result post(const std::string& target, const nlohmann::json& body,
                   const std::string& key = "") const {
    http_client c(port);
    return c.call(bhttp::verb::post, target, key, body.dump());
  }

  std::uint16_t port = 0;
  std::string stopped_stderr;

 private:
  std::filesystem::path stderr_path_;
  pid_t pid_ = 0;
  int out_fd_ = -1;
  int exit_code_ = 0;
};

}  // namespace usher::testing

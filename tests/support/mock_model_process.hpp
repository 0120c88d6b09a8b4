#pragma once
/// Test support: a real `usher mock-model` child process on 127.0.0.1 with an
/// ephemeral port (the OpenAI-compatible upstream of gateway tests), stopped
/// with SIGTERM (then SIGKILL if it lingers) when the fixture ends (through
/// live_node.hpp's child_process). Talk to it with live_node.hpp's
/// http_client, ws_client and raw_conn.

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
    std::vector<std::string> all = {"mock-model", "--listen", "127.0.0.1:0"};
    all.insert(all.end(), args.begin(), args.end());
    auto line = child_.start(all, stderr_path_);
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
    if (child_.pid() <= 0) return child_.exit_code();
    int code = child_.stop();
    stopped_stderr = stderr_text();
    std::error_code ec;
    std::filesystem::remove(stderr_path_, ec);
    return code;
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
  child_process child_;
};

}  // namespace usher::testing

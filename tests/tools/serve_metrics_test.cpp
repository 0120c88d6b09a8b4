// What /metrics tells an operator of the process and build (issue #15, "Logs
// and metrics"): usher_build_info, the process metrics of the Prometheus
// convention, unlimited limits as +Inf (never -1), and outcomes counted as
// the client saw them (a session-rate refusal over HTTP is a 429).
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>

#include "support/live_node.hpp"

using usher::testing::http_client;
using usher::testing::key_line;
using usher::testing::live_node;
using usher::testing::ws_client;
using verb = boost::beast::http::verb;

namespace {

std::string metrics_of(const live_node& node) {
  return node.call(verb::get, "/metrics", "").body;
}

// `usher --version`: "usher VERSION (commit COMMIT)".
std::string version_line() {
  auto* p = ::popen((std::string(USHER_BINARY) + " --version").c_str(), "r");
  REQUIRE(p);
  char buf[256] = {};
  std::string out = std::fgets(buf, sizeof buf, p) ? buf : "";
  ::pclose(p);
  return out;
}

}  // namespace

TEST_CASE("/metrics names the build it serves as usher --version does") {
  live_node node("[account.acme]\nplan = weighted\n" + key_line("acme-key"));
  auto v = version_line();  // usher 0.1.0 (commit abc1234)
  auto sp = v.find(' '), open = v.find(" (commit "), close = v.find(')');
  REQUIRE(close != std::string::npos);
  auto version = v.substr(sp + 1, open - sp - 1);
  auto commit = v.substr(open + 9, close - open - 9);
  CHECK(node.metric("usher_build_info{version=\"" + version + "\",commit=\"" + commit + "\"}") == 1);
  CHECK(metrics_of(node).find("# TYPE usher_build_info gauge") != std::string::npos);
}

TEST_CASE("/metrics has the process metrics of the Prometheus convention with sane values") {
  auto before = std::chrono::duration<double>(
                    std::chrono::system_clock::now().time_since_epoch()).count();
  live_node node("[account.acme]\nplan = weighted\n" + key_line("acme-key"), 300);
  auto after = std::chrono::duration<double>(
                   std::chrono::system_clock::now().time_since_epoch()).count();
  CHECK(node.metric("process_max_fds") == 300);  // the limit the node was started with
  auto rss = node.metric("process_resident_memory_bytes");
  CHECK(rss > 1e6);
  CHECK(rss < 4e9);
  CHECK(node.metric("process_virtual_memory_bytes") >= rss);
  auto start = node.metric("process_start_time_seconds");
  CHECK(start >= std::floor(before) - 1);  // btime is whole seconds
  CHECK(start <= after + 1);
  CHECK(node.metric("process_cpu_seconds_total") >= 0);
  // Each open connection is a descriptor of the node.
  auto fds = node.metric("process_open_fds");
  CHECK(fds >= 4);  // stdin, stdout, stderr, the listening socket at least
  std::vector<std::unique_ptr<http_client>> clients;
  for (int i = 0; i < 10; ++i) {
    clients.push_back(std::make_unique<http_client>(node.port));
    CHECK(clients.back()->call(verb::get, "/healthz", "").status == 200);
  }
  CHECK(node.metric("process_open_fds") >= fds + 10);
  auto text = metrics_of(node);
  CHECK(text.find("# TYPE process_cpu_seconds_total counter") != std::string::npos);
  CHECK(text.find("# TYPE process_open_fds gauge") != std::string::npos);
}

TEST_CASE("an unlimited account's limit is +Inf in /metrics and never -1") {
  live_node node("[account.free]\nplan = weighted\nlimit = none\n" + key_line("free-key") +
                 "[account.paid]\nplan = weighted\nlimit = 8\n" + key_line("paid-key"));
  CHECK(std::isinf(node.metric("usher_limit{account=\"free\"}")));
  CHECK(node.metric("usher_limit{account=\"paid\"}") == 8);
  auto text = metrics_of(node);
  CHECK(text.find("usher_limit{account=\"free\"} +Inf\n") != std::string::npos);
  CHECK(text.find(" -1\n") == std::string::npos);
}

TEST_CASE("a session-rate refusal answered 429 over HTTP counts as 429 and a WebSocket closed with 1008 as 1008") {
  live_node node("[account.stt]\nplan = session-rate\nsessions_per_minute = 1\n" +
                 key_line("stt-key"));
  REQUIRE(node.admit("stt-key", {{"kind", "session"}}).status == 200);
  auto refused = node.admit("stt-key", {{"kind", "session"}});
  REQUIRE(refused.status == 429);
  CHECK(refused.json()["error"]["code"] == "session_rate");
  ws_client ws(node.port, "stt-key");
  REQUIRE(ws.status == 101);
  ws.read();
  REQUIRE(ws.closed);
  REQUIRE(ws.close_code == 1008);
  CHECK(node.metric("usher_outcomes_total{account=\"stt\",code=\"200\"}") == 1);
  CHECK(node.metric("usher_outcomes_total{account=\"stt\",code=\"429\"}") == 1);
  CHECK(node.metric("usher_outcomes_total{account=\"stt\",code=\"1008\"}") == 1);
  CHECK(node.metric("usher_http_responses_total{code=\"429\"}") == 1);
  CHECK(node.metric("usher_ws_policy_closes_total") == 1);
}

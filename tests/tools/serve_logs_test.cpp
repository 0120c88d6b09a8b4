// The node's logs (issue #15, "Logs and metrics"): an access log line per
// request, with its fields and never a key; the error log's levels; SIGUSR1
// reopens a log file that logrotate moved away.
#include <catch2/catch.hpp>
#include <map>

#include "support/live_node.hpp"
#include "support/usher_cli.hpp"

using usher::testing::eventually;
using usher::testing::http_client;
using usher::testing::key_line;
using usher::testing::live_node;
using verb = boost::beast::http::verb;
namespace fs = std::filesystem;

namespace {

// A directory of the test's own, removed at its end.
struct temp_dir {
  temp_dir() {
    static int n = 0;
    path = fs::temp_directory_path() /
           ("usher-logs-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    fs::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path path;
};

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<std::string> lines_of(const fs::path& p) {
  std::vector<std::string> out;
  std::istringstream in(read_text(p));
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// A request with an X-Request-Id, so its line can be found.
usher::testing::http_result call_with_id(std::uint16_t port, verb method, const std::string& target,
                                         const std::string& key, const std::string& rid,
                                         const std::string& body = "") {
  boost::beast::http::request<boost::beast::http::string_body> req{method, target, 11};
  req.set(boost::beast::http::field::host, "127.0.0.1");
  if (!key.empty()) req.set(boost::beast::http::field::authorization, "Bearer " + key);
  req.set("X-Request-Id", rid);
  req.body() = body;
  return http_client(port).request(std::move(req));
}

}  // namespace

TEST_CASE("the access log has one logfmt line per request with its fields and never the key") {
  temp_dir dir;
  auto log = dir.path / "access.log";
  live_node node("access_log = " + log.string() +
                 "\n[account.acme]\nplan = weighted\nlimit = 1\n" + key_line("acme-secret-key"));
  auto admitted = call_with_id(node.port, verb::post, "/v1/admit", "acme-secret-key", "rid-admit",
                               R"({"model":"m"})");
  REQUIRE(admitted.status == 200);
  std::string lease = admitted.json()["lease"];
  CHECK(call_with_id(node.port, verb::post, "/v1/admit", "acme-secret-key", "rid-full").status ==
        429);
  CHECK(call_with_id(node.port, verb::delete_, "/v1/leases/" + lease, "acme-secret-key",
                     "rid-release")
            .status == 200);
  CHECK(call_with_id(node.port, verb::post, "/v1/admit", "wrong-key", "rid-401").status == 401);
  CHECK(call_with_id(node.port, verb::get, "/nowhere", "", "rid-404").status == 404);
  CHECK(call_with_id(node.port, verb::get, "/healthz", "", "rid-health").status == 200);

  REQUIRE(eventually([&] { return lines_of(log).size() >= 6; }));
  auto lines = lines_of(log);
  CHECK(lines.size() == 6);
  std::map<std::string, std::map<std::string, std::string>> by_id;
  for (auto& l : lines) {
    auto f = usher::testing::logfmt_fields(l);
    for (auto k : {"time", "request_id", "client", "account", "method", "route", "status", "code",
                   "wait_ms", "lease", "ticket", "duration_ms"})
      CHECK(f.count(k) == 1);
    by_id[f["request_id"]] = f;
  }
  auto& a = by_id["rid-admit"];
  CHECK(a["account"] == "acme");
  CHECK(a["method"] == "POST");
  CHECK(a["route"] == "admit");
  CHECK(a["status"] == "200");
  CHECK(a["code"] == "-");
  CHECK(a["wait_ms"] == "0.000");
  CHECK(a["lease"] == lease);
  CHECK(a["client"] == "127.0.0.1");
  CHECK(a["time"].size() == std::string("2026-12-04T10:00:00.123Z").size());
  CHECK(a["time"].back() == 'Z');
  auto& full = by_id["rid-full"];
  CHECK(full["status"] == "429");
  CHECK(full["code"] == "concurrency_limit");
  CHECK(full["lease"] == "-");
  auto& rel = by_id["rid-release"];
  CHECK(rel["route"] == "lease_release");
  CHECK(rel["method"] == "DELETE");
  CHECK(rel["lease"] == lease);
  CHECK(rel["wait_ms"] == "-");
  auto& unauth = by_id["rid-401"];
  CHECK(unauth["status"] == "401");
  CHECK(unauth["code"] == "invalid_api_key");
  CHECK(unauth["account"] == "-");
  CHECK(by_id["rid-404"]["route"] == "-");
  CHECK(by_id["rid-404"]["code"] == "unknown_route");
  CHECK(by_id["rid-health"]["route"] == "healthz");

  // Neither the keys nor their hashes, right or wrong.
  auto text = read_text(log);
  for (auto k : {"acme-secret-key", "wrong-key"}) {
    CHECK(text.find(k) == std::string::npos);
    CHECK(text.find(usher::actors::http::sha256_hex(k)) == std::string::npos);
  }
}

TEST_CASE("a request id that could break the access line is quoted") {
  temp_dir dir;
  auto log = dir.path / "access.log";
  live_node node("access_log = " + log.string() + "\n[account.acme]\nplan = weighted\n" +
                 key_line("acme-key"));
  CHECK(call_with_id(node.port, verb::get, "/healthz", "", R"(a"b=c\d)").status == 200);
  REQUIRE(eventually([&] { return lines_of(log).size() >= 1; }));
  CHECK(read_text(log).find(R"(request_id="a\"b=c\\d" )") != std::string::npos);
}

TEST_CASE("log_level filters what the error log says") {
  temp_dir dir;
  auto log = dir.path / "error.log";
  std::string level = GENERATE("info", "warn", "error");
  // A cap above what the open-file limit leaves: a warning at start.
  {
    live_node node("error_log = " + log.string() + "\nlog_level = " + level +
                       "\nmax_connections = 5000\n[account.acme]\nplan = weighted\n" +
                       key_line("acme-key"),
                   256);
    CHECK(node.stop() == 0);
  }
  auto text = read_text(log);
  INFO("log_level = " << level << ", error.log:\n" << text);
  bool info = level == "info", warn = level != "error";
  CHECK((text.find("[info] usher serve: listening on 127.0.0.1:") != std::string::npos) == info);
  CHECK((text.find("[info] usher serve: SIGTERM: draining") != std::string::npos) == info);
  CHECK((text.find("[info] usher serve: stopped") != std::string::npos) == info);
  CHECK((text.find("[warning] usher serve: max_connections = 5000 is more than") !=
         std::string::npos) == warn);
  if (!warn) CHECK(text.empty());
}

TEST_CASE("SIGUSR1 reopens an access log file that logrotate moved away") {
  temp_dir dir;
  auto log = dir.path / "access.log";
  auto moved = dir.path / "access.log.1";
  live_node node("access_log = " + log.string() + "\n[account.acme]\nplan = weighted\n" +
                 key_line("acme-key"));
  auto has = [](const fs::path& p, const std::string& rid) {
    return read_text(p).find("request_id=" + rid + " ") != std::string::npos;
  };
  REQUIRE(call_with_id(node.port, verb::get, "/healthz", "", "rid-before").status == 200);
  REQUIRE(eventually([&] { return has(log, "rid-before"); }));
  fs::rename(log, moved);
  // Until the signal the node writes on into the moved file (its descriptor).
  REQUIRE(call_with_id(node.port, verb::get, "/healthz", "", "rid-moved").status == 200);
  REQUIRE(eventually([&] { return has(moved, "rid-moved"); }));
  CHECK(!fs::exists(log));
  REQUIRE(::kill(node.pid(), SIGUSR1) == 0);
  REQUIRE(eventually([&] { return fs::exists(log); }));
  REQUIRE(call_with_id(node.port, verb::get, "/healthz", "", "rid-after").status == 200);
  REQUIRE(eventually([&] { return has(log, "rid-after"); }));
  CHECK(!has(moved, "rid-after"));
  CHECK(!has(log, "rid-before"));
  CHECK(node.alive());
  CHECK(node.stop() == 0);
  CHECK(node.stopped_stderr.find("SIGUSR1: log files reopened") != std::string::npos);
}

TEST_CASE("an access log file that cannot be opened stops the start with exit 2") {
  temp_dir dir;
  auto config = dir.path / "node.ini";
  std::ofstream(config) << "[node]\nlisten = 127.0.0.1:0\naccess_log = /proc/usher-no/access.log\n"
                           "[account.acme]\nplan = weighted\n"
                        << key_line("acme-key");
  auto cmd = std::string(USHER_BINARY) + " serve --config " + config.string() + " 2>&1";
  auto* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p);
  std::string out;
  char buf[512];
  while (auto n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int status = ::pclose(p);
  INFO(out);
  CHECK(WEXITSTATUS(status) == 2);
  CHECK(out.find("access_log: cannot open \"/proc/usher-no/access.log\"") != std::string::npos);
}

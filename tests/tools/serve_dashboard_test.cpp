// The dashboards of `usher serve` (issue #15, item 7): the account's page
// with its chart and counters, the operator view of every account behind
// the metrics key, and the JSON both read, whose counters must move as
// requests are refused.
#include <catch2/catch.hpp>
#include <string>

#include "support/live_node.hpp"

using usher::testing::key_line;
using usher::testing::live_node;
using verb = boost::beast::http::verb;
namespace bhttp = boost::beast::http;
using nlohmann::json;

namespace {

// acme: weighted, limit 2, no queue (a third request gets 429); beta: one
// stream, a 0.2 s queue of one (a queued request gets 408); gamma: one
// stream, a long queue (a ticket stays queued).
std::string node_config() {
  return "[node]\nmetrics_key = " + usher::actors::http::sha256_hex("metrics-key") +
         "\n[account.acme]\nplan = weighted\nlimit = 2\n" + key_line("acme-key") +
         "[account.beta]\nplan = streams:solo\nlimit = 1\nqueue.max_wait = 0.2\n"
         "queue.max_depth = 1\n" +
         key_line("beta-key") +
         "[account.gamma]\nplan = streams:solo\nlimit = 1\nqueue.max_wait = 60\n" +
         key_line("gamma-key");
}

// The operator view's data, by account name.
json by_account(const live_node& node) {
  auto r = node.call(verb::get, "/metrics/accounts", "metrics-key");
  REQUIRE(r.status == 200);
  auto body = r.json();
  REQUIRE(body["at"].is_number_integer());
  json out = json::object();
  for (auto& a : body["accounts"]) out[a["account"].get<std::string>()] = a;
  return out;
}

}  // namespace

TEST_CASE("the dashboard page is served with its chart and counters and nothing from elsewhere") {
  live_node node(node_config());
  auto page = node.call(verb::get, "/", "");
  REQUIRE(page.status == 200);
  CHECK(page.header(bhttp::field::content_type) == "text/html; charset=utf-8");
  CHECK(page.header(bhttp::field::cache_control) == "no-store");
  CHECK(page.headers["Content-Security-Policy"].find("connect-src 'self'") != std::string::npos);
  for (std::string part :
       {"<canvas id=\"chart\"", "id=\"in_use\"", "id=\"limit\"", "id=\"queued\"", "id=\"rate408\"",
        "id=\"rate429\"", "/account/concurrency/stream", "/account/metrics", "/operator"}) {
    INFO(part);
    CHECK(page.body.find(part) != std::string::npos);
  }
  // No script, style or font from a CDN: the page works offline.
  CHECK(page.body.find("<script src") == std::string::npos);
  CHECK(page.body.find("https://") == std::string::npos);

  auto op = node.call(verb::get, "/operator", "");
  REQUIRE(op.status == 200);
  CHECK(op.header(bhttp::field::content_type) == "text/html; charset=utf-8");
  for (std::string part : {"id=\"rows\"", "id=\"rate408\"", "id=\"rate429\"", "/metrics/accounts",
                           "sessionStorage", "'Authorization':'Bearer '+key"}) {
    INFO(part);
    CHECK(op.body.find(part) != std::string::npos);
  }
  CHECK(op.body.find("https://") == std::string::npos);
  CHECK(node.call(verb::post, "/operator", "").status == 405);
  auto head = node.call(verb::head, "/operator", "");
  CHECK(head.status == 200);
  CHECK(head.body.empty());
}

TEST_CASE("the operator view's data needs the metrics key and refuses an account key") {
  live_node node(node_config());
  auto none = node.call(verb::get, "/metrics/accounts", "");
  CHECK(none.status == 401);
  CHECK(none.header(bhttp::field::www_authenticate) == R"(Bearer realm="usher")");
  CHECK(none.json()["error"]["type"] == "authentication_error");
  auto account = node.call(verb::get, "/metrics/accounts", "acme-key");
  CHECK(account.status == 401);
  CHECK(account.header(bhttp::field::www_authenticate) ==
        R"(Bearer realm="usher", error="invalid_token")");
  CHECK(account.body.find("acme") == std::string::npos);
  CHECK(node.call(verb::get, "/metrics/accounts", "metrics-key").status == 200);
  // The account route is the other way round: an account key, never the metrics key.
  CHECK(node.call(verb::get, "/account/metrics", "metrics-key").status == 401);
  CHECK(node.call(verb::get, "/account/metrics", "").status == 401);
  CHECK(node.call(verb::get, "/account/metrics", "acme-key").status == 200);
}

TEST_CASE("the operator view lists every account with 408 and 429 counters that count refusals") {
  live_node node(node_config());
  auto before = by_account(node);
  REQUIRE(before.size() == 3);
  for (auto& [name, a] : before.items()) {
    INFO(name);
    CHECK(a["in_use"] == 0);
    CHECK(a["requests"] == 0);
    CHECK(a["queued"] == 0);
    CHECK(a["outcomes"]["408"] == 0);
    CHECK(a["outcomes"]["429"] == 0);
    CHECK(a["queue_waits"] == 0);
  }
  CHECK(before["acme"]["limit"] == 2);
  CHECK(before["beta"]["limit"] == 1);

  // acme: two admitted, then three refused (no queue).
  REQUIRE(node.admit("acme-key").status == 200);
  REQUIRE(node.admit("acme-key").status == 200);
  for (int i = 0; i < 3; ++i) REQUIRE(node.admit("acme-key").status == 429);
  // beta: one admitted, one queued until its max wait passes (408).
  REQUIRE(node.admit("beta-key").status == 200);
  REQUIRE(node.admit("beta-key").status == 408);
  // gamma: one admitted, one left waiting in the queue as a ticket.
  REQUIRE(node.admit("gamma-key").status == 200);
  REQUIRE(node.admit("gamma-key", json::object(), "respond-async").status == 202);

  auto after = by_account(node);
  CHECK(after["acme"]["in_use"] == 2);
  CHECK(after["acme"]["requests"] == 2);
  CHECK(after["acme"]["queued"] == 0);
  CHECK(after["acme"]["outcomes"]["200"] == 2);
  CHECK(after["acme"]["outcomes"]["429"] == 3);
  CHECK(after["acme"]["outcomes"]["408"] == 0);
  CHECK(after["beta"]["in_use"] == 1);
  CHECK(after["beta"]["outcomes"]["408"] == 1);
  CHECK(after["beta"]["outcomes"]["429"] == 0);
  CHECK(after["acme"]["queue_waits"] == 2);  // admitted at once: waits of 0
  CHECK(after["beta"]["queue_waits"] == 2);  // the admission and the 408
  CHECK(after["beta"]["queue_wait_ms"] >= 200);
  CHECK(after["gamma"]["queued"] == 1);
  CHECK(after["gamma"]["in_use"] == 1);
  CHECK(after["gamma"]["outcomes"]["429"] == 0);

  // Two more 429s: the counters are totals, so a page's per-minute rate is
  // the difference between two samples.
  REQUIRE(node.admit("acme-key").status == 429);
  REQUIRE(node.admit("acme-key").status == 429);
  auto later = by_account(node);
  CHECK(later["acme"]["outcomes"]["429"] == 5);

  // The dashboard's own route: the caller's account only, the same numbers.
  auto own = node.call(verb::get, "/account/metrics", "acme-key");
  REQUIRE(own.status == 200);
  CHECK(own.header(bhttp::field::cache_control) == "no-store");
  auto mine = own.json();
  CHECK(mine["account"] == "acme");
  CHECK(mine["at"].get<std::int64_t>() > 1'600'000'000'000);
  CHECK(mine["in_use"] == 2);
  CHECK(mine["limit"] == 2);
  CHECK(mine["queued"] == 0);
  CHECK(mine["outcomes"]["429"] == 5);
  CHECK(mine["outcomes"]["408"] == 0);
  auto gamma = node.call(verb::get, "/account/metrics", "gamma-key").json();
  CHECK(gamma["account"] == "gamma");
  CHECK(gamma["queued"] == 1);
}

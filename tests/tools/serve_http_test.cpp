// HTTP details that clients and operators rely on (issue #15): HEAD wherever
// GET works, the health endpoints, the 401 challenge, the Bearer scheme in
// any case, X-Request-Id on every answer, OpenAI's error types with a
// `param`, Preference-Applied on 202, and only standard statuses.
#include <algorithm>
#include <catch2/catch.hpp>
#include <regex>
#include <tuple>

#include "support/live_node.hpp"

using usher::testing::eventually;
using usher::testing::http_client;
using usher::testing::http_result;
using usher::testing::key_line;
using usher::testing::live_node;
using usher::testing::raw_conn;
using verb = boost::beast::http::verb;
namespace bhttp = boost::beast::http;
using nlohmann::json;

namespace {

// acme: one stream and a short queue; beta: weighted, limit 8, no queue.
std::string node_config(const std::string& max_wait = "0.2") {
  return "[account.acme]\nplan = streams:solo\nlimit = 1\nqueue.max_wait = " + max_wait +
         "\nqueue.max_depth = 1\n" + key_line("acme-key") + "[account.beta]\nplan = weighted\n" +
         key_line("beta-key");
}

bhttp::request<bhttp::string_body> get(const std::string& target, const std::string& authorization,
                                       verb method = verb::get) {
  bhttp::request<bhttp::string_body> req{method, target, 11};
  req.set(bhttp::field::host, "127.0.0.1");
  if (!authorization.empty()) req.set(bhttp::field::authorization, authorization);
  return req;
}

bool made_up_id(const std::string& id) {
  return std::regex_match(id, std::regex("[0-9a-f]{16}"));
}

std::string request_id(const http_result& r) {
  return std::string(r.headers["X-Request-Id"]);
}

}  // namespace

TEST_CASE("HEAD answers wherever GET does, with the GET's status and fields and no body") {
  live_node node(node_config());
  http_client c(node.port);  // one keep-alive connection: a body after a HEAD would break it
  for (std::string target : {"/", "/healthz", "/readyz", "/metrics", "/account/concurrency",
                             "/v1/tickets/nope", "/v2/nothing"}) {
    INFO(target);
    auto g = c.request(get(target, "Bearer acme-key"));
    auto h = c.request(get(target, "Bearer acme-key", verb::head));
    CHECK(h.status == g.status);
    CHECK(h.body.empty());
    CHECK(h.header(bhttp::field::content_type) == g.header(bhttp::field::content_type));
    if (target != "/metrics")  // its counters moved by one answer in between
      CHECK(h.header(bhttp::field::content_length) == g.header(bhttp::field::content_length));
  }
  auto stream = c.request(get("/account/concurrency/stream", "Bearer acme-key", verb::head));
  CHECK(stream.status == 200);
  CHECK(stream.header(bhttp::field::content_type) == "text/event-stream");
  // A route without GET refuses HEAD as it refuses GET, naming HEAD where it
  // is allowed.
  CHECK(c.request(get("/v1/admit", "Bearer acme-key", verb::head)).status == 405);
  CHECK(c.request(get("/healthz", "", verb::post)).header(bhttp::field::allow) == "GET, HEAD");
  CHECK(c.call(verb::get, "/healthz", "").status == 200);  // the connection still works
  // GET /v1/realtime without an upgrade is 426 and closes its connection.
  http_client ws_get(node.port), ws_head(node.port);
  auto g = ws_get.request(get("/v1/realtime", "Bearer acme-key"));
  auto h = ws_head.request(get("/v1/realtime", "Bearer acme-key", verb::head));
  CHECK(g.status == 426);
  CHECK(h.status == 426);
  CHECK(h.body.empty());
}

TEST_CASE("/healthz and /readyz answer 200 without a key while the node serves") {
  live_node node(node_config());
  auto health = node.call(verb::get, "/healthz", "");
  CHECK(health.status == 200);
  CHECK(health.json()["status"] == "ok");
  auto ready = node.call(verb::get, "/readyz", "");
  CHECK(ready.status == 200);
  CHECK(ready.header(bhttp::field::cache_control) == "no-store");
}

TEST_CASE("every 401 carries a WWW-Authenticate Bearer challenge") {
  live_node node(node_config() +
                 "[node]\nmetrics_key = " + usher::actors::http::sha256_hex("metrics-key") + "\n");
  auto none = node.call(verb::post, "/v1/admit", "", "{}");
  CHECK(none.status == 401);
  CHECK(none.header(bhttp::field::www_authenticate) == R"(Bearer realm="usher")");
  auto wrong = node.call(verb::get, "/account/concurrency", "wrong-key");
  CHECK(wrong.status == 401);
  CHECK(wrong.header(bhttp::field::www_authenticate) ==
        R"(Bearer realm="usher", error="invalid_token")");
  auto metrics = node.call(verb::get, "/metrics", "acme-key");
  CHECK(metrics.status == 401);
  CHECK(metrics.header(bhttp::field::www_authenticate).rfind("Bearer ", 0) == 0);
  CHECK(node.call(verb::get, "/metrics", "metrics-key").status == 200);
}

TEST_CASE("the Bearer scheme is matched in any case, the key exactly") {
  live_node node(node_config() +
                 "[node]\nmetrics_key = " + usher::actors::http::sha256_hex("metrics-key") + "\n");
  http_client c(node.port);
  for (std::string a :
       {"Bearer acme-key", "bearer acme-key", "BEARER acme-key", "bEaReR   acme-key"}) {
    INFO(a);
    CHECK(c.request(get("/account/concurrency", a)).status == 200);
  }
  for (std::string a : {"Basic acme-key", "Bearer", "Bearer ", "Beareracme-key", "Bearer ACME-KEY",
                        "Bearerx acme-key"}) {
    INFO(a);
    CHECK(c.request(get("/account/concurrency", a)).status == 401);
  }
  CHECK(c.request(get("/metrics", "bearer metrics-key")).status == 200);
}

TEST_CASE("X-Request-Id: a sane one is echoed, any other answer gets one made up") {
  live_node node(node_config());
  http_client c(node.port);
  SECTION("echoed on answers of every kind, HEAD included") {
    for (auto [target, method, status] : {std::tuple{"/v1/admit", verb::post, 200u},
                                          {"/v2/nothing", verb::get, 404u},
                                          {"/healthz", verb::head, 200u},
                                          {"/v1/leases/nope", verb::delete_, 404u}}) {
      auto req = get(target, "Bearer acme-key", method);
      req.set("X-Request-Id", "gw-7f3a:42/retry.1");
      auto r = c.request(std::move(req));
      CHECK(r.status == status);
      CHECK(request_id(r) == "gw-7f3a:42/retry.1");
    }
    auto req = get("/account/concurrency", "Bearer wrong");
    req.set("x-request-id", "lower-case-name");
    CHECK(request_id(c.request(std::move(req))) == "lower-case-name");
  }
  SECTION("made up when missing, too long, or not printable ASCII") {
    std::vector<std::string> seen;
    for (std::string given : {std::string(), std::string(129, 'a'), std::string("two words"),
                              std::string("tab\there"), std::string("caf\xC3\xA9")}) {
      auto req = get("/healthz", "");
      if (!given.empty()) req.set("X-Request-Id", given);
      auto id = request_id(c.request(std::move(req)));
      CHECK(made_up_id(id));
      seen.push_back(id);
    }
    std::sort(seen.begin(), seen.end());
    CHECK(std::unique(seen.begin(), seen.end()) == seen.end());
    auto longest = get("/healthz", "");
    longest.set("X-Request-Id", std::string(128, 'z'));
    CHECK(request_id(c.request(std::move(longest))) == std::string(128, 'z'));
  }
  SECTION("on a malformed request, an SSE stream and a WebSocket handshake") {
    raw_conn bad(node.port);
    REQUIRE(bad.send("NOT HTTP AT ALL\r\n\r\n"));
    auto r = bad.read_response();
    REQUIRE(r);
    CHECK(r->status == 400);
    CHECK(made_up_id(request_id(*r)));
    raw_conn sse(node.port);
    REQUIRE(
        sse.send("GET /account/concurrency/stream HTTP/1.1\r\nHost: x\r\nAuthorization: "
                 "Bearer acme-key\r\nX-Request-Id: sse-1\r\n\r\n"));
    REQUIRE(eventually([&] {
      return sse.open_after(std::chrono::milliseconds(10)) &&
             sse.received().find("\r\n\r\n") != std::string::npos;
    }));
    CHECK(sse.received().find("\r\nX-Request-Id: sse-1\r\n") != std::string::npos);
    raw_conn ws(node.port);
    REQUIRE(
        ws.send("GET /v1/realtime HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer acme-key\r\n"
                "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nX-Request-Id: ws-1\r\n\r\n"));
    REQUIRE(eventually([&] {
      return ws.open_after(std::chrono::milliseconds(10)) &&
             ws.received().find("\r\n\r\n") != std::string::npos;
    }));
    CHECK(ws.received().rfind("HTTP/1.1 101", 0) == 0);
    CHECK(ws.received().find("\r\nX-Request-Id: ws-1\r\n") != std::string::npos);
  }
}

TEST_CASE("error bodies carry OpenAI's type names and a param, beside message and code") {
  live_node node(node_config());
  auto error_of = [](const http_result& r) {
    auto e = r.json()["error"];
    CHECK(e["message"].is_string());
    CHECK(e["code"].is_string());
    CHECK(e.contains("param"));
    return e;
  };
  SECTION("400 names the field at fault") {
    for (auto [body, param] : {std::pair{R"({"cost":"x"})", "cost"},
                               {R"({"model":7})", "model"},
                               {R"({"product":[]})", "product"},
                               {R"({"kind":"other"})", "kind"}}) {
      INFO(body);
      auto e = error_of(node.call(verb::post, "/v1/admit", "acme-key", body));
      CHECK(e["type"] == "invalid_request_error");
      CHECK(e["code"] == "invalid_field");
      CHECK(e["param"] == param);
    }
    auto malformed = error_of(node.call(verb::post, "/v1/admit", "acme-key", "{nope"));
    CHECK(malformed["type"] == "invalid_request_error");
    CHECK(malformed["param"].is_null());
  }
  SECTION("each status has its type, param null where no field is at fault") {
    auto unknown = node.call(verb::get, "/v2/nothing", "acme-key");
    CHECK(unknown.status == 404);
    CHECK(error_of(unknown)["type"] == "not_found_error");
    CHECK(error_of(unknown)["param"].is_null());
    auto unauthorized = node.call(verb::get, "/account/concurrency", "wrong");
    CHECK(error_of(unauthorized)["type"] == "authentication_error");
    auto method = node.call(verb::put, "/v1/admit", "acme-key");
    CHECK(method.status == 405);
    CHECK(error_of(method)["type"] == "invalid_request_error");
    auto held = node.admit("acme-key");
    REQUIRE(held.status == 200);
    auto timed_out = node.admit("acme-key");  // waits its max wait, 0.2 s
    CHECK(timed_out.status == 408);
    CHECK(error_of(timed_out)["type"] == "timeout_error");
    auto refused = node.admit("beta-key", {{"cost", 9}});  // over the limit of 8
    CHECK(refused.status == 429);
    CHECK(error_of(refused)["type"] == "rate_limit_error");
    CHECK(error_of(refused)["param"].is_null());
  }
}

TEST_CASE("a 202 says which preference it applied") {
  live_node node(node_config("600"));
  auto held = node.admit("acme-key");
  REQUIRE(held.status == 200);
  auto queued = node.admit("acme-key", json::object(), "respond-async");
  REQUIRE(queued.status == 202);
  CHECK(queued.header(bhttp::field::preference_applied) == "respond-async");
  // An admission that does not queue applied no preference.
  REQUIRE(node.release("acme-key", held.json()["lease"]).status == 200);
  std::string ticket = queued.json()["ticket"];
  auto polled = node.call(verb::get, "/v1/tickets/" + ticket, "acme-key");
  CHECK(polled.status == 200);
  CHECK(polled.headers.count(bhttp::field::preference_applied) == 0);
}

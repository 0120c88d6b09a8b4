// `usher serve` attacked as an anonymous client on the network would (issue
// #9): invalid UTF-8 and control bytes everywhere a request carries text,
// oversize everything, pipelining then leaving in every state a request can
// be in, half-open and silent connections, requests split byte by byte, and
// hostile WebSocket frames. Raw sockets (support/live_node.hpp, raw_conn)
// send what Beast's client would refuse to.
//
// After each attack the node must be alive, admit and release normally, show
// exactly the leases the test holds, never have answered 500, and every error
// it answered must be valid JSON of the documented shape.
#include <catch2/catch.hpp>
#include <future>
#include <map>

#include "support/live_node.hpp"

using usher::testing::eventually;
using usher::testing::http_result;
using usher::testing::key_line;
using usher::testing::live_node;
using usher::testing::raw_conn;
using verb = boost::beast::http::verb;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

// acme: streams:solo (3 streams, a queue of 4 that waits up to a minute);
// probe: weighted with room to spare, for the health check; tts: exclusive
// (one slot, WebSockets). Recovery off: a fresh node grants at once.
std::string attack_config(const std::string& node_extra = "") {
  return "[node]\nlisten = 127.0.0.1:0\nrecovery = 0\nlease_ttl = 30s\nrequest_timeout = 2s\n" +
         node_extra +
         "[account.acme]\nplan = streams:solo\n" + key_line("acme-key") +
         "queue.max_wait = 60\nqueue.max_depth = 4\n"
         "[account.probe]\nplan = weighted\nlimit = 1000\n" + key_line("probe-key") +
         "[account.tts]\nplan = exclusive\n" + key_line("tts-key");
}

// An error answer as SERVE.md promises it: valid JSON (nlohmann's parser
// checks UTF-8 too) {"error":{"message":..,"type":..,"code":..}}.
void check_error_json(const http_result& r) {
  INFO("status " << r.status << ", body: " << r.body);
  auto j = json::parse(r.body, nullptr, false);
  REQUIRE_FALSE(j.is_discarded());
  REQUIRE(j.contains("error"));
  CHECK(j["error"]["message"].is_string());
  CHECK(j["error"]["type"].is_string());
  CHECK(j["error"]["code"].is_string());
}

// Sends `bytes` on a fresh connection and reads the answer, which must come
// (the node may stop reading early, at a limit, and still answer).
http_result answer_to(const live_node& node, const std::string& bytes) {
  raw_conn c(node.port);
  c.send(bytes);
  auto r = c.read_response();
  INFO("request: " << json(bytes).dump(-1, ' ', false, json::error_handler_t::replace));
  REQUIRE(r);
  return *r;
}

// The node after an attack: alive, admits and releases normally, holds
// exactly `held` leases per account key (every other account none), has
// sent no 500 and thrown nothing.
void check_healthy(const live_node& node, std::map<std::string, int> held = {}) {
  REQUIRE(node.alive());
  auto r = node.admit("probe-key", {{"model", "m"}});
  REQUIRE(r.status == 200);
  std::string lease = r.json()["lease"];
  CHECK(node.usage("probe-key")["request_count"] == 1);
  CHECK(node.release("probe-key", lease).status == 200);
  CHECK(node.release("probe-key", lease).status == 404);
  for (const char* key : {"acme-key", "probe-key", "tts-key"}) {
    int want = held.count(key) ? held[key] : 0;
    INFO(key << " should hold " << want);
    // Leases a vanished client or a closed socket held are released
    // asynchronously: a generous deadline, not a sleep.
    CHECK(eventually([&] { return node.usage(key)["request_count"] == want; }));
  }
  if (!held.count("acme-key")) {  // a normal admit that queues for nothing
    auto a = node.admit("acme-key");
    REQUIRE(a.status == 200);
    CHECK(node.release("acme-key", a.json()["lease"]).status == 200);
  }
  CHECK(node.metric("usher_http_responses_total{code=\"500\"}") == 0);
  CHECK(node.metric("usher_internal_errors_total") == 0);
  CHECK(node.metric("usher_queued{account=\"acme\"}") == 0);
}

// Byte sequences no valid UTF-8 text has, and control bytes.
std::vector<std::string> hostile_bytes() {
  std::vector<std::string> v = {
      "\xff",              // never valid
      "\xc0\xaf",          // overlong '/'
      "\xe0\x80\xaf",      // overlong '/', three bytes
      "\xed\xa0\x80",      // a lone (high) surrogate U+D800
      "\xed\xbf\xbf",      // a lone (low) surrogate U+DFFF
      "\xf4\x90\x80\x80",  // over U+10FFFF
      "\x80",              // a stray continuation byte
      "\xe2\x82",          // a cut-off sequence
      "\xfe\xfe\xff\xff",  // BOM-like junk
      std::string(1, '\0'),
      "\r",
      "\x7f",
  };
  for (char c = 1; c < 0x20; ++c)
    if (c != '\r') v.push_back(std::string(1, c));
  return v;
}

std::string printable(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\x%02x", c);
    out += buf;
  }
  return out;
}

std::string admit_bytes(const std::string& key, const std::string& body,
                        const std::string& extra_headers = "") {
  return "POST /v1/admit HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + key +
         "\r\nContent-Type: application/json\r\n" + extra_headers +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::string get_bytes(const std::string& target, const std::string& key) {
  return "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + key +
         "\r\n\r\n";
}

// A lease granted by an attack on the probe account is given back.
void give_back(const live_node& node, const http_result& r) {
  if (r.status != 200) return;
  auto j = json::parse(r.body, nullptr, false);
  if (j.is_object() && j.contains("lease")) node.release("probe-key", j["lease"]);
}

}  // namespace

TEST_CASE("attack: invalid UTF-8 and control bytes in the request target", "[attack]") {
  live_node node(attack_config());
  for (const auto& b : hostile_bytes()) {
    for (std::string target : {"/" + b, "/x" + b + "y", "/v1/leases/" + b,
                               "/v1/leases/" + b + "/renew", "/v1/tickets/" + b,
                               "/v1/admit?" + b, "/account/concurrency" + b}) {
      INFO("target " << printable(target));
      for (const char* method : {"GET", "POST", "DELETE"}) {
        INFO(method);
        auto r = answer_to(node, std::string(method) + " " + target +
                                     " HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer probe-key\r\n"
                                     "Content-Length: 2\r\n\r\n{}");
        CHECK(r.status < 500);
        if (r.status >= 400) check_error_json(r);
        give_back(node, r);  // POST /v1/admit?<bytes> is an admission
      }
    }
  }
  // The request that started issue #9: one byte, no key.
  auto r = answer_to(node, "GET /\xff HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECK(r.status == 404);
  check_error_json(r);
  check_healthy(node);
}

TEST_CASE("attack: invalid UTF-8 and control bytes in every header, the key included",
          "[attack]") {
  live_node node(attack_config());
  for (const auto& b : hostile_bytes()) {
    INFO("bytes " << printable(b));
    std::vector<std::string> requests = {
        // The key.
        admit_bytes("probe" + b + "key", "{}"),
        admit_bytes(b, "{}"),
        admit_bytes("probe-key" + b, "{}"),
        "POST /v1/admit HTTP/1.1\r\nHost: a\r\nAuthorization: " + b +
            " probe-key\r\nContent-Length: 0\r\n\r\n",
        "POST /v1/admit HTTP/1.1\r\nHost: a\r\nAuthorization" + b +
            ": Bearer probe-key\r\nContent-Length: 0\r\n\r\n",
        // Other headers: name and value, the ones the node reads and one it does not.
        admit_bytes("probe-key", "{}", "Prefer: respond-async" + b + "\r\n"),
        admit_bytes("probe-key", "{}", "X-Anything: a" + b + "b\r\n"),
        admit_bytes("probe-key", "{}", "X-" + b + "Name: v\r\n"),
        admit_bytes("probe-key", "{}", b + ": v\r\n"),
        admit_bytes("probe-key", "{}", "Connection: keep-alive" + b + "\r\n"),
        "POST /v1/admit HTTP/1.1\r\nHost: a" + b +
            "\r\nAuthorization: Bearer probe-key\r\nContent-Length: 0\r\n\r\n",
        "POST /v1/admit HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer probe-key\r\n"
        "Content-Length: 2" + b + "\r\n\r\n{}",
        "POST /v1/admit HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer probe-key\r\n"
        "Transfer-Encoding: chunked" + b + "\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
        "GET /account/concurrency HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer probe-key\r\n"
        "Upgrade: websocket" + b + "\r\nConnection: Upgrade\r\n\r\n",
        "GET /v1/realtime HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer tts-key\r\n"
        "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13" + b +
            "\r\nSec-WebSocket-Key: " + b + "\r\n\r\n",
        "GET /metrics HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer " + b + "\r\n\r\n",
        // The start line's version.
        "GET / HTTP/1.1" + b + "\r\nHost: a\r\n\r\n",
        "GET" + b + " / HTTP/1.1\r\nHost: a\r\n\r\n",
    };
    for (const auto& req : requests) {
      INFO("request " << printable(req));
      raw_conn c(node.port);
      REQUIRE(c.send(req));
      auto r = c.read_response();
      REQUIRE(r);
      CHECK(r->status != 500);
      if (r->status == 101) continue;  // a WebSocket opened after all; closed with c
      if (r->status >= 400) check_error_json(*r);
      give_back(node, *r);
    }
  }
  // The upgrade attempts above leave WebSockets that close with their
  // connections: the slot and connection count come back.
  CHECK(eventually([&] { return node.metric("usher_ws_connections{account=\"tts\"}") == 0; }));
  check_healthy(node);
}

TEST_CASE("attack: invalid UTF-8, control bytes and odd values in the JSON body", "[attack]") {
  live_node node(attack_config());
  std::vector<std::string> bodies;
  for (const auto& b : hostile_bytes()) {
    bodies.push_back("{\"model\":\"" + b + "\"}");
    bodies.push_back("{\"product\":\"a" + b + "\"}");
    bodies.push_back("{\"kind\":\"" + b + "\"}");
    bodies.push_back("{\"" + b + "\":1}");
    bodies.push_back("{\"model\":\"m\",\"x" + b + "\":\"" + b + "\"}");
    bodies.push_back(b);
    bodies.push_back("{" + b + "}");
    bodies.push_back("{\"cost\":1" + b + "}");
  }
  // Valid JSON with text no name should hold: escapes of control bytes and
  // of lone surrogates (which nlohmann refuses), a NUL inside a name.
  for (std::string s : {"\\u0000", "\\u0001\\u001f", "\\ud800", "\\udfff", "\\ud800\\u0041",
                        "a\\u0000b", "\\uffff", "\\ud83d\\ude00", "\\\"", "\\\\"}) {
    bodies.push_back("{\"model\":\"" + s + "\"}");
    bodies.push_back("{\"product\":\"" + s + "\"}");
    bodies.push_back("{\"" + s + "\":\"" + s + "\"}");
  }
  // Numbers.
  for (std::string n : {"1e999", "-1e999", "99999999999999999999999", "-99999999999999999999999",
                        "18446744073709551616", "9223372036854775807", "-9223372036854775808",
                        "1.5", "-0", "0", "1e3", "NaN", "Infinity", "0x10", "01", "1000000001"}) {
    bodies.push_back("{\"cost\":" + n + "}");
  }
  // Shapes.
  for (std::string s : {"", "null", "[]", "\"x\"", "1", "{", "}", "{\"model\":}", "{\"model\"",
                        "{\"model\":\"m\"", "{\"model\":\"m\"}}", "{\"model\":\"m\"} x",
                        "{\"model\":\"m\",}", "{'model':'m'}", "{\"model\":\"m\",\"model\":[]}",
                        "\xef\xbb\xbf{}"}) {
    bodies.push_back(s);
  }
  int granted = 0;
  for (const auto& body : bodies) {
    INFO("body " << printable(body));
    auto r = answer_to(node, admit_bytes("probe-key", body));
    CHECK((r.status == 200 || r.status == 400));
    if (r.status == 400) check_error_json(r);
    if (r.status == 200) {
      ++granted;
      // A name with a NUL or a control byte in it is shown back as valid JSON.
      auto u = node.call(verb::get, "/account/concurrency", "probe-key");
      CHECK(u.status == 200);
      CHECK_FALSE(u.json().is_discarded());
      CHECK(node.call(verb::get, "/metrics", "").status == 200);
    }
    give_back(node, r);
  }
  CHECK(granted > 0);
  // Bytes that are not UTF-8 never become a name: a 400, never a lease.
  auto r = answer_to(node, admit_bytes("probe-key", "{\"model\":\"\xff\"}"));
  CHECK(r.status == 400);
  check_healthy(node);
}

TEST_CASE("attack: oversize path, headers, body, names, nesting and numbers", "[attack]") {
  live_node node(attack_config());
  SECTION("a path, one header and many headers over the header limit") {
    for (const auto& req : std::vector<std::string>{
             get_bytes("/" + std::string(20000, 'a'), "probe-key"),
             get_bytes("/v1/leases/" + std::string(20000, '\xff'), "probe-key"),
             "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(20000, 'v') + "\r\n\r\n",
             "GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer " + std::string(20000, 'k') +
                 "\r\n\r\n",
             [] {
               std::string s = "GET / HTTP/1.1\r\nHost: a\r\n";
               for (int i = 0; i < 5000; ++i) s += "X-H" + std::to_string(i) + ": v\r\n";
               return s + "\r\n";
             }(),
         }) {
      auto r = answer_to(node, req);
      CHECK(r.status == 431);
      check_error_json(r);
    }
  }
  SECTION("names, keys, ids and kinds of 10 KB within the body limit") {
    std::string big(10 * 1024, 'n');
    for (const auto& body : {json{{"model", big}}, json{{"product", big}}, json{{"kind", big}},
                             json{{big, big}, {"model", "m"}}}) {
      auto r = answer_to(node, admit_bytes("probe-key", body.dump()));
      INFO(r.body);
      if (body.contains(big)) {
        CHECK(r.status == 200);  // an unknown member is skipped
        give_back(node, r);
      } else {
        CHECK(r.status == 400);
        check_error_json(r);
      }
    }
    auto key = answer_to(node, admit_bytes(big, "{}"));
    CHECK(key.status == 401);
    check_error_json(key);
    for (const auto& target : {"/v1/leases/" + big, "/v1/leases/" + big + "/renew",
                               "/v1/tickets/" + big}) {
      auto r = answer_to(node, get_bytes(target, "probe-key"));
      CHECK(r.status >= 400);
      check_error_json(r);
    }
  }
  SECTION("a body over max_body: 413, declared, sent, chunked, or a length that lies") {
    // Declared only: the node answers from the header and does not wait.
    auto r = answer_to(node, "POST /v1/admit HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer "
                             "probe-key\r\nContent-Length: 100000000\r\n\r\n");
    CHECK(r.status == 413);
    check_error_json(r);
    CHECK(r.json()["error"]["code"] == "body_too_large");
    // Sent in full: the node may cut the connection while the client still
    // writes; if an answer comes, it is the 413.
    {
      raw_conn c(node.port);
      c.send(admit_bytes("probe-key", std::string(200000, ' ')), 3s);
      if (auto a = c.read_response(3s)) CHECK(a->status == 413);
    }
    // Chunked, past the limit in small chunks.
    {
      raw_conn c(node.port);
      std::string req = "POST /v1/admit HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer probe-key\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n";
      for (int i = 0; i < 80; ++i) req += "3e8\r\n" + std::string(1000, ' ') + "\r\n";
      req += "0\r\n\r\n";
      c.send(req, 3s);
      auto a = c.read_response();
      REQUIRE(a);
      CHECK(a->status == 413);
      check_error_json(*a);
    }
    // A chunk size that overflows.
    {
      auto a = answer_to(node, "POST /v1/admit HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer "
                               "probe-key\r\nTransfer-Encoding: chunked\r\n\r\n"
                               "ffffffffffffffffffff\r\nx\r\n");
      CHECK(a.status >= 400);
      check_error_json(a);
    }
    // Content-Length longer than what is sent, then the client half-closes:
    // the request is cut short, answered 400.
    {
      raw_conn c(node.port);
      REQUIRE(c.send("POST /v1/admit HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer probe-key\r\n"
                     "Content-Length: 100\r\n\r\n{\"model\":"));
      c.shutdown_write();
      auto a = c.read_response();
      REQUIRE(a);
      CHECK(a->status == 400);
      check_error_json(*a);
      CHECK(c.closed_within());
    }
    // The same, then the client leaves for good.
    {
      raw_conn c(node.port);
      REQUIRE(c.send("POST /v1/admit HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer probe-key\r\n"
                     "Content-Length: 100\r\n\r\n{\"model\":"));
      c.close();
    }
    // Two lengths that disagree.
    {
      auto a = answer_to(node, "POST /v1/admit HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer "
                               "probe-key\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}");
      CHECK(a.status == 400);
      check_error_json(a);
    }
  }
  SECTION("deep nesting: 100,000 brackets over the limit, 60,000 within it") {
    auto over = answer_to(node, admit_bytes("probe-key", std::string(100000, '[')));
    CHECK(over.status == 413);
    for (const auto& body : {std::string(60000, '['), std::string(60000, '{'),
                             "{\"model\":" + std::string(60000, '['),
                             "{\"x\":" + std::string(30000, '[') + std::string(30000, ']') + "}",
                             [] {
                               std::string s;
                               for (int i = 0; i < 12000; ++i) s += "{\"a\":";
                               return s;
                             }()}) {
      auto r = answer_to(node, admit_bytes("probe-key", body));
      CHECK((r.status == 200 || r.status == 400));
      if (r.status == 400) check_error_json(r);
      give_back(node, r);
    }
  }
  SECTION("huge numbers") {
    for (const auto& body :
         {"{\"cost\":" + std::string(60000, '9') + "}",
          "{\"cost\":1e" + std::string(1000, '9') + "}",
          "{\"cost\":0." + std::string(60000, '0') + "1}",
          "{\"cost\":-" + std::string(60000, '9') + "}"}) {
      auto r = answer_to(node, admit_bytes("probe-key", body));
      CHECK(r.status == 400);
      check_error_json(r);
    }
  }
  check_healthy(node);
}

TEST_CASE("attack: a queued client that pipelines and leaves frees its queue place at once",
          "[attack]") {
  live_node node(attack_config());
  std::vector<std::string> held;
  for (int i = 0; i < 3; ++i) {
    auto r = node.admit("acme-key");
    REQUIRE(r.status == 200);
    held.push_back(r.json()["lease"]);
  }
  auto queued = [&] { return node.metric("usher_queued{account=\"acme\"}"); };
  struct leave_way {
    const char* what;
    std::string pipelined;
    bool reset;
  };
  for (const auto& way : std::vector<leave_way>{
           {"a second request, then FIN", get_bytes("/account/concurrency", "acme-key"), false},
           {"a second admit, then FIN", admit_bytes("acme-key", "{}"), false},
           {"a second request, then RST", get_bytes("/account/concurrency", "acme-key"), true},
           {"half a request, then FIN", "GET /account/concurrency HTTP/1.1\r\nHo", false},
           {"more than a request's worth (cut off)", std::string(200000, 'x'), false},
       }) {
    INFO(way.what);
    {
      raw_conn c(node.port);
      REQUIRE(c.send(admit_bytes("acme-key", "{}")));
      REQUIRE(eventually([&] { return queued() == 1; }));
      c.send(way.pipelined, 2s);
      if (way.reset) c.reset();
    }
    // Gone at once (the bug: until a lease TTL later).
    CHECK(eventually([&] { return queued() == 0; }, 5s));
  }
  // The next client to queue gets the next stream that frees, at once.
  auto waiting = std::async(std::launch::async, [&] { return node.admit("acme-key"); });
  REQUIRE(eventually([&] { return queued() == 1; }));
  REQUIRE(node.release("acme-key", held.back()).status == 200);
  held.pop_back();
  auto r = waiting.get();
  REQUIRE(r.status == 200);
  held.push_back(r.json()["lease"]);
  CHECK(node.metric("usher_outcomes_total{account=\"acme\",code=\"499\"}") == 5);
  check_healthy(node, {{"acme-key", 3}});
  for (auto& l : held) CHECK(node.release("acme-key", l).status == 200);
  check_healthy(node);
}

TEST_CASE("attack: a client that got its lease, pipelines and leaves still holds the lease",
          "[attack]") {
  SECTION("until it is released") {
    live_node node(attack_config());
    std::string lease;
    {
      raw_conn c(node.port);
      REQUIRE(c.send(admit_bytes("acme-key", "{}")));
      auto r = c.read_response();
      REQUIRE(r);
      REQUIRE(r->status == 200);
      lease = r->json()["lease"];
      REQUIRE(c.send(get_bytes("/account/concurrency", "acme-key") +
                     "POST /v1/leases/" + lease + "/renew HTTP/1.1\r\nHost: a\r\n"
                     "Authorization: Bearer acme-key\r\nContent-Length: 0\r\n\r\n"));
    }
    // SERVE.md: a lease is the client's until it releases it or its TTL
    // passes; a closed connection is not a release.
    std::this_thread::sleep_for(200ms);
    check_healthy(node, {{"acme-key", 1}});
    auto u = node.usage("acme-key");
    REQUIRE(u["requests"].size() == 1);
    CHECK(u["requests"][0]["id"] == lease);
    CHECK(node.release("acme-key", lease).status == 200);
    check_healthy(node);
  }
  SECTION("or until its TTL passes") {
    live_node short_ttl("[node]\nlisten = 127.0.0.1:0\nrecovery = 0\nlease_ttl = 300ms\n"
                        "[account.acme]\nplan = streams:solo\n" + key_line("acme-key"));
    {
      raw_conn c(short_ttl.port);
      REQUIRE(c.send(admit_bytes("acme-key", "{}")));
      auto r = c.read_response();
      REQUIRE(r);
      REQUIRE(r->status == 200);
      REQUIRE(c.send(get_bytes("/account/concurrency", "acme-key")));
    }
    CHECK(short_ttl.usage("acme-key")["request_count"] == 1);
    CHECK(eventually([&] { return short_ttl.usage("acme-key")["request_count"] == 0; }));
    CHECK(short_ttl.metric("usher_leases_expired_total{account=\"acme\"}") == 1);
    CHECK(short_ttl.alive());
  }
}

TEST_CASE("attack: a ticket poller that pipelines and leaves leaves the ticket in the queue",
          "[attack]") {
  live_node node(attack_config());
  std::vector<std::string> held;
  for (int i = 0; i < 3; ++i) held.push_back(node.admit("acme-key").json()["lease"]);
  auto t = node.admit("acme-key", json::object(), "respond-async");
  REQUIRE(t.status == 202);
  std::string ticket = t.json()["ticket"];
  {
    raw_conn c(node.port);
    REQUIRE(c.send(get_bytes("/v1/tickets/" + ticket, "acme-key")));
    CHECK(c.open_after(100ms));  // held: the ticket still waits
    REQUIRE(c.send(get_bytes("/account/concurrency", "acme-key")));
  }
  // The ticket is not the poller's connection: it keeps its queue place.
  std::this_thread::sleep_for(100ms);
  CHECK(node.metric("usher_queued{account=\"acme\"}") == 1);
  // A stream frees: the ticket gets it, and whoever polls next collects it.
  REQUIRE(node.release("acme-key", held.back()).status == 200);
  held.pop_back();
  auto done = node.call(verb::get, "/v1/tickets/" + ticket, "acme-key");
  REQUIRE(done.status == 200);
  std::string lease = done.json()["lease"];
  // The lease the ticket got is held (the vanished poller must not have
  // released it on its way out) and can be renewed and released.
  CHECK(node.usage("acme-key")["request_count"] == 3);
  CHECK(node.call(verb::post, "/v1/leases/" + lease + "/renew", "acme-key").status == 200);
  held.push_back(lease);
  check_healthy(node, {{"acme-key", 3}});
  for (auto& l : held) CHECK(node.release("acme-key", l).status == 200);
  check_healthy(node);
}

TEST_CASE("attack: half-open, silent and byte-by-byte connections", "[attack]") {
  live_node node(attack_config());
  SECTION("a client that half-closes after its request gets the answers the edge has at once") {
    // What the node does with shutdown(SHUT_WR): it reads the end of the
    // stream as the client leaving (TCP cannot tell a half-close from a
    // close without writing). An answer the edge gives without asking an
    // actor (404, 401, 400, the dashboard) is written before that read; an
    // answer that needs an actor may find the client already counted gone:
    // it is then dropped (a lease in it released) and the connection closed.
    for (const auto& req : {get_bytes("/nowhere", "probe-key"),
                            get_bytes("/account/concurrency", "nobody"),
                            get_bytes("/", "")}) {
      raw_conn c(node.port);
      REQUIRE(c.send(req));
      c.shutdown_write();
      auto r = c.read_response();
      REQUIRE(r);
      CHECK(r->status != 500);
      CHECK(c.closed_within());
    }
    {
      raw_conn c(node.port);
      REQUIRE(c.send(get_bytes("/account/concurrency", "probe-key")));
      c.shutdown_write();
      if (auto r = c.read_response()) CHECK(r->status == 200);
      CHECK(c.closed_within());
    }
    raw_conn c(node.port);
    REQUIRE(c.send(admit_bytes("acme-key", "{}")));
    c.shutdown_write();
    // The admission is asynchronous: the end of the stream may be read
    // before the answer comes, and a client that ended its stream while a
    // request was pending counts as gone (its lease is released). Either
    // way, the count must match what the client got.
    auto r = c.read_response();
    if (r) {
      REQUIRE(r->status == 200);
      check_healthy(node, {{"acme-key", 1}});
      CHECK(node.release("acme-key", r->json()["lease"]).status == 200);
    }
    check_healthy(node);
  }
  SECTION("a half-closed client whose admission queues is taken out of the queue") {
    std::vector<std::string> held;
    for (int i = 0; i < 3; ++i) held.push_back(node.admit("acme-key").json()["lease"]);
    raw_conn c(node.port);
    REQUIRE(c.send(admit_bytes("acme-key", "{}")));
    c.shutdown_write();
    // The node reads the end of the stream as the client leaving: no answer,
    // the connection closes, the queue place is freed (499).
    CHECK(c.closed_within());
    CHECK(eventually([&] { return node.metric("usher_queued{account=\"acme\"}") == 0; }));
    CHECK(node.metric("usher_outcomes_total{account=\"acme\",code=\"499\"}") == 1);
    check_healthy(node, {{"acme-key", 3}});
    for (auto& l : held) CHECK(node.release("acme-key", l).status == 200);
  }
  SECTION("connections that send nothing are closed after request_timeout and block nobody") {
    std::vector<std::unique_ptr<raw_conn>> silent;
    for (int i = 0; i < 50; ++i) silent.push_back(std::make_unique<raw_conn>(node.port));
    // One that sent half a request line, one that sent all but the last CRLF.
    silent.push_back(std::make_unique<raw_conn>(node.port));
    REQUIRE(silent.back()->send("GET /account/concur"));
    silent.push_back(std::make_unique<raw_conn>(node.port));
    REQUIRE(silent.back()->send(get_bytes("/", "probe-key").substr(0, 30)));
    check_healthy(node);  // served meanwhile
    // The two that began a request are told why (408, then closed); the
    // silent ones are closed without a word.
    for (std::size_t i = 50; i < silent.size(); ++i) {
      auto r = silent[i]->read_response(10s);  // request_timeout = 2s
      REQUIRE(r);
      CHECK(r->status == 408);
      CHECK(r->json()["error"]["code"] == "request_timeout");
    }
    for (auto& c : silent) {
      CHECK(c->closed_within(10s));
      CHECK(c->received().empty());
    }
    CHECK(node.metric("usher_connection_timeouts_total{phase=\"request\"}") >= 52);
  }
  SECTION("a request split byte by byte is answered as a whole") {
    raw_conn c(node.port);
    REQUIRE(c.send_bytewise(admit_bytes("probe-key", "{\"model\":\"m\",\"cost\":2}")));
    auto r = c.read_response();
    REQUIRE(r);
    REQUIRE(r->status == 200);
    CHECK(node.usage("probe-key")["used_cost"] == 2);
    // The keep-alive connection goes on, byte by byte again.
    std::string lease = r->json()["lease"];
    REQUIRE(c.send_bytewise("DELETE /v1/leases/" + lease +
                            " HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer probe-key\r\n\r\n"));
    auto d = c.read_response();
    REQUIRE(d);
    CHECK(d->status == 200);
    check_healthy(node);
  }
  SECTION("bytes after a final answer that closes, and junk between keep-alive requests") {
    raw_conn c(node.port);
    REQUIRE(c.send(get_bytes("/account/concurrency", "probe-key") +
                   std::string("\r\n\r\n\xff\xff\x00\r\n", 9) +
                   get_bytes("/account/concurrency", "probe-key")));
    auto first = c.read_response();
    REQUIRE(first);
    CHECK(first->status == 200);
    if (auto second = c.read_response(5s)) {
      CHECK(second->status >= 400);
      check_error_json(*second);
    }
    check_healthy(node);
  }
}

TEST_CASE("attack: hostile WebSocket frames", "[attack]") {
  live_node node(attack_config());
  auto sockets = [&] { return node.metric("usher_ws_connections{account=\"tts\"}"); };
  auto open_ws = [&] {
    auto c = std::make_unique<raw_conn>(node.port);
    REQUIRE(c->upgrade("tts-key"));
    return c;
  };
  auto request = raw_conn::ws_frame(1, R"({"type":"request"})");

  SECTION("frames that break the protocol end the connection, and it frees its slot") {
    std::string big_header = "\x81\xff\x7f\xff\xff\xff\xff\xff\xff\xff" + std::string(4, 'm');
    struct attack {
      const char* what;
      unsigned close_code;  ///< of the node's close frame
      std::string bytes;
    };
    std::vector<attack> attacks = {
        {"text with invalid UTF-8", 1007, raw_conn::ws_frame(1, "{\"type\":\"request\",\"model\":\"\xff\"}")},
        {"text with a lone surrogate", 1007, raw_conn::ws_frame(1, "\xed\xa0\x80")},
        {"text with an overlong form", 1007, raw_conn::ws_frame(1, "\xc0\xaf")},
        {"invalid UTF-8 across fragments", 1007,
         raw_conn::ws_frame(1, "{\"a\":\"\xe2\x82", false) + raw_conn::ws_frame(0, "\xff\"}")},
        {"a frame of 1 MB", 1009, raw_conn::ws_frame(2, std::string(1 << 20, 'x'))},
        {"a frame that says 2^63 bytes", 1009, big_header},
        {"fragments past the message limit", 1009,
         [] {
           std::string s = raw_conn::ws_frame(1, std::string(16000, ' '), false);
           for (int i = 0; i < 8; ++i) s += raw_conn::ws_frame(0, std::string(16000, ' '), false);
           return s + raw_conn::ws_frame(0, "", true);
         }()},
        {"a continuation with nothing to continue", 1002, raw_conn::ws_frame(0, "x")},
        {"a new message inside a fragmented one", 1002,
         raw_conn::ws_frame(1, "{", false) + raw_conn::ws_frame(1, "}")},
        {"a fragmented ping", 1002, raw_conn::ws_frame(9, "p", false)},
        {"a ping of 126 bytes", 1002, raw_conn::ws_frame(9, std::string(126, 'p'))},
        {"a reserved opcode", 1002, raw_conn::ws_frame(3, "x")},
        {"a reserved control opcode", 1002, raw_conn::ws_frame(11, "x")},
        {"RSV bits", 1002, [] {
           auto f = raw_conn::ws_frame(1, "{}");
           f[0] = static_cast<char>(f[0] | 0x70);
           return f;
         }()},
        {"an unmasked frame", 1002, std::string("\x81\x02{}", 4)},
        {"a close of one byte", 1002, raw_conn::ws_frame(8, "\x03")},
        {"close code 0", 1002, raw_conn::ws_close_frame(0)},
        {"close code 999", 1002, raw_conn::ws_close_frame(999)},
        {"close code 1004", 1002, raw_conn::ws_close_frame(1004)},
        {"close code 1005", 1002, raw_conn::ws_close_frame(1005)},
        {"close code 1006", 1002, raw_conn::ws_close_frame(1006)},
        {"close code 1015", 1002, raw_conn::ws_close_frame(1015)},
        {"close code 2999", 1002, raw_conn::ws_close_frame(2999)},
        {"close code 5000", 5000, raw_conn::ws_close_frame(5000)},
        {"close code 65535", 65535, raw_conn::ws_close_frame(65535)},
        {"a close reason with invalid UTF-8", 1002, raw_conn::ws_close_frame(1000, "\xff\xfe")},
        {"a close reason of 124 bytes", 1002, raw_conn::ws_close_frame(1000, std::string(124, 'r'))},
        {"a valid close", 1000, raw_conn::ws_close_frame(1000, "bye")},
        {"a valid close, code 4000", 4000, raw_conn::ws_close_frame(4000)},
        {"a reserved opcode, and no closing handshake", 1002, raw_conn::ws_frame(3, "y")},
    };
    for (const auto& a : attacks) {
      INFO(a.what);
      auto c = open_ws();
      // Holds a lease first, so leaving must also give it back.
      REQUIRE(c->send(request));
      auto admitted = c->read_frame();
      REQUIRE(admitted);
      CHECK(json::parse(admitted->payload)["type"] == "admitted");
      c->send(a.bytes, 3s);
      // The node answers with a close frame (1002 protocol error, 1007 bad
      // data, 1009 too big; Beast echoes the code of a close it accepts,
      // 5000 and up included), then ends the connection.
      CHECK(c->read_until_close() == a.close_code);
      // The client's side of the closing handshake; the last attacker never
      // sends it, and the node ends the connection on its own (its close
      // timeout: request_timeout).
      if (&a != &attacks.back()) c->send(raw_conn::ws_close_frame(1000), 1s);
      CHECK(c->closed_within());
      c->close();
      CHECK(eventually([&] { return sockets() == 0; }));
      CHECK(eventually([&] { return node.usage("tts-key")["request_count"] == 0; }));
    }
  }

  SECTION("frames a session survives: binary, fragmented, junk JSON, ping floods") {
    auto c = open_ws();
    // A request in three fragments.
    REQUIRE(c->send(raw_conn::ws_frame(1, R"({"type":)", false) +
                    raw_conn::ws_frame(0, R"("requ)", false) + raw_conn::ws_frame(0, R"(est"})")));
    auto m = c->read_frame();
    REQUIRE(m);
    auto admitted = json::parse(m->payload);
    REQUIRE(admitted["type"] == "admitted");
    // Pings between fragments are answered.
    REQUIRE(c->send(raw_conn::ws_frame(1, R"({"type":"rel)", false) + raw_conn::ws_frame(9, "hi") +
                    raw_conn::ws_frame(0, R"(ease","lease":)" + admitted["lease"].dump() + "}")));
    m = c->read_frame();
    REQUIRE(m);
    CHECK(m->opcode == 10);
    CHECK(m->payload == "hi");
    m = c->read_frame();
    REQUIRE(m);
    CHECK(json::parse(m->payload)["type"] == "released");
    // Junk a valid frame may carry: an error frame that is valid JSON each
    // time, and the socket stays open.
    std::vector<std::string> junk = {"", std::string("\x00\x01\x02", 3), "\xff\xfe", "[]", "null", "{}",
                                     R"({"type":"\u0000"})", R"({"type":"request","cost":1e999})",
                                     R"({"type":"request","model":")" + std::string(10000, 'm') + "\"}",
                                     R"({"type":"release","lease":"\ud800"})",
                                     R"({"type":"release","lease":")" + std::string(5000, 'l') + "\"}",
                                     std::string(30000, '['), std::string(60000, '{')};
    for (const auto& j : junk) {
      INFO("frame " << printable(j.substr(0, 40)));
      REQUIRE(c->send(raw_conn::ws_frame(2, j)));  // binary frames carry no UTF-8 check
      auto e = c->read_frame();
      REQUIRE(e);
      auto parsed = json::parse(e->payload, nullptr, false);
      REQUIRE_FALSE(parsed.is_discarded());
      CHECK(parsed["type"] == "error");
      CHECK(parsed["error"]["code"].is_string());
    }
    // A ping flood, read only afterwards: every ping gets its pong, and the
    // session still admits.
    std::string flood;
    const int pings = 5000;
    for (int i = 0; i < pings; ++i) flood += raw_conn::ws_frame(9, "p");
    REQUIRE(c->send(flood + request));
    int pongs = 0;
    std::optional<raw_conn::ws_message> answer;
    while (!answer) {
      auto f = c->read_frame();
      REQUIRE(f);
      if (f->opcode == 10) ++pongs;
      else answer = f;
    }
    CHECK(pongs == pings);
    auto granted = json::parse(answer->payload);
    CHECK(granted["type"] == "admitted");
    CHECK(node.usage("tts-key")["request_count"] == 1);
    // Unsolicited pongs are ignored.
    REQUIRE(c->send(raw_conn::ws_frame(10, "x") + raw_conn::ws_frame(1, R"({"type":"request"})")));
    m = c->read_frame();
    REQUIRE(m);
    CHECK(json::parse(m->payload)["status"] == 429);  // the one slot is held
    // Leaving without a close frame releases what the socket held.
    c->reset();
    CHECK(eventually([&] { return sockets() == 0; }));
  }

  SECTION("a client that sends requests and never reads is cut off") {
    auto c = open_ws();
    std::string many;
    for (int i = 0; i < 4000; ++i) many += raw_conn::ws_frame(1, R"({"type":"nothing"})");
    c->send(many, 5s);
    // Either the node keeps up (answers sit in the socket buffers) or it
    // cuts the client off; it never grows without bound or dies.
    c->close();
    CHECK(eventually([&] { return sockets() == 0; }));
  }
  check_healthy(node);
}

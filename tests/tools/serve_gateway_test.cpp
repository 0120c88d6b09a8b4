// The OpenAI-compatible gateway (issue #12, docs/GATEWAY.md) against real
// processes: `usher serve` with a [gateway] in front of `usher mock-model`.
// What the upstream sees is read from the mock's /_stats (its in-flight
// requests per `user`, the Authorization values it got), what the account
// holds from /account/concurrency: a slot is freed exactly when the answer
// ends, fails, stalls or loses its client, and the upstream never sees more
// of an account at once than its limit, nor a customer's key.
#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <vector>

#include "support/live_node.hpp"
#include "support/mock_model_process.hpp"
#include "support/usher_cli.hpp"

using usher::testing::eventually;
using usher::testing::http_client;
using usher::testing::http_result;
using usher::testing::key_line;
using usher::testing::live_node;
using usher::testing::mock_model_process;
using usher::testing::raw_conn;
using verb = boost::beast::http::verb;
namespace bhttp = boost::beast::http;
using nlohmann::json;

namespace {

std::string gateway_section(std::uint16_t upstream_port, const std::string& extra = "") {
  return "[gateway]\nupstream = http://127.0.0.1:" + std::to_string(upstream_port) +
         "/v1\nupstream_key = upstream-secret\n" + extra;
}

// team: two streams, a queue of 8 waiting up to 30 s; solo: one stream, no queue.
std::string accounts() {
  return "[account.team]\nplan = streams:team\nlimit = 2\nqueue.max_depth = 8\n"
         "queue.max_wait = 30\n" + key_line("team-key") +
         "[account.solo]\nplan = streams:solo\nlimit = 1\nqueue.max_depth = 0\n" +
         key_line("solo-key");
}

json stats(std::uint16_t mock_port) {
  http_client c(mock_port);
  auto r = c.call(verb::get, "/_stats", "");
  REQUIRE(r.status == 200);
  return r.json();
}

std::int64_t held(std::uint16_t port, const std::string& key) {
  http_client c(port);
  auto r = c.call(verb::get, "/account/concurrency", key);
  REQUIRE(r.status == 200);
  return r.json()["used_cost"].get<std::int64_t>();
}

std::string chat(const std::string& user, bool stream, const std::string& mock = "") {
  json body = {{"model", "mock-model"},
               {"messages", json::array({{{"role", "user"}, {"content", "hi"}}})},
               {"user", user},
               {"stream", stream}};
  if (!mock.empty()) body["mock"] = json::parse(mock);
  return body.dump();
}

// The request line, fields and body of a POST, for a raw connection.
std::string raw_post(const std::string& target, const std::string& key, const std::string& body) {
  return "POST " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + key +
         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

}  // namespace

TEST_CASE("gateway: streamed and whole answers pass through, the slot freed at their end",
          "[serve][gateway]") {
  mock_model_process mock({"--tokens", "5", "--tokens-per-s", "1000"});
  live_node node(gateway_section(mock.port) + accounts());
  http_client c(node.port);

  auto whole = c.call(verb::post, "/v1/chat/completions", "team-key", chat("u1", false));
  INFO(whole.body);
  REQUIRE(whole.status == 200);
  CHECK(whole.json()["choices"].size() == 1);
  CHECK(whole.headers["X-Request-Id"].size() > 0);
  CHECK(whole.headers["x-ratelimit-limit-concurrency"] == "2");
  CHECK(whole.headers["x-ratelimit-remaining-concurrency"] == "1");  // this request's slot

  auto streamed = c.call(verb::post, "/v1/chat/completions", "team-key", chat("u1", true));
  REQUIRE(streamed.status == 200);
  CHECK(streamed.header(bhttp::field::content_type).rfind("text/event-stream", 0) == 0);
  CHECK(streamed.body.find("data: [DONE]") != std::string::npos);
  std::size_t chunks = 0;
  for (auto at = streamed.body.find("data: {"); at != std::string::npos;
       at = streamed.body.find("data: {", at + 1))
    ++chunks;
  CHECK(chunks >= 5);  // a chunk per token, then the last one

  // The same keep-alive connection serves a third request: embeddings.
  auto embedded = c.call(verb::post, "/v1/embeddings", "team-key",
                         R"({"model":"mock-model","input":["a","b"],"user":"u1"})");
  REQUIRE(embedded.status == 200);
  CHECK(embedded.json()["data"].size() == 2);

  CHECK(held(node.port, "team-key") == 0);
  auto s = stats(mock.port);
  INFO(s.dump());
  CHECK(s["users"]["u1"]["completed"] == 3);
  // The upstream saw the gateway's key and never the customer's.
  CHECK(s["authorizations"].size() == 1);
  CHECK(s["authorizations"].contains("Bearer upstream-secret"));
  CHECK(s["paths"]["/v1/chat/completions"] == 2);  // the /v1 of the base URL is not doubled

  auto metrics = c.call(verb::get, "/metrics", "").body;
  CHECK(metrics.find("usher_gateway_calls_total{end=\"complete\"} 3\n") != std::string::npos);
  CHECK(metrics.find("usher_gateway_calls_open 0\n") != std::string::npos);
}

TEST_CASE("gateway: a per-token adaptive limit learns from the tokens each answer had", "[serve][gateway]") {
  // 5 tokens at 50 a second: at least 20 ms a token, slower than the 5 ms
  // target, however fast this machine; each answer that says its tokens
  // halves the limit (4, 2, 1), one that does not teaches nothing.
  mock_model_process mock({"--tokens", "5", "--tokens-per-s", "50"});
  live_node node(gateway_section(mock.port) +
                 "[account.team]\nplan = streams:team\nlimit = 4\nadaptive = aimd\n"
                 "adaptive.signal = per_token\nadaptive.target = 5ms\nadaptive.backoff = 0.5\n" +
                 key_line("team-key"));
  http_client c(node.port);
  auto limit = [&] {
    http_client q(node.port);
    auto r = q.call(verb::get, "/account/concurrency", "team-key");
    REQUIRE(r.status == 200);
    return r.json()["limit"].get<std::int64_t>();
  };
  auto embedded = c.call(verb::post, "/v1/embeddings", "team-key",
                         R"({"model":"mock-model","input":["a"],"user":"u1"})");
  REQUIRE(embedded.status == 200);  // its usage has no output tokens
  REQUIRE(eventually([&] { return held(node.port, "team-key") == 0; }));
  CHECK(limit() == 4);
  auto streamed = c.call(verb::post, "/v1/chat/completions", "team-key", chat("u1", true));
  REQUIRE(streamed.status == 200);  // a token per event
  CHECK(eventually([&] { return limit() == 2; }));
  auto whole = c.call(verb::post, "/v1/chat/completions", "team-key", chat("u1", false));
  REQUIRE(whole.status == 200);  // usage.completion_tokens
  CHECK(eventually([&] { return limit() == 1; }));
}

TEST_CASE("gateway: refusals come before any slot and never reach the upstream",
          "[serve][gateway]") {
  mock_model_process mock;
  live_node node("[node]\nmax_body = 100\n" + gateway_section(mock.port, "max_body = 4096\n") +
                 accounts());
  http_client c(node.port);

  auto error_of = [](const http_result& r) { return r.json()["error"]; };
  auto r = c.call(verb::post, "/v1/chat/completions", "team-key", "{\"model\": ");
  CHECK(r.status == 400);
  CHECK(error_of(r)["code"] == "malformed_json");
  r = c.call(verb::post, "/v1/chat/completions", "team-key", R"({"messages":[]})");
  CHECK(r.status == 400);
  CHECK(error_of(r)["param"] == "model");
  r = c.call(verb::post, "/v1/chat/completions", "team-key", R"({"model":42})");
  CHECK(r.status == 400);
  CHECK(error_of(r)["param"] == "model");
  r = c.call(verb::post, "/v1/chat/completions", "", chat("u", false));
  CHECK(r.status == 401);
  r = c.call(verb::post, "/v1/chat/completions", "wrong-key", chat("u", false));
  CHECK(r.status == 401);
  r = c.call(verb::get, "/v1/chat/completions", "team-key");
  CHECK(r.status == 405);
  http_client big(node.port);
  r = big.call(verb::post, "/v1/chat/completions", "team-key",
               R"({"model":"mock-model","pad":")" + std::string(5000, 'x') + "\"}");
  CHECK(r.status == 413);
  CHECK(r.json()["error"]["message"] == "Request body over 4096 bytes");
  // Up to the gateway's max_body, past the node's (which holds for /v1/admit).
  http_client fits(node.port);
  r = fits.call(verb::post, "/v1/chat/completions", "team-key",
                R"({"model":"mock-model","pad":")" + std::string(3000, 'x') + "\"}");
  CHECK(r.status == 200);
  r = fits.call(verb::post, "/v1/admit", "team-key",
                R"({"model":"mock-model","pad":")" + std::string(300, 'x') + "\"}");
  CHECK(r.status == 413);
  CHECK(stats(mock.port)["paths"].size() == 1);
  CHECK(held(node.port, "team-key") == 0);
}

TEST_CASE("gateway: a model without an upstream is 404 model_not_found, routed per model else",
          "[serve][gateway]") {
  mock_model_process a({"--tokens-per-s", "0"});
  mock_model_process b({"--tokens-per-s", "0"});
  live_node node("[gateway]\nupstream.alpha = http://127.0.0.1:" + std::to_string(a.port) +
                 "\nupstream.beta-1.5 = http://127.0.0.1:" + std::to_string(b.port) + "\n" +
                 accounts());
  http_client c(node.port);
  auto r = c.call(verb::post, "/v1/chat/completions", "team-key",
                  R"({"model":"gamma","messages":[]})");
  CHECK(r.status == 404);
  CHECK(r.json()["error"]["code"] == "model_not_found");
  CHECK(r.json()["error"]["param"] == "model");
  CHECK(c.call(verb::post, "/v1/chat/completions", "team-key",
               R"({"model":"alpha","messages":[]})").status == 200);
  CHECK(c.call(verb::post, "/v1/completions", "team-key",
               R"({"model":"beta-1.5","prompt":"x"})").status == 200);
  CHECK(stats(a.port)["paths"]["/v1/chat/completions"] == 1);
  CHECK(stats(b.port)["paths"]["/v1/completions"] == 1);

  // The multipart form of a transcription names its model in a field.
  std::string form =
      "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n"
      "Content-Type: audio/wav\r\n\r\nRIFF....\r\n--XyZ\r\nContent-Disposition: form-data; "
      "name=\"model\"\r\n\r\nbeta-1.5\r\n--XyZ--\r\n";
  bhttp::request<bhttp::string_body> req{verb::post, "/v1/audio/transcriptions", 11};
  req.set(bhttp::field::host, "127.0.0.1");
  req.set(bhttp::field::authorization, "Bearer team-key");
  req.set(bhttp::field::content_type, "multipart/form-data; boundary=XyZ");
  req.body() = form;
  auto t = c.request(req);
  CHECK(t.status == 200);
  CHECK(stats(b.port)["paths"]["/v1/audio/transcriptions"] == 1);

  auto models = c.call(verb::get, "/v1/models", "team-key");
  REQUIRE(models.status == 200);
  CHECK(models.json()["object"] == "list");
  CHECK(models.json()["data"].size() == 2);
  CHECK(models.json()["data"][0]["id"] == "alpha");
  CHECK(held(node.port, "team-key") == 0);
}

TEST_CASE("gateway: the upstream never sees more of an account at once than its limit",
          "[serve][gateway]") {
  mock_model_process mock({"--tokens", "8", "--tokens-per-s", "200"});
  // Two I/O threads: each call's upstream socket, timer and pooled
  // connections move between the connections' strands (TSan checks it).
  live_node node("[node]\nio_threads = 2\n" + gateway_section(mock.port) + accounts());
  std::vector<std::thread> clients;
  std::vector<unsigned> statuses(10);
  for (std::size_t i = 0; i < statuses.size(); ++i)
    clients.emplace_back([&, i] {
      http_client c(node.port);
      statuses[i] = c.call(verb::post, "/v1/chat/completions", "team-key",
                           chat("team", i % 2 == 0)).status;
    });
  for (auto& t : clients) t.join();
  for (auto s : statuses) CHECK(s == 200);  // the queue took the ones over the limit
  auto s = stats(mock.port);
  INFO(s.dump());
  CHECK(s["users"]["team"]["requests"] == 10);
  // At most the limit (2 when the clients overlap; a loaded machine may
  // start them one after another: a loaded run failed an exact 2 once).
  CHECK(s["users"]["team"]["max_in_flight"] <= 2);
  CHECK(held(node.port, "team-key") == 0);
}

TEST_CASE("gateway: 429 and 408 in OpenAI's shape, with Retry-After and retry-after-ms",
          "[serve][gateway]") {
  mock_model_process mock({"--tokens-per-s", "0"});
  live_node node(gateway_section(mock.port) + accounts() +
                 "[account.short]\nplan = streams:solo\nlimit = 1\nqueue.max_depth = 1\n"
                 "queue.max_wait = 0.2\n" + key_line("short-key"));
  // Hold solo's one slot with a stalled stream.
  raw_conn holder(node.port);
  REQUIRE(holder.send(raw_post("/v1/chat/completions", "solo-key",
                               chat("solo", true, R"({"stall_after": 1})"))));
  REQUIRE(eventually([&] { return held(node.port, "solo-key") == 1; }));
  http_client c(node.port);
  auto r = c.call(verb::post, "/v1/chat/completions", "solo-key", chat("solo", false));
  CHECK(r.status == 429);
  CHECK(r.json()["error"]["type"] == "rate_limit_error");
  CHECK(r.headers["x-ratelimit-remaining-concurrency"] == "0");

  raw_conn short_holder(node.port);
  REQUIRE(short_holder.send(raw_post("/v1/chat/completions", "short-key",
                                     chat("short", true, R"({"stall_after": 1})"))));
  REQUIRE(eventually([&] { return held(node.port, "short-key") == 1; }));
  r = c.call(verb::post, "/v1/chat/completions", "short-key", chat("short", false));
  CHECK(r.status == 408);
  CHECK(r.json()["error"]["type"] == "timeout_error");
  CHECK(r.header(bhttp::field::retry_after) == "1");
  CHECK(r.headers["retry-after-ms"] == "1000");
  // Neither refusal reached the upstream.
  CHECK(stats(mock.port)["users"]["solo"]["requests"] == 1);
  CHECK(stats(mock.port)["users"]["short"]["requests"] == 1);
}

TEST_CASE("gateway: the slot is freed when the upstream fails, stalls, or the client leaves",
          "[serve][gateway]") {
  mock_model_process mock({"--tokens", "4", "--tokens-per-s", "1000"});
  live_node node(gateway_section(mock.port, "idle_timeout = 300ms\n") + accounts());
  http_client c(node.port);

  SECTION("an upstream error is relayed unchanged") {
    auto r = c.call(verb::post, "/v1/chat/completions", "team-key",
                    chat("e", false, R"({"status": 503})"));
    CHECK(r.status == 503);
    CHECK(r.json().contains("error"));
    CHECK(held(node.port, "team-key") == 0);
  }
  SECTION("a stream cut by the upstream ends the answer short") {
    raw_conn conn(node.port);
    REQUIRE(conn.send(raw_post("/v1/chat/completions", "team-key",
                               chat("d", true, R"({"drop_after": 2})"))));
    auto r = conn.read_response();  // the chunked answer never ends properly
    CHECK(!r.has_value());
    CHECK(eventually([&] { return held(node.port, "team-key") == 0; }));
  }
  SECTION("an answer cut before its first byte is a whole 502") {
    auto r = c.call(verb::post, "/v1/chat/completions", "team-key",
                    chat("d0", true, R"({"drop_after": 0})"));
    CHECK(r.status == 502);
    CHECK(r.json()["error"]["code"] == "upstream_unavailable");
    CHECK(held(node.port, "team-key") == 0);
  }
  SECTION("a stalled stream is cut after idle_timeout") {
    raw_conn conn(node.port);
    REQUIRE(conn.send(raw_post("/v1/chat/completions", "team-key",
                               chat("s", true, R"({"stall_after": 1})"))));
    CHECK(!conn.read_response().has_value());  // closed without the last chunk
    CHECK(held(node.port, "team-key") == 0);
    CHECK(eventually([&] { return stats(mock.port)["users"]["s"]["in_flight"] == 0; }));
  }
  SECTION("a client that leaves mid-stream cancels the upstream request") {
    {
      raw_conn conn(node.port);
      REQUIRE(conn.send(raw_post("/v1/chat/completions", "team-key",
                                 chat("gone", true, R"({"tokens": 100000, "tokens_per_s": 50})"))));
      REQUIRE(eventually([&] { return stats(mock.port)["users"]["gone"]["in_flight"] == 1; }));
      CHECK(held(node.port, "team-key") == 1);
    }  // closed
    CHECK(eventually([&] { return held(node.port, "team-key") == 0; }));
    CHECK(eventually([&] { return stats(mock.port)["users"]["gone"]["client_gone"] == 1; }));
    CHECK(c.call(verb::get, "/metrics", "").body.find(
              "usher_gateway_calls_total{end=\"client_gone\"} 1\n") != std::string::npos);
  }
  SECTION("an upstream nobody listens on is 502, its slot freed") {
    live_node lonely(gateway_section(1) + accounts());  // port 1: refused
    http_client l(lonely.port);
    auto r = l.call(verb::post, "/v1/chat/completions", "team-key", chat("x", false));
    CHECK(r.status == 502);
    CHECK(r.json()["error"]["code"] == "upstream_unavailable");
    CHECK(held(lonely.port, "team-key") == 0);
  }
}

TEST_CASE("gateway: Expect 100-continue gets its interim answer before the body is sent",
          "[serve][gateway]") {
  // curl asks so for a large upload (an audio file) and otherwise waits a
  // second; the interim line comes only for a body the route takes.
  mock_model_process mock;
  live_node node(gateway_section(mock.port, "max_body = 4096\n") + accounts());
  auto body = chat("exp", false);
  auto head = [&](std::size_t length) {
    return "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
           "team-key\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n"
           "Content-Length: " + std::to_string(length) + "\r\n\r\n";
  };
  raw_conn c(node.port);
  REQUIRE(c.send(head(body.size())));
  auto interim = c.read_response();
  REQUIRE(interim);
  CHECK(interim->status == 100);
  REQUIRE(c.send(body));
  auto answer = c.read_response();
  REQUIRE(answer);
  CHECK(answer->status == 200);
  // The next request on the connection, head and body at once: no interim.
  REQUIRE(c.send(head(body.size()) + body));
  auto second = c.read_response();
  REQUIRE(second);
  CHECK(second->status == 200);
  // Over the route's max_body: the final 413 at once, no 100.
  raw_conn big(node.port);
  REQUIRE(big.send(head(5000)));
  auto refused = big.read_response();
  REQUIRE(refused);
  CHECK(refused->status == 413);
  // The node's own routes answer it too.
  raw_conn admit(node.port);
  REQUIRE(admit.send("POST /v1/admit HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer team-key\r\n"
                     "Expect: 100-continue\r\nContent-Length: 2\r\n\r\n"));
  auto admit_interim = admit.read_response();
  REQUIRE(admit_interim);
  CHECK(admit_interim->status == 100);
  REQUIRE(admit.send("{}"));
  auto granted = admit.read_response();
  REQUIRE(granted);
  CHECK(granted->status == 200);
}

TEST_CASE("gateway: a config without [gateway] keeps the OpenAI routes unknown",
          "[serve][gateway]") {
  live_node node(accounts());
  http_client c(node.port);
  auto r = c.call(verb::post, "/v1/chat/completions", "team-key", chat("u", false));
  CHECK(r.status == 404);
  CHECK(r.json()["error"]["code"] == "unknown_route");
}

TEST_CASE("gateway: a bad [gateway] section is refused naming its line and key",
          "[serve][gateway]") {
  auto dir = usher::testing::scratch("gateway-config");
  std::filesystem::create_directories(dir);
  auto check = [&](const std::string& gateway) {
    auto file = dir / "node.ini";
    std::ofstream(file) << gateway << accounts();
    return usher::testing::run_usher("serve --check --config '" + file.string() + "'");
  };
  auto r = check("[gateway]\nupstream = https://api.example.com\n");
  CHECK(r.code == 2);
  CHECK(r.err.find("node.ini:2") != std::string::npos);
  CHECK(r.err.find("https upstreams are not supported") != std::string::npos);
  r = check("[gateway]\nupstream = http://127.0.0.1:8000\nconect_timeout = 5s\n");
  CHECK(r.code == 2);
  CHECK(r.err.find("node.ini:3") != std::string::npos);
  CHECK(r.err.find("unknown key") != std::string::npos);
  r = check("[gateway]\nidle_timeout = 5 parsecs\n");
  CHECK(r.code == 2);
  CHECK(r.err.find("idle_timeout") != std::string::npos);
  r = check("[gateway]\nconnect_timeout = 1s\n");
  CHECK(r.code == 2);
  CHECK(r.err.find("no upstream") != std::string::npos);
  r = check("[gateway]\nupstream = http://127.0.0.1:8000\nservice_tier.priority = 1001\n");
  CHECK(r.code == 2);
  CHECK(r.err.find("node.ini:3") != std::string::npos);
  CHECK(r.err.find("service_tier.priority") != std::string::npos);
  r = check("[gateway]\nupstream = http://127.0.0.1:8000\nservice_tier.flex = 0\nservice_tier.priority = 2\n");
  CHECK(r.code == 0);
  CHECK(r.out.find("gateway: service tiers flex = priority 0, priority = priority 2") != std::string::npos);
  r = check("[gateway]\nupstream.m1 = http://10.0.0.5:8000\n");
  CHECK(r.code == 0);
  CHECK(r.out.find("gateway: only the models listed; m1 to http://10.0.0.5:8000") !=
        std::string::npos);
}

TEST_CASE("gateway: a requests-per-minute rate answers with OpenAI's x-ratelimit fields and refuses 429 request_rate",
          "[serve][gateway]") {
  mock_model_process mock({"--tokens", "3", "--tokens-per-s", "1000"});
  live_node node(gateway_section(mock.port) +
                 "[account.rated]\nplan = weighted\nlimit = 5\nrequests_per_minute = 2\n" +
                 key_line("rated-key"));
  http_client c(node.port);
  auto first = c.call(verb::post, "/v1/chat/completions", "rated-key", chat("u1", false));
  REQUIRE(first.status == 200);
  CHECK(first.headers["x-ratelimit-limit-requests"] == "2");
  CHECK(first.headers["x-ratelimit-remaining-requests"] == "1");
  // One request short of full at 2 a minute: full again within 30 s.
  auto reset = std::string(first.headers["x-ratelimit-reset-requests"]);
  REQUIRE(reset.size() > 2);
  CHECK(reset.substr(reset.size() - 2) == "ms");
  CHECK(std::stoll(reset) > 0);
  CHECK(std::stoll(reset) <= 30000);
  CHECK(first.headers.count("x-ratelimit-limit-tokens") == 0);  // no token rate in this plan
  REQUIRE(c.call(verb::post, "/v1/chat/completions", "rated-key", chat("u1", false)).status == 200);
  auto third = c.call(verb::post, "/v1/chat/completions", "rated-key", chat("u1", false));
  CHECK(third.status == 429);
  CHECK(third.json()["error"]["code"] == "request_rate");
  CHECK(third.json()["error"]["type"] == "rate_limit_error");
  CHECK(third.headers["x-ratelimit-remaining-requests"] == "0");
  CHECK(std::stoi(third.header(bhttp::field::retry_after)) >= 1);
  CHECK(stats(mock.port)["requests"] == 2);  // the refused one never reached the model
}

TEST_CASE("gateway: a model's own rate refuses that model only, and its x-ratelimit fields are the model's",
          "[serve][gateway]") {
  mock_model_process mock({"--tokens", "3", "--tokens-per-s", "1000"});
  live_node node(gateway_section(mock.port) +
                 "[plan.per-model-rates]\npreset = weighted\nlimit = 5\nrequests_per_minute = 5\n"
                 "requests_per_minute.mock-model = 1\n"
                 "[account.modelrated]\nplan = per-model-rates\n" + key_line("model-rated-key"));
  http_client c(node.port);
  auto first = c.call(verb::post, "/v1/chat/completions", "model-rated-key", chat("u1", false));
  REQUIRE(first.status == 200);
  CHECK(first.headers["x-ratelimit-limit-requests"] == "1");
  CHECK(first.headers["x-ratelimit-remaining-requests"] == "0");
  auto second = c.call(verb::post, "/v1/chat/completions", "model-rated-key", chat("u1", false));
  CHECK(second.status == 429);
  CHECK(second.json()["error"]["code"] == "request_rate");
  // One a minute: the next one in 60 s at most.
  auto retry = std::stoi(second.header(bhttp::field::retry_after));
  CHECK(retry >= 1);
  CHECK(retry <= 60);
  // Another model asks the account's rate alone (4 of 5 left after the first).
  json other = json::parse(chat("u1", false));
  other["model"] = "other-model";
  auto third = c.call(verb::post, "/v1/chat/completions", "model-rated-key", other.dump());
  CHECK(third.status == 200);
  CHECK(third.headers["x-ratelimit-limit-requests"] == "5");
  CHECK(third.headers["x-ratelimit-remaining-requests"] == "3");
  CHECK(stats(mock.port)["requests"] == 2);
}

TEST_CASE("gateway: tokens per minute count a request's characters and the answer it reserves",
          "[serve][gateway]") {
  mock_model_process mock({"--tokens", "3", "--tokens-per-s", "1000"});
  live_node node(gateway_section(mock.port) +
                 "[account.tpm]\nplan = weighted\nlimit = 5\ntokens_per_minute = 1000\n" +
                 key_line("tpm-key"));
  http_client c(node.port);
  auto ask = [&](int max_tokens) {
    json body = json::parse(chat("u1", false));
    body["max_tokens"] = max_tokens;
    return std::make_pair(c.call(verb::post, "/v1/chat/completions", "tpm-key", body.dump()),
                          (body.dump().size() + 3) / 4 + max_tokens);
  };
  auto [first, cost] = ask(600);
  REQUIRE(first.status == 200);
  CHECK(first.headers["x-ratelimit-limit-tokens"] == "1000");
  // The bucket refills while the request runs: at least what is left, at most a few tokens more.
  auto left = std::stoll(std::string(first.headers["x-ratelimit-remaining-tokens"]));
  CHECK(left >= static_cast<long long>(1000 - cost));
  CHECK(left < static_cast<long long>(1000 - cost) + 50);
  // Another 600 does not fit what is left: 429 token_rate, never sent to the model.
  auto [second, cost2] = ask(600);
  (void)cost2;
  CHECK(second.status == 429);
  CHECK(second.json()["error"]["code"] == "token_rate");
  CHECK(std::stoi(second.header(bhttp::field::retry_after)) >= 1);
  // A small one fits.
  CHECK(ask(10).first.status == 200);
  CHECK(stats(mock.port)["requests"] == 2);
}

TEST_CASE("gateway: GET /v1/models lists the default upstream's models, then those routed one by one",
          "[serve][gateway]") {
  mock_model_process fallback({"--models", "m1,alpha"});
  mock_model_process a({"--tokens-per-s", "0"});
  live_node node(gateway_section(fallback.port, "upstream.alpha = http://127.0.0.1:" +
                                                    std::to_string(a.port) +
                                                    "\nupstream.beta = http://127.0.0.1:" +
                                                    std::to_string(a.port) + "\n") +
                 accounts());
  http_client c(node.port);
  auto models = c.call(verb::get, "/v1/models", "team-key");
  REQUIRE(models.status == 200);
  auto data = models.json()["data"];
  REQUIRE(data.size() == 3);  // alpha once: the upstream listed it
  CHECK(data[0]["id"] == "m1");
  CHECK(data[0]["owned_by"] == "mock");  // as the upstream says it
  CHECK(data[1]["id"] == "alpha");
  CHECK(data[2]["id"] == "beta");
  CHECK(data[2]["owned_by"] == "usher");
  CHECK(stats(fallback.port)["paths"]["/v1/models"] == 1);
  CHECK(held(node.port, "team-key") == 0);  // no admission

  // A default upstream that cannot be asked: 502 in OpenAI's shape, naming it.
  std::uint16_t closed;
  {
    mock_model_process gone;
    closed = gone.port;
  }
  live_node lonely(gateway_section(closed) + accounts());
  http_client d(lonely.port);
  auto r = d.call(verb::get, "/v1/models", "team-key");
  CHECK(r.status == 502);
  CHECK(r.json()["error"]["code"] == "upstream_unavailable");
  CHECK(std::string(r.json()["error"]["message"]).find("127.0.0.1:" + std::to_string(closed)) !=
        std::string::npos);
  CHECK(d.call(verb::get, "/v1/models", "wrong-key").status == 401);
}

TEST_CASE("gateway: a request's service_tier asks for its priority level while it waits for a model's capacity",
          "[serve][gateway]") {
  // Answers take 2 s: long enough to see who holds the capacity meanwhile.
  mock_model_process mock({"--tokens", "10", "--tokens-per-s", "5"});
  // Two accounts share mock-model's capacity of 1; acme holds it through
  // /v1/admit while beta (no tier) and then acme ("priority": level 2) wait.
  live_node node(gateway_section(mock.port, "service_tier.flex = 0\nservice_tier.priority = 2\n") +
                 "[plan.shared]\npreset = per-model\nmodel_capacity.mock-model = 1\n"
                 "queue.max_depth = 5\nqueue.max_wait = 30\npriority.max = 3\n"
                 "[account.acme]\nplan = shared\n" + key_line("acme-key") +
                 "[account.beta]\nplan = shared\n" + key_line("beta-key"));
  auto held = node.admit("acme-key", {{"model", "mock-model"}});
  REQUIRE(held.status == 200);
  raw_conn older(node.port);
  REQUIRE(older.send(raw_post("/v1/chat/completions", "beta-key", chat("beta", false))));
  REQUIRE(eventually([&] { return node.metric("usher_queued{account=\"beta\"}") == 1; }));
  auto body = json::parse(chat("acme", false));
  body["service_tier"] = "priority";
  raw_conn urgent(node.port);
  REQUIRE(urgent.send(raw_post("/v1/chat/completions", "acme-key", body.dump())));
  REQUIRE(eventually([&] { return node.metric("usher_queued{account=\"acme\"}") == 1; }));
  CHECK(node.release("acme-key", held.json()["lease"]).status == 200);
  // The freed unit goes to acme's request, beta's older one keeps waiting.
  CHECK(eventually([&] { return node.metric("usher_queued{account=\"acme\"}") == 0; }));
  CHECK(node.metric("usher_queued{account=\"beta\"}") == 1);
  auto first = urgent.read_response();
  REQUIRE(first);
  CHECK(first->status == 200);
  // beta's turn comes once acme's answer ended.
  auto second = older.read_response();
  REQUIRE(second);
  CHECK(second->status == 200);
}

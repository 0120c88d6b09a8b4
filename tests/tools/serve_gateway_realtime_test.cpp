// The gateway's realtime sessions (issue #12 point 5, docs/GATEWAY.md
// "Realtime sessions") against real processes: `usher serve` with a
// [gateway] in front of `usher mock-model`, whose /v1/realtime speaks a
// subset of the OpenAI Realtime API and counts the responses it generates
// (GET /_stats "realtime_responses"). A session holds the account's
// connection slot, each response a request slot from its response.create
// (or, for one the server began itself, its response.created) to its
// response.done; nothing is held once a session ends, however it ends.
#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "support/live_node.hpp"
#include "support/mock_model_process.hpp"
#include "support/usher_cli.hpp"

using usher::testing::eventually;
using usher::testing::http_client;
using usher::testing::key_line;
using usher::testing::live_node;
using usher::testing::mock_model_process;
using usher::testing::ws_client;
using verb = boost::beast::http::verb;
using nlohmann::json;

namespace {

const std::string realtime_target = "/v1/realtime?model=mock-model";

// tts: the exclusive family, one request at a time over at most 5
// connections; stt: session-rate, one new session a minute.
std::string realtime_config(std::uint16_t upstream_port, const std::string& gateway_extra = "") {
  return "[gateway]\nupstream = http://127.0.0.1:" + std::to_string(upstream_port) +
         "/v1\nupstream_key = upstream-secret\n" + gateway_extra +
         "[account.tts]\nplan = exclusive\n" + key_line("tts-key") +
         "[account.stt]\nplan = session-rate\nsessions_per_minute = 1\n" + key_line("stt-key");
}

std::int64_t held(std::uint16_t port, const std::string& key) {
  http_client c(port);
  auto r = c.call(verb::get, "/account/concurrency", key);
  REQUIRE(r.status == 200);
  return r.json()["used_cost"].get<std::int64_t>();
}

// The next event of `type`, skipping the others; null when the session ended.
json next_of(ws_client& ws, const std::string& type) {
  for (;;) {
    auto event = ws.read();
    if (event.is_null() || event["type"] == type) return event;
  }
}

json response_create(const std::string& event_id, long tokens, double per_s = 1000) {
  json e = {{"type", "response.create"},
            {"mock", {{"tokens", tokens}, {"tokens_per_s", per_s}}}};
  if (!event_id.empty()) e["event_id"] = event_id;
  return e;
}

// A session on the gateway, its session.created read.
void open_session(ws_client& ws) {
  INFO(ws.body);
  REQUIRE(ws.status == 101);
  auto created = ws.read();
  REQUIRE(created["type"] == "session.created");
  CHECK(created["session"]["model"] == "mock-model");
}

}  // namespace

TEST_CASE("gateway realtime: frames pass through, each response holds a slot until it is done",
          "[serve][gateway]") {
  mock_model_process mock;
  live_node node(realtime_config(mock.port));
  auto realtime = [&] { return mock.stats()["realtime_responses"]; };

  ws_client a(node.port, "tts-key", realtime_target, {{"OpenAI-Beta", "realtime=v1"}});
  open_session(a);
  CHECK(a.answer["X-Request-Id"].size() > 0);
  CHECK(held(node.port, "tts-key") == 0);  // a session alone holds no request slot

  // A long response: its slot is held while it runs.
  auto created = a.exchange(response_create("c1", 100000, 50));
  REQUIRE(created["type"] == "response.created");
  auto response_id = created["response"]["id"];
  CHECK(held(node.port, "tts-key") == 1);

  // The account's one request slot is in use: another session's
  // response.create is answered with an error event naming it, and never
  // reaches the model server.
  ws_client b(node.port, "tts-key", realtime_target);
  open_session(b);
  auto refused = b.exchange(response_create("c2", 3));
  INFO(refused.dump());
  REQUIRE(refused["type"] == "error");
  CHECK(refused["error"]["type"] == "rate_limit_error");
  CHECK(refused["error"]["event_id"] == "c2");
  CHECK(realtime()["requests"] == 1);
  // So is an HTTP request of the account (one pool for both doors).
  CHECK(node.admit("tts-key", json::object()).status == 429);

  // The client cancels: the slot is free at the response's response.done.
  a.send(R"({"type":"response.cancel"})");
  auto done = next_of(a, "response.done");
  CHECK(done["response"]["id"] == response_id);
  CHECK(done["response"]["status"] == "cancelled");
  CHECK(eventually([&] { return held(node.port, "tts-key") == 0; }));

  // Now b's response runs (no event_id of its own: the gateway gives the
  // response.create one, the frame otherwise as sent), whole.
  b.send(response_create("", 3).dump());
  CHECK(next_of(b, "response.created")["type"] == "response.created");
  CHECK(next_of(b, "response.done")["response"]["status"] == "completed");
  CHECK(eventually([&] { return held(node.port, "tts-key") == 0; }));

  // Any other frame passes unchanged both ways, binary ones too.
  const std::string audio("\x00\x01\xfe\xff audio", 10);
  b.send(audio, false);
  auto echoed = b.read_frame();
  REQUIRE(echoed);
  CHECK(echoed->first == audio);
  CHECK_FALSE(echoed->second);
  // A text frame that is no JSON object is not passed on (a lenient model
  // server could read a response.create in it): an error event instead.
  for (auto bad : {R"({"type":"response.create"} // more)", "not json", "[1]"}) {
    b.send(bad);
    auto invalid = b.read();
    CHECK(invalid["type"] == "error");
    CHECK(invalid["error"]["code"] == "invalid_event");
  }
  // A response.create in a binary frame is admitted like one in a text frame
  // (the mock only echoes binary frames back: the slot stays taken).
  auto binary_create = response_create("bin", 2).dump();
  b.send(binary_create, false);
  auto bin_echo = b.read_frame();
  REQUIRE(bin_echo);
  CHECK_FALSE(bin_echo->second);
  CHECK(held(node.port, "tts-key") == 1);
  auto echo = b.exchange({{"type", "conversation.item.create"}, {"item", {{"id", "x"}}}});
  CHECK(echo["data"] == R"({"item":{"id":"x"},"type":"conversation.item.create"})");

  a.close();
  b.close();
  auto s = mock.stats();
  INFO(s.dump());
  CHECK(s["realtime_responses"]["max_in_flight"] == 1);
  CHECK(s["realtime_responses"]["requests"] == 2);
  // The model server saw the gateway's key, never the customer's.
  CHECK(s["authorizations"].size() == 1);
  CHECK(s["authorizations"].contains("Bearer upstream-secret"));
  CHECK(eventually([&] { return mock.stats()["in_flight"] == 0; }));
}

TEST_CASE("gateway realtime: five sessions of one account never run two responses at once",
          "[serve][gateway]") {
  mock_model_process mock;
  live_node node(realtime_config(mock.port));
  std::vector<std::unique_ptr<ws_client>> sessions;
  for (int i = 0; i < 5; ++i) {
    sessions.push_back(std::make_unique<ws_client>(node.port, "tts-key", realtime_target));
    open_session(*sessions.back());
  }
  // A sixth connection is over 5 x concurrency: refused before the model
  // server hears of it.
  auto sixth = http_client(node.port).upgrade("tts-key", realtime_target);
  CHECK(sixth.status == 429);
  CHECK(sixth.json()["error"]["code"] == "connection_cap");

  // Each session asks for responses in turn from its own thread; every
  // answer is a whole response or a refusal.
  std::atomic<int> completed{0}, refusals{0};
  std::vector<std::thread> threads;
  for (auto& s : sessions)
    threads.emplace_back([&, ws = s.get()] {
      for (int round = 0; round < 20; ++round) {
        auto first = ws->exchange(response_create("", 2));
        if (first["type"] == "error") {
          ++refusals;
          continue;
        }
        if (next_of(*ws, "response.done")["response"]["status"] == "completed") ++completed;
      }
    });
  for (auto& t : threads) t.join();
  CHECK(completed + refusals == 100);
  CHECK(completed >= 1);
  auto s = mock.stats()["realtime_responses"];
  INFO(s.dump());
  CHECK(s["max_in_flight"] == 1);  // the account's limit, at the model server
  CHECK(s["requests"] == completed.load());
  CHECK(eventually([&] { return held(node.port, "tts-key") == 0; }));
  for (auto& ws : sessions) ws->close();
  CHECK(mock.stats()["paths"]["/v1/realtime"] == 5);
}

TEST_CASE("gateway realtime: a session that ends mid-response frees its slot at once",
          "[serve][gateway]") {
  mock_model_process mock;
  live_node node(realtime_config(mock.port, "idle_timeout = 300ms\n"));
  auto realtime = [&] { return mock.stats()["realtime_responses"]; };

  SECTION("the client closes: the model server's session is closed too") {
    ws_client ws(node.port, "tts-key", realtime_target);
    open_session(ws);
    CHECK(ws.exchange(response_create("", 100000, 50))["type"] == "response.created");
    CHECK(held(node.port, "tts-key") == 1);
    ws.close();
    CHECK(eventually([&] { return held(node.port, "tts-key") == 0; }));
    CHECK(eventually([&] { return realtime()["client_gone"] == 1; }));
  }
  SECTION("the client's connection is lost") {
    ws_client ws(node.port, "tts-key", realtime_target);
    open_session(ws);
    CHECK(ws.exchange(response_create("", 100000, 50))["type"] == "response.created");
    ws.drop();
    CHECK(eventually([&] { return held(node.port, "tts-key") == 0; }));
    CHECK(eventually([&] { return realtime()["client_gone"] == 1; }));
  }
  SECTION("the model server drops the session: the client gets 1011") {
    ws_client ws(node.port, "tts-key", realtime_target, {{"X-Mock-Drop-After", "2"}});
    open_session(ws);
    ws.send(response_create("", 100000, 50).dump());
    CHECK(next_of(ws, "no such type").is_null());
    CHECK(ws.close_code == 1011);
    CHECK(ws.close_reason == "The model server broke the session");
    CHECK(eventually([&] { return held(node.port, "tts-key") == 0; }));
  }
  SECTION("a response that stalls past idle_timeout is no longer counted") {
    ws_client ws(node.port, "tts-key", realtime_target);
    open_session(ws);
    json stalled = response_create("s1", 10);
    stalled["mock"]["stall_after"] = 1;
    CHECK(ws.exchange(stalled)["type"] == "response.created");
    auto error = next_of(ws, "error");
    CHECK(error["error"]["code"] == "upstream_stalled");
    CHECK(eventually([&] { return held(node.port, "tts-key") == 0; }));
    CHECK_FALSE(ws.closed);  // the session itself stays open
  }
  auto metrics = http_client(node.port).call(verb::get, "/metrics", "").body;
  CHECK(metrics.find("usher_ws_open 0\n") != std::string::npos);
}

TEST_CASE("gateway realtime: refusals at the upgrade, before the model server is asked",
          "[serve][gateway]") {
  mock_model_process mock;
  live_node node(realtime_config(mock.port));

  // Session-rate: over one new session a minute, the socket opens and is
  // closed with 1008 and the seed's reason; the model server saw one.
  ws_client first(node.port, "stt-key", realtime_target);
  open_session(first);
  ws_client second(node.port, "stt-key", realtime_target);
  REQUIRE(second.status == 101);
  CHECK(second.read().is_null());
  CHECK(second.close_code == 1008);
  CHECK(second.close_reason == "Unauthorized connection: Too many concurrent sessions");
  first.close();
  CHECK(mock.stats()["paths"]["/v1/realtime"] == 1);

  CHECK(http_client(node.port).upgrade("wrong-key", realtime_target).status == 401);
  auto empty_model = http_client(node.port).upgrade("tts-key", "/v1/realtime?model=");
  CHECK(empty_model.status == 400);
  CHECK(empty_model.json()["error"]["param"] == "model");

  // The model server's own refusal reaches the client as it was.
  auto refused =
      http_client(node.port).upgrade("tts-key", realtime_target, {{"X-Mock-Status", "503"}});
  CHECK(refused.status == 503);
  CHECK(refused.headers["X-Request-Id"].size() > 0);
  CHECK(refused.json()["error"]["type"].is_string());
  CHECK(held(node.port, "tts-key") == 0);

  // No model server: 502, and the connection slot is not kept.
  mock.stop();
  for (int i = 0; i < 6; ++i) {  // more than the 5 connections the account may hold
    auto down = http_client(node.port).upgrade("tts-key", realtime_target);
    CHECK(down.status == 502);
    CHECK(down.json()["error"]["code"] == "upstream_unavailable");
  }
  auto metrics = http_client(node.port).call(verb::get, "/metrics", "").body;
  CHECK(metrics.find("usher_ws_connections{account=\"tts\"} 0\n") != std::string::npos);
}

TEST_CASE("gateway realtime: a model without an upstream is 404, the admission socket stays",
          "[serve][gateway]") {
  mock_model_process mock;
  live_node node("[gateway]\nupstream.mock-model = http://127.0.0.1:" + std::to_string(mock.port) +
                 "\n[account.tts]\nplan = exclusive\n" + key_line("tts-key"));
  auto unknown = http_client(node.port).upgrade("tts-key", "/v1/realtime?model=other");
  CHECK(unknown.status == 404);
  CHECK(unknown.json()["error"]["code"] == "model_not_found");
  // Without a model in the query, /v1/realtime is the node's own admission
  // socket (docs/SERVE.md), gateway or not.
  ws_client admission(node.port, "tts-key");
  REQUIRE(admission.status == 101);
  auto admitted = admission.exchange({{"type", "request"}});
  CHECK(admitted["type"] == "admitted");
  admission.close();
  CHECK(mock.stats()["paths"].size() == 0);
}

TEST_CASE("gateway realtime: a response the server begins itself is admitted, or cancelled",
          "[serve][gateway]") {
  mock_model_process mock;
  live_node node(realtime_config(mock.port));
  auto server_vad = [](ws_client& ws) {
    ws.send(R"({"type":"session.update","session":{"turn_detection":{"type":"server_vad"}}})");
    REQUIRE(next_of(ws, "session.updated")["type"] == "session.updated");
  };

  ws_client a(node.port, "tts-key", realtime_target, {{"X-Mock-Tokens", "100000"}});
  open_session(a);
  server_vad(a);
  // The end of a spoken turn: the model server begins a response without a
  // response.create. The gateway admits it when it sees response.created.
  a.send(R"({"type":"input_audio_buffer.commit"})");
  auto created = next_of(a, "response.created");
  REQUIRE(created["type"] == "response.created");
  CHECK(eventually([&] { return held(node.port, "tts-key") == 1; }));

  // Another session's turn while the account's slot is in use: its response
  // is refused, cancelled at the model server, and the client told.
  ws_client b(node.port, "tts-key", realtime_target);
  open_session(b);
  server_vad(b);
  b.send(R"({"type":"input_audio_buffer.commit"})");
  auto b_created = next_of(b, "response.created");
  REQUIRE(b_created["type"] == "response.created");
  auto error = next_of(b, "error");
  INFO(error.dump());
  CHECK(error["error"]["type"] == "rate_limit_error");
  auto b_done = next_of(b, "response.done");
  CHECK(b_done["response"]["id"] == b_created["response"]["id"]);
  CHECK(b_done["response"]["status"] == "cancelled");
  CHECK(held(node.port, "tts-key") == 1);  // still a's alone

  // a's response ends: its slot is free.
  a.send(R"({"type":"response.cancel"})");
  CHECK(next_of(a, "response.done")["response"]["id"] == created["response"]["id"]);
  CHECK(eventually([&] { return held(node.port, "tts-key") == 0; }));
  a.close();
  b.close();
  auto s = mock.stats()["realtime_responses"];
  INFO(s.dump());
  CHECK(s["requests"] == 2);
  CHECK(s["cancelled"] == 2);
}

TEST_CASE("gateway realtime: a drain closes both sides with 1001 and the node exits 0",
          "[serve][gateway][drain]") {
  mock_model_process mock;
  // A drain waits up to drain_timeout for the account's slots: they go with
  // the session at once, so the node does not wait.
  live_node node("[node]\ndrain_timeout = 60s\n" + realtime_config(mock.port));
  ws_client ws(node.port, "tts-key", realtime_target);
  open_session(ws);
  CHECK(ws.exchange(response_create("", 100000, 50))["type"] == "response.created");
  REQUIRE(::kill(node.pid(), SIGTERM) == 0);
  CHECK(next_of(ws, "no such type").is_null());
  CHECK(ws.close_code == 1001);
  // The model server's session was closed too (a close frame: not client_gone).
  CHECK(eventually([&] { return mock.stats()["in_flight"] == 0; }));
  CHECK(mock.stats()["realtime_responses"]["in_flight"] == 0);
  // The session's slots went with it: nothing holds the node back.
  REQUIRE(eventually([&] { return !node.alive(); }, std::chrono::seconds(30)));
  CHECK(node.stop() == 0);
  INFO(node.stopped_stderr);
  CHECK(node.stopped_stderr.find("drained: no lease held") != std::string::npos);
}

TEST_CASE("gateway realtime: a key given as the subprotocol openai-insecure-api-key.KEY",
          "[serve][gateway]") {
  // What the OpenAI SDK's client for runtimes with a global WebSocket
  // (browsers) sends instead of Authorization. The answer names the other
  // protocol it offered: a WHATWG WebSocket fails the connection otherwise.
  mock_model_process mock;
  live_node node(realtime_config(mock.port));
  const std::string offered = "realtime, openai-insecure-api-key.tts-key";
  ws_client ws(node.port, "", realtime_target, {{"Sec-WebSocket-Protocol", offered}});
  open_session(ws);
  CHECK(ws.answer["Sec-WebSocket-Protocol"] == "realtime");
  CHECK(ws.exchange(response_create("", 2))["type"] == "response.created");
  CHECK(next_of(ws, "response.done")["response"]["status"] == "completed");
  ws.close();
  // The admission socket takes it too.
  ws_client admission(node.port, "", "/v1/realtime", {{"Sec-WebSocket-Protocol", offered}});
  REQUIRE(admission.status == 101);
  CHECK(admission.answer["Sec-WebSocket-Protocol"] == "realtime");
  CHECK(admission.exchange({{"type", "request"}})["type"] == "admitted");
  admission.close();
  // Only an upgrade may carry its key so: a plain request with it is 401.
  usher::testing::raw_conn plain(node.port);
  REQUIRE(plain.send("GET /account/concurrency HTTP/1.1\r\nHost: a\r\nSec-WebSocket-Protocol: " +
                     offered + "\r\n\r\n"));
  auto not_upgrade = plain.read_response();
  REQUIRE(not_upgrade);
  CHECK(not_upgrade->status == 401);
  // A wrong key there is a wrong key.
  auto wrong = http_client(node.port).upgrade(
      "", realtime_target, {{"Sec-WebSocket-Protocol", "realtime, openai-insecure-api-key.nope"}});
  CHECK(wrong.status == 401);
  // The key went nowhere upstream: the model server saw only the gateway's.
  auto s = mock.stats();
  CHECK(s["authorizations"].size() == 1);
  CHECK(s["authorizations"].contains("Bearer upstream-secret"));
}

TEST_CASE("gateway realtime: the access log has a line for each response, beside the session's",
          "[serve][gateway]") {
  mock_model_process mock;
  auto log = usher::testing::scratch("realtime-access.log");
  std::filesystem::remove(log);
  live_node node("access_log = " + log.string() + "\n" +
                 realtime_config(mock.port, "idle_timeout = 300ms\n"));
  ws_client a(node.port, "tts-key", realtime_target);
  open_session(a);
  auto rid_a = a.answer["X-Request-Id"];
  const std::string session_a(rid_a.data(), rid_a.size());
  // One runs to its response.done.
  a.send(response_create("done", 3).dump());
  REQUIRE(next_of(a, "response.done")["response"]["status"] == "completed");
  REQUIRE(eventually([&] { return held(node.port, "tts-key") == 0; }));
  // One stalls past idle_timeout.
  json stalled = response_create("stalls", 10);
  stalled["mock"]["stall_after"] = 1;
  REQUIRE(a.exchange(stalled)["type"] == "response.created");
  REQUIRE(next_of(a, "error")["error"]["code"] == "upstream_stalled");
  REQUIRE(eventually([&] { return held(node.port, "tts-key") == 0; }));
  // Another session's long response holds the account's one slot: a's next
  // one is refused, and that session ends while its response runs.
  ws_client b(node.port, "tts-key", realtime_target);
  open_session(b);
  auto rid_b = b.answer["X-Request-Id"];
  const std::string session_b(rid_b.data(), rid_b.size());
  REQUIRE(b.exchange(response_create("long", 100000, 50))["type"] == "response.created");
  auto refusal = a.exchange(response_create("refused", 3));
  REQUIRE(refusal["type"] == "error");
  b.close();
  REQUIRE(eventually([&] { return held(node.port, "tts-key") == 0; }));
  a.close();

  auto responses = [&] {
    std::vector<std::map<std::string, std::string>> out;
    for (auto& f : usher::testing::logfmt_lines(log))
      if (f["route"] == "gateway_realtime_response") out.push_back(f);
    return out;
  };
  REQUIRE(eventually([&] { return responses().size() >= 4; }));
  auto lines = responses();
  INFO(usher::testing::slurp(log));
  REQUIRE(lines.size() == 4);
  // In the order they ended, each with its session's request id.
  CHECK(lines[0]["request_id"] == session_a);
  CHECK(lines[0]["status"] == "200");
  CHECK(lines[0]["code"] == "-");
  CHECK(lines[0]["lease"] != "-");
  CHECK(lines[0]["account"] == "tts");
  CHECK(lines[1]["status"] == "200");
  CHECK(lines[1]["code"] == "upstream_stalled");
  CHECK(lines[2]["request_id"] == session_a);
  CHECK(lines[2]["status"] == "429");
  CHECK(lines[2]["code"] == refusal["error"]["code"].get<std::string>());
  CHECK(lines[2]["lease"] == "-");
  CHECK(lines[3]["request_id"] == session_b);
  CHECK(lines[3]["status"] == "200");
  CHECK(lines[3]["code"] == "session_ended");
  CHECK(lines[3]["lease"] != lines[0]["lease"]);
  // The sessions' own lines: their upgrades.
  int upgrades = 0;
  for (auto& f : usher::testing::logfmt_lines(log))
    if (f["route"] == "gateway_realtime") upgrades += f["status"] == "101";
  CHECK(upgrades == 2);
}

TEST_CASE("gateway realtime: a response's usage teaches a per-token adaptive limit", "[serve][gateway]") {
  // 5 tokens at 50 a second: at least 20 ms a token against a 5 ms target,
  // however fast this machine: the response.done's usage.output_tokens
  // makes it a slow sample, and the limit halves.
  mock_model_process mock;
  live_node node("[gateway]\nupstream = http://127.0.0.1:" + std::to_string(mock.port) +
                 "/v1\n[account.ad]\nplan = streams:solo\nlimit = 4\nws.per_concurrency = 2\nadaptive = aimd\n"
                 "adaptive.signal = per_token\nadaptive.target = 5ms\nadaptive.backoff = 0.5\n" +
                 key_line("ad-key"));
  auto limit = [&] {
    http_client c(node.port);
    auto r = c.call(verb::get, "/account/concurrency", "ad-key");
    REQUIRE(r.status == 200);
    return r.json()["limit"].get<std::int64_t>();
  };
  ws_client ws(node.port, "ad-key", realtime_target);
  open_session(ws);
  REQUIRE(limit() == 4);
  ws.send(response_create("r1", 5, 50).dump());
  auto done = next_of(ws, "response.done");
  REQUIRE(done["response"]["usage"]["output_tokens"] == 5);
  CHECK(eventually([&] { return limit() == 2; }));
}

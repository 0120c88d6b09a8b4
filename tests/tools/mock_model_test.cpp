// usher mock-model: the OpenAI-compatible stand-in that the gateway proxies
// to. A real process, real sockets; states reached asynchronously (a client
// gone, a stream in flight) are polled with a generous bound, never timed.

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/live_node.hpp"
#include "support/mock_model_process.hpp"
#include "support/usher_cli.hpp"

namespace {

using nlohmann::json;
namespace bhttp = boost::beast::http;
using usher::testing::eventually;
using usher::testing::http_client;
using usher::testing::mock_model_process;
using usher::testing::raw_conn;
using usher::testing::ws_client;
using ms = std::chrono::milliseconds;

const std::vector<std::string> fast = {"--tokens-per-s", "1000"};

struct sse_event {
  std::string name;  ///< "event:" line, if any
  std::string data;
};

// The events of a text/event-stream body.
std::vector<sse_event> sse_events(const std::string& body) {
  std::vector<sse_event> events;
  std::size_t at = 0;
  while (at < body.size()) {
    auto end = body.find("\n\n", at);
    if (end == std::string::npos) end = body.size();
    sse_event e;
    for (std::size_t line = at; line < end;) {
      auto eol = std::min(body.find('\n', line), end);
      auto text = body.substr(line, eol - line);
      if (text.rfind("event: ", 0) == 0) e.name = text.substr(7);
      if (text.rfind("data: ", 0) == 0) e.data = text.substr(6);
      line = eol + 1;
    }
    events.push_back(e);
    at = end + 2;
  }
  return events;
}

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// The next realtime event of `type`, the others skipped (deltas counted in
// `deltas`); null when the session ended first.
json next_of(ws_client& ws, const std::string& type, int* deltas = nullptr) {
  for (;;) {
    auto event = ws.read();
    if (event.is_null() || event["type"] == type) return event;
    if (deltas && event["type"] == "response.output_text.delta") ++*deltas;
  }
}

// Sends `event`, then next_of(ws, type, deltas).
json send_then(ws_client& ws, const json& event, const std::string& type, int* deltas = nullptr) {
  auto first = ws.exchange(event);
  if (first.is_null() || first["type"] == type) return first;
  if (deltas && first["type"] == "response.output_text.delta") ++*deltas;
  return next_of(ws, type, deltas);
}

// The next frame of a raw WebSocket as JSON (null when none came in time).
json next_json(raw_conn& c, ms within = std::chrono::seconds(10)) {
  auto frame = c.read_frame(within);
  return frame ? json::parse(frame->payload, nullptr, false) : json(nullptr);
}

// A POST as raw bytes (for clients that will vanish or see a drop).
std::string raw_post(const std::string& target, const json& body) {
  auto text = body.dump();
  return "POST " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
         "Content-Length: " + std::to_string(text.size()) + "\r\n\r\n" + text;
}

}  // namespace

TEST_CASE("mock-model streams a chat completion token by token then [DONE]", "[mock_model]") {
  mock_model_process mock({"--tokens", "5", "--tokens-per-s", "1000"});
  auto r =
      mock.post("/v1/chat/completions", {{"model", "gpt-x"},
                                         {"stream", true},
                                         {"messages", {{{"role", "user"}, {"content", "hi"}}}}});
  REQUIRE(r.status == 200);
  CHECK(r.header(bhttp::field::content_type) == "text/event-stream");
  CHECK(r.header(bhttp::field::transfer_encoding) == "chunked");
  auto events = sse_events(r.body);
  REQUIRE(events.size() == 5 + 2);  // the tokens, the finish chunk, [DONE]
  std::string text;
  for (int i = 0; i < 5; ++i) {
    auto chunk = json::parse(events[i].data);
    CHECK(chunk["object"] == "chat.completion.chunk");
    CHECK(chunk["model"] == "gpt-x");
    CHECK(chunk["choices"][0]["finish_reason"].is_null());
    if (i == 0) CHECK(chunk["choices"][0]["delta"]["role"] == "assistant");
    text += chunk["choices"][0]["delta"]["content"].get<std::string>();
  }
  CHECK(text == "mock tokens flow from a");
  CHECK(json::parse(events[5].data)["choices"][0]["finish_reason"] == "stop");
  CHECK(events[6].data == "[DONE]");

  SECTION("include_usage adds a usage chunk before [DONE]; max_tokens sets the length") {
    auto u = mock.post("/v1/chat/completions", {{"stream", true},
                                                {"max_tokens", 3},
                                                {"stream_options", {{"include_usage", true}}},
                                                {"messages", json::array()}});
    auto ev = sse_events(u.body);
    REQUIRE(ev.size() == 3 + 3);
    auto usage = json::parse(ev[4].data);
    CHECK(usage["choices"].empty());
    CHECK(usage["usage"]["completion_tokens"] == 3);
    CHECK(ev[5].data == "[DONE]");
  }
}

TEST_CASE("mock-model answers a whole chat completion as JSON", "[mock_model]") {
  mock_model_process mock(fast);
  http_client c(mock.port);  // one keep-alive connection for every call
  auto r =
      c.call(bhttp::verb::post, "/v1/chat/completions", "k",
             json({{"model", "m"}, {"messages", {{{"role", "user"}, {"content", "hello there"}}}}})
                 .dump());
  REQUIRE(r.status == 200);
  auto j = r.json();
  CHECK(j["object"] == "chat.completion");
  CHECK(j["choices"][0]["message"]["role"] == "assistant");
  CHECK(j["choices"][0]["finish_reason"] == "stop");
  CHECK(j["usage"]["completion_tokens"] == 16);

  auto capped = c.call(bhttp::verb::post, "/v1/chat/completions", "k",
                       json({{"max_completion_tokens", 2}, {"mock", {{"tokens", 9}}}}).dump())
                    .json();
  CHECK(capped["choices"][0]["message"]["content"] == "mock tokens");
  CHECK(capped["choices"][0]["finish_reason"] == "length");

  auto completion = c.call(bhttp::verb::post, "/v1/completions", "k",
                           json({{"prompt", "x"}, {"max_tokens", 4}}).dump());
  CHECK(completion.json()["object"] == "text_completion");
  CHECK(completion.json()["choices"][0]["text"] == "mock tokens flow from");

  auto models = c.call(bhttp::verb::get, "/v1/models", "k").json();
  CHECK(models["data"][0]["id"] == "mock-model");

  auto embeddings =
      c.call(bhttp::verb::post, "/v1/embeddings", "k", json({{"input", {"a", "b", "c"}}}).dump())
          .json();
  REQUIRE(embeddings["data"].size() == 3);
  CHECK(embeddings["data"][2]["index"] == 2);
  CHECK(embeddings["data"][0]["embedding"].size() == 8);

  auto response = c.call(bhttp::verb::post, "/v1/responses", "k",
                         json({{"input", "hi"}, {"max_output_tokens", 1}}).dump());
  CHECK(response.json()["status"] == "completed");
  CHECK(response.json()["output"][0]["content"][0]["text"] == "mock");
}

TEST_CASE("mock-model streams completions, responses and speech", "[mock_model]") {
  mock_model_process mock({"--tokens", "3", "--tokens-per-s", "1000"});
  auto completions =
      sse_events(mock.post("/v1/completions", {{"prompt", "p"}, {"stream", true}}).body);
  REQUIRE(completions.size() == 3 + 2);
  CHECK(json::parse(completions[1].data)["choices"][0]["text"] == " tokens");

  auto responses = sse_events(mock.post("/v1/responses", {{"input", "p"}, {"stream", true}}).body);
  REQUIRE(responses.size() >= 5);
  CHECK(responses.front().name == "response.created");
  CHECK(count_of(mock.post("/v1/responses", {{"input", "p"}, {"stream", true}}).body,
                 "event: response.output_text.delta\n") == 3);
  CHECK(responses.back().name == "response.completed");
  CHECK(json::parse(responses.back().data)["response"]["status"] == "completed");

  auto speech = mock.post("/v1/audio/speech", {{"input", "say it"}, {"voice", "alloy"}});
  CHECK(speech.header(bhttp::field::content_type) == "audio/mpeg");
  CHECK(speech.body.size() == 3 * 4096);
}

TEST_CASE("mock-model answers mock.status and X-Mock-Status with an OpenAI error", "[mock_model]") {
  mock_model_process mock(fast);
  auto r = mock.post("/v1/chat/completions", {{"stream", true}, {"mock", {{"status", 503}}}});
  CHECK(r.status == 503);
  CHECK(r.json()["error"]["type"] == "server_error");
  CHECK(r.json()["error"].contains("message"));

  http_client c(mock.port);
  bhttp::request<bhttp::string_body> req{bhttp::verb::post, "/v1/embeddings", 11};
  req.set("X-Mock-Status", "429");
  req.body() = R"({"input":"x"})";
  auto limited = c.request(req);
  CHECK(limited.status == 429);
  CHECK(limited.json()["error"]["code"] == "rate_limit_exceeded");
}

TEST_CASE("mock-model answers unknown routes 404 and bad JSON 400, the OpenAI way",
          "[mock_model]") {
  mock_model_process mock(fast);
  http_client c(mock.port);
  auto missing = c.call(bhttp::verb::get, "/v1/nothing", "");
  CHECK(missing.status == 404);
  CHECK(missing.json()["error"]["code"] == "unknown_route");
  CHECK(missing.json()["error"]["type"] == "invalid_request_error");
  auto bad = c.call(bhttp::verb::post, "/v1/chat/completions", "", "{not json");
  CHECK(bad.status == 400);
  CHECK(bad.json()["error"]["type"] == "invalid_request_error");
  auto bad_mock =
      c.call(bhttp::verb::post, "/v1/chat/completions", "", R"({"mock":{"stal_after":1}})");
  CHECK(bad_mock.status == 400);

  raw_conn raw(mock.port);
  raw.send("NOT HTTP AT ALL\r\n\r\n");
  auto answer = raw.read_response();
  REQUIRE(answer);
  CHECK(answer->status == 400);
  CHECK(raw.closed_within());
}

TEST_CASE("mock-model counts a client that leaves a stalled stream as client_gone",
          "[mock_model]") {
  mock_model_process mock;  // the default pace: a stall is what stops the stream
  raw_conn c(mock.port);
  REQUIRE(
      c.send(raw_post("/v1/chat/completions",
                      {{"stream", true},
                       {"user", "staller"},
                       {"mock", {{"tokens", 10}, {"tokens_per_s", 1000}, {"stall_after", 2}}}})));
  REQUIRE(eventually([&] {
    c.open_after(ms(20));
    return count_of(c.received(), "\"content\"") >= 2;
  }));
  CHECK(c.open_after(ms(200)));  // stalled: open, and nothing more comes
  CHECK(count_of(c.received(), "\"content\"") == 2);
  CHECK(c.received().find("[DONE]") == std::string::npos);
  CHECK(mock.stats()["users"]["staller"]["in_flight"] == 1);

  c.close();
  json user;
  CHECK(eventually([&] {
    user = mock.stats()["users"]["staller"];
    return user["client_gone"] == 1 && user["in_flight"] == 0;
  }));
  INFO(user.dump());
  CHECK(user["requests"] == 1);
  CHECK(user["completed"] == 0);
  CHECK(mock.stats()["in_flight"] == 0);
}

TEST_CASE("mock-model drop_after closes the connection mid-stream", "[mock_model]") {
  mock_model_process mock(fast);
  raw_conn c(mock.port);
  REQUIRE(c.send(raw_post("/v1/chat/completions",
                          {{"stream", true}, {"user", "d"}, {"mock", {{"drop_after", 2}}}})));
  REQUIRE(c.closed_within());
  CHECK(count_of(c.received(), "\"content\"") == 2);
  CHECK(c.received().find("[DONE]") == std::string::npos);
  CHECK(c.received().find("finish_reason\":\"stop") == std::string::npos);
  CHECK(eventually([&] { return mock.stats()["users"]["d"]["dropped"] == 1; }));
}

TEST_CASE("mock-model counts two streams of one user at once as max_in_flight 2", "[mock_model]") {
  mock_model_process mock(fast);
  auto stalled = json({{"stream", true}, {"user", "u1"}, {"mock", {{"stall_after", 1}}}});
  raw_conn a(mock.port), b(mock.port);
  REQUIRE(a.send(raw_post("/v1/chat/completions", stalled)));
  REQUIRE(b.send(raw_post("/v1/chat/completions", stalled)));
  CHECK(eventually([&] { return mock.stats()["users"]["u1"]["in_flight"] == 2; }));
  a.close();
  b.close();
  json stats;
  CHECK(eventually([&] {
    stats = mock.stats();
    return stats["users"]["u1"]["client_gone"] == 2 && stats["in_flight"] == 0;
  }));
  INFO(stats.dump());
  CHECK(stats["users"]["u1"]["max_in_flight"] == 2);
  CHECK(stats["max_in_flight"] == 2);

  mock.post("/_reset", json::object());
  auto zeroed = mock.stats();
  CHECK(zeroed["max_in_flight"] == 0);
  CHECK(zeroed["users"].empty());
}

TEST_CASE("mock-model keeps the Authorization values and paths it saw", "[mock_model]") {
  mock_model_process mock(fast);
  http_client c(mock.port);
  for (auto key : {"k1", "k1", "k2", ""})
    CHECK(c.call(bhttp::verb::post, "/v1/embeddings", key, R"({"input":"x"})").status == 200);
  auto stats = mock.stats();
  INFO(stats.dump());
  CHECK(stats["authorizations"]["Bearer k1"] == 2);
  CHECK(stats["authorizations"]["Bearer k2"] == 1);
  CHECK(stats["authorizations"][""] == 1);
  CHECK(stats["paths"]["/v1/embeddings"] == 4);
  CHECK(stats["users"]["-"]["completed"] == 4);
  CHECK_FALSE(stats["paths"].contains("/_stats"));
}

TEST_CASE("mock-model transcribes multipart uploads and echoes realtime frames", "[mock_model]") {
  mock_model_process mock(fast);
  http_client c(mock.port);
  bhttp::request<bhttp::string_body> req{bhttp::verb::post, "/v1/audio/transcriptions", 11};
  req.set(bhttp::field::content_type, "multipart/form-data; boundary=XyZ");
  req.body() =
      "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.mp3\"\r\n"
      "Content-Type: audio/mpeg\r\n\r\nID3....\r\n"
      "--XyZ\r\nContent-Disposition: form-data; name=\"user\"\r\n\r\nlistener\r\n--XyZ--\r\n";
  auto r = c.request(req);
  CHECK(r.status == 200);
  CHECK(r.json()["text"] == "mock transcription");

  {
    ws_client ws(mock.port, "rt");
    REQUIRE(ws.status == 101);
    CHECK(ws.read()["type"] == "session.created");
    auto echo = ws.exchange({{"type", "conversation.item.create"}});
    CHECK(echo["type"] == "echo");
    CHECK(echo["data"] == R"({"type":"conversation.item.create"})");
    CHECK(mock.stats()["paths"]["/v1/realtime"] == 1);
    CHECK(mock.stats()["users"]["-"]["in_flight"] == 1);
    ws.close();
  }
  json stats;
  CHECK(eventually([&] {
    stats = mock.stats();
    return stats["in_flight"] == 0;
  }));
  INFO(stats.dump());
  CHECK(stats["users"]["listener"]["completed"] == 1);
  CHECK(stats["users"]["-"]["completed"] == 1);
  CHECK(stats["authorizations"]["Bearer rt"] == 1);
}

TEST_CASE("mock-model speaks a subset of the Realtime API on /v1/realtime", "[mock_model]") {
  mock_model_process mock({"--tokens", "3", "--tokens-per-s", "1000"});
  // Long and slow: still going when the test acts on it.
  const json slow = {{"tokens", 1000}, {"tokens_per_s", 20}};
  auto realtime = [&] { return mock.stats()["realtime_responses"]; };

  ws_client ws(mock.port, "rt");
  REQUIRE(ws.status == 101);
  auto created = ws.read();
  CHECK(created["type"] == "session.created");
  CHECK(created["event_id"].get<std::string>().rfind("event_", 0) == 0);
  CHECK(created["session"]["id"].get<std::string>().rfind("sess_", 0) == 0);
  CHECK(created["session"]["object"] == "realtime.session");
  CHECK(created["session"]["model"] == "mock-model");

  // A whole response: created, one delta per token, done.
  auto started = ws.exchange({{"type", "response.create"}});
  REQUIRE(started["type"] == "response.created");
  auto id = started["response"]["id"].get<std::string>();
  CHECK(id.rfind("resp_", 0) == 0);
  CHECK(started["response"]["object"] == "realtime.response");
  CHECK(started["response"]["status"] == "in_progress");
  std::string text;
  for (int i = 0; i < 3; ++i) {
    auto delta = ws.read();
    REQUIRE(delta["type"] == "response.output_text.delta");
    CHECK(delta["response_id"] == id);
    CHECK(delta["item_id"].get<std::string>().rfind("item_", 0) == 0);
    CHECK(delta["output_index"] == 0);
    CHECK(delta["content_index"] == 0);
    text += delta["delta"].get<std::string>();
  }
  CHECK(text == "mock tokens flow");
  auto done = ws.read();
  REQUIRE(done["type"] == "response.done");
  CHECK(done["response"]["id"] == id);
  CHECK(done["response"]["status"] == "completed");
  CHECK(done["response"]["usage"]["output_tokens"] == 3);
  auto counted = realtime();
  INFO(counted.dump());
  CHECK(counted["requests"] == 1);
  CHECK(counted["completed"] == 1);
  CHECK(counted["in_flight"] == 0);

  // One response at a time: a second response.create is refused.
  auto long_one = ws.exchange({{"type", "response.create"}, {"mock", slow}});
  REQUIRE(long_one["type"] == "response.created");
  CHECK(ws.read()["type"] == "response.output_text.delta");
  CHECK(realtime()["in_flight"] == 1);
  auto refused = send_then(ws, {{"type", "response.create"}, {"event_id", "evt_again"}}, "error");
  CHECK(refused["error"]["type"] == "invalid_request_error");
  CHECK(refused["error"]["code"] == "conversation_already_has_active_response");
  CHECK(refused["error"]["event_id"] == "evt_again");
  CHECK(refused["error"]["param"].is_null());

  // response.cancel ends it with response.done "cancelled".
  int deltas = 0;
  auto cancelled = send_then(ws, {{"type", "response.cancel"}}, "response.done", &deltas);
  CHECK(cancelled["response"]["id"] == long_one["response"]["id"]);
  CHECK(cancelled["response"]["status"] == "cancelled");
  CHECK(cancelled["response"]["usage"]["output_tokens"] < 1000);
  auto nothing = ws.exchange({{"type", "response.cancel"}});
  CHECK(nothing["error"]["code"] == "response_cancel_not_active");
  CHECK(nothing["error"]["event_id"].is_null());

  // session.update is answered.
  auto updated = ws.exchange({{"type", "session.update"}, {"session", {{"voice", "alloy"}}}});
  CHECK(updated["type"] == "session.updated");
  CHECK(updated["session"]["voice"] == "alloy");
  CHECK(updated["session"]["id"] == created["session"]["id"]);
  counted = realtime();
  CHECK(counted["requests"] == 2);
  CHECK(counted["cancelled"] == 1);
  CHECK(counted["max_in_flight"] == 1);
  CHECK(counted["in_flight"] == 0);

  // A client that closes mid-response (a close frame, then a lost TCP
  // connection) ends it: client_gone, not in flight any more.
  ws_client leaving(mock.port, "rt");
  CHECK(leaving.read()["type"] == "session.created");
  CHECK(leaving.exchange({{"type", "response.create"}, {"mock", slow}})["type"] ==
        "response.created");
  CHECK(leaving.read()["type"] == "response.output_text.delta");
  leaving.close();
  CHECK(eventually([&] { return realtime()["client_gone"] == 1; }));
  {
    raw_conn lost(mock.port);
    REQUIRE(lost.upgrade("rt"));
    CHECK(next_json(lost)["type"] == "session.created");
    REQUIRE(lost.send(
        raw_conn::ws_frame(1, json({{"type", "response.create"}, {"mock", slow}}).dump())));
    CHECK(next_json(lost)["type"] == "response.created");
    lost.reset();
  }
  json stats;
  CHECK(eventually([&] {
    stats = mock.stats();
    return stats["realtime_responses"]["client_gone"] == 2 && stats["in_flight"] == 1;
  }));
  INFO(stats.dump());
  CHECK(stats["realtime_responses"]["in_flight"] == 0);
  CHECK(stats["realtime_responses"]["requests"] == 4);
  CHECK(stats["users"]["-"]["completed"] == 1);    // the session closed with a close frame
  CHECK(stats["users"]["-"]["client_gone"] == 1);  // the one whose TCP connection was lost

  mock.post("/_reset", json::object());
  CHECK(realtime()["requests"] == 0);
  ws.close();
}

TEST_CASE("mock-model realtime sessions: the model of the URL, binary echo, stall and drop",
          "[mock_model]") {
  mock_model_process mock(fast);

  // raw_conn: ws_client has neither a target of its own nor binary frames.
  raw_conn c(mock.port);
  REQUIRE(c.upgrade("rt", "/v1/realtime?model=gpt-4o-realtime%2Dpreview"));
  auto created = next_json(c);
  CHECK(created["type"] == "session.created");
  CHECK(created["session"]["model"] == "gpt-4o-realtime-preview");
  const std::string bytes("\x00\x01\xfe\xff audio", 10);
  REQUIRE(c.send(raw_conn::ws_frame(2, bytes)));
  auto echo = c.read_frame();
  REQUIRE(echo);
  CHECK(echo->opcode == 2);
  CHECK(echo->payload == bytes);
  // An audio append is taken silently: the next frame answers the next one.
  REQUIRE(c.send(raw_conn::ws_frame(1, R"({"type":"input_audio_buffer.append","audio":"AAAA"})")));
  REQUIRE(c.send(raw_conn::ws_frame(1, R"({"type":"conversation.item.create"})")));
  CHECK(next_json(c)["type"] == "echo");

  // stall_after: two deltas, then silence (no response.done, no answer at
  // all) while the connection stays open.
  REQUIRE(c.send(raw_conn::ws_frame(
      1,
      json({{"type", "response.create"}, {"mock", {{"tokens", 5}, {"stall_after", 2}}}}).dump())));
  CHECK(next_json(c)["type"] == "response.created");
  CHECK(next_json(c)["type"] == "response.output_text.delta");
  CHECK(next_json(c)["type"] == "response.output_text.delta");
  REQUIRE(c.send(raw_conn::ws_frame(1, R"({"type":"response.cancel"})")));
  CHECK_FALSE(c.read_frame(ms(300)).has_value());
  CHECK(mock.stats()["realtime_responses"]["in_flight"] == 1);
  c.reset();
  CHECK(eventually([&] { return mock.stats()["realtime_responses"]["client_gone"] == 1; }));

  // X-Mock-Drop-After: 2 on the upgrade: the connection closes after two
  // frames past session.created.
  raw_conn d(mock.port);
  REQUIRE(
      d.send("GET /v1/realtime HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n"
             "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nX-Mock-User: dropper\r\n"
             "X-Mock-Drop-After: 2\r\n\r\n"));
  auto head = d.read_response();
  REQUIRE(head);
  CHECK(head->status == 101);
  CHECK(next_json(d)["type"] == "session.created");
  REQUIRE(d.send(raw_conn::ws_frame(1, R"({"type":"response.create"})")));
  CHECK(next_json(d)["type"] == "response.created");
  CHECK(next_json(d)["type"] == "response.output_text.delta");
  CHECK(d.closed_within());
  CHECK(d.received().empty());
  json stats;
  CHECK(eventually([&] {
    stats = mock.stats();
    return stats["users"]["dropper"]["dropped"] == 1;
  }));
  INFO(stats.dump());
  CHECK(stats["realtime_responses"]["dropped"] == 1);
  CHECK(stats["realtime_responses"]["in_flight"] == 0);
}

TEST_CASE("mock-model --help and bad options", "[mock_model]") {
  auto help = usher::testing::run_usher("mock-model --help");
  CHECK(help.code == 0);
  CHECK(help.out.find("--tokens-per-s") != std::string::npos);
  CHECK(help.out.find("/v1/realtime") != std::string::npos);
  auto bad = usher::testing::run_usher("mock-model --listen nowhere");
  CHECK(bad.code == 2);
  CHECK(bad.err.find("HOST:PORT") != std::string::npos);
  CHECK(usher::testing::run_usher("mock-model --tokens-per-s -1").code == 2);
}

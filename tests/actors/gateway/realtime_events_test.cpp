// What the gateway reads from realtime frames, and which slot belongs to
// which response of a session (actors/gateway/realtime_events.hpp).
#include <algorithm>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "actors/gateway/realtime_events.hpp"

using namespace usher::actors::gateway;

TEST_CASE("a realtime event's type, ids and response id are read, nothing else", "[gateway]") {
  realtime_event e;
  REQUIRE(read_realtime_event(
      R"({"event_id":"ev1","type":"response.done","response":{"id":"resp_7","output":[{"id":"item_1","type":"message"}],"status":"completed"}})",
      e));
  CHECK(e.type == "response.done");
  CHECK(e.event_id == "ev1");
  CHECK(e.response_id == "resp_7");  // not the nested item's id
  CHECK(e.error_event_id.empty());

  REQUIRE(read_realtime_event(
      R"({"type":"error","event_id":"s1","error":{"type":"invalid_request_error","code":"x","message":"m","param":null,"event_id":"c9"}})",
      e));
  CHECK(e.type == "error");
  CHECK(e.event_id == "s1");
  CHECK(e.error_event_id == "c9");

  REQUIRE(read_realtime_event(
      R"({"type":"response.output_text.delta","response_id":"resp_2","delta":"{\"id\":\"no\"}"})", e));
  CHECK(e.response_id == "resp_2");
  // A key named like ours deeper down is not ours.
  REQUIRE(read_realtime_event(R"({"type":"x","item":{"response":{"id":"deep"}},"event_id":"a"})", e));
  CHECK(e.response_id.empty());
  CHECK(e.event_id == "a");
  // type not a string: read as absent, the frame still relayed by the caller.
  REQUIRE(read_realtime_event(R"({"type":5})", e));
  CHECK(e.type.empty());

  CHECK_FALSE(read_realtime_event("[1]", e));
  CHECK_FALSE(read_realtime_event("{\"type\":", e));
  CHECK_FALSE(read_realtime_event("", e));
  // Strict: no comments, nothing after the object.
  CHECK_FALSE(read_realtime_event(R"({"type":"response.create"} // x)", e));
  CHECK_FALSE(read_realtime_event(R"({"type":"response.create"} {})", e));
  CHECK(e.type.empty());
}

TEST_CASE("an event id is put first in a frame, which stays valid JSON", "[gateway]") {
  auto a = with_event_id(R"({"type":"response.create","response":{"modalities":["text"]}})", "u1");
  CHECK(a == R"({"event_id":"u1","type":"response.create","response":{"modalities":["text"]}})");
  CHECK(nlohmann::json::parse(a)["response"]["modalities"][0] == "text");
  CHECK(with_event_id("  { }", "x\"y") == R"(  {"event_id":"x\"y" })");
  CHECK(nlohmann::json::parse(with_event_id("{}", "z"))["event_id"] == "z");
}

TEST_CASE("a query parameter is found and percent-decoded", "[gateway]") {
  CHECK(query_parameter("/v1/realtime?model=gpt-realtime", "model") == "gpt-realtime");
  CHECK(query_parameter("/v1/realtime?x=1&model=a%2Fb+c&model=second", "model") == "a/b c");
  CHECK(query_parameter("/v1/realtime?model=", "model") == "");
  CHECK(query_parameter("/v1/realtime?model", "model") == "");
  CHECK(query_parameter("/v1/realtime?models=x", "model") == std::nullopt);
  CHECK(query_parameter("/v1/realtime", "model") == std::nullopt);
  CHECK(query_parameter("/v1/realtime?model=%zz%4", "model") == "%zz%4");  // not escapes: kept
}

TEST_CASE("a response's slot is taken at response.create and freed at its end", "[gateway]") {
  response_slots s;
  s.asked("L1", "e1");
  s.asked("L2", "e2");
  CHECK(s.size() == 2);
  // The server answers in order: the first response is the first ask's.
  CHECK(s.created("r1"));
  // The second ask is refused by the server: its error names it.
  CHECK(s.refused("nope").empty());
  CHECK(s.refused("e2") == "L2");
  CHECK(s.refused("e2").empty());  // once
  CHECK(s.done("r-unknown").empty());
  CHECK(s.done("r1") == "L1");
  CHECK(s.done("r1").empty());
  CHECK(s.size() == 0);
}

TEST_CASE("a response the server began on its own is admitted while it runs", "[gateway]") {
  response_slots s;
  CHECK_FALSE(s.created("vad1"));  // nothing pending: the server made it
  CHECK(s.unadmitted("vad1"));
  CHECK(s.adopt("vad1", "L1"));
  CHECK_FALSE(s.unadmitted("vad1"));
  CHECK(s.done("vad1") == "L1");

  // Its response.done before the admission's answer: the slot is not kept.
  CHECK_FALSE(s.created("vad2"));
  CHECK(s.done("vad2").empty());
  CHECK_FALSE(s.adopt("vad2", "L2"));

  // Refused: forgotten, its response.done frees nothing.
  CHECK_FALSE(s.created("vad3"));
  s.forget("vad3");
  CHECK_FALSE(s.unadmitted("vad3"));
  CHECK(s.done("vad3").empty());
  CHECK(s.size() == 0);
}

TEST_CASE("every slot of a session is handed back when it stalls or ends", "[gateway]") {
  response_slots s;
  s.asked("L1", "e1");
  CHECK(s.created("r1"));
  s.asked("L2", "e2");
  CHECK(s.created("r0"));  // takes the pending L2
  CHECK_FALSE(s.created("vad"));  // being admitted: no lease yet
  auto all = s.take_all();
  std::sort(all.begin(), all.end());
  CHECK(all == std::vector<std::string>{"L1", "L2"});
  CHECK(s.size() == 0);
  CHECK_FALSE(s.adopt("vad", "L3"));  // the session forgot it: released by the caller
}

TEST_CASE("an event id that is not UTF-8 is written without throwing", "[gateway]") {
  auto frame = with_event_id("{}", std::string("a\xff" "b"));
  CHECK(nlohmann::json::accept(frame));
}

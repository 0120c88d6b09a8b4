// Every answer the edge builds is valid JSON, whatever bytes the client put
// in what it echoes (actors/http/responses.hpp). The bug this guards: a 404
// repeated a path with the byte 0xFF, nlohmann's dump() threw on the invalid
// UTF-8 on the I/O thread, and the node died.
#include "actors/http/responses.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

namespace {

using namespace usher::actors::http;

// The string a JSON text decodes to, or throws if it is not valid JSON.
std::string decoded(const std::string& json_string) {
  return nlohmann::json::parse(json_string).get<std::string>();
}

std::string as_json(std::string_view text) {
  std::string out;
  append_json_string(text, out);
  return out;
}

}  // namespace

TEST_CASE("append_json_string keeps valid UTF-8 and escapes what JSON must") {
  std::string text = "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \"q\" \\ \n\t\x01";
  CHECK(decoded(as_json(text)) == text);
  CHECK(as_json("plain") == "\"plain\"");
}

TEST_CASE("append_json_string replaces every invalid UTF-8 sequence with U+FFFD") {
  const std::string fffd = "\xEF\xBF\xBD";
  struct sample {
    std::string in, out;
  };
  std::vector<sample> samples = {
      {"/\xFF", "/" + fffd},
      {"\xC0\xAF", fffd + fffd},                      // overlong '/'
      {"\xE0\x80\xAF", fffd + fffd + fffd},           // overlong, three bytes
      {"\xED\xA0\x80", fffd + fffd + fffd},           // a UTF-16 surrogate
      {"\xF4\x90\x80\x80", fffd + fffd + fffd + fffd},  // over U+10FFFF
      {"a\xE2\x82", "a" + fffd + fffd},               // cut off at the end
      {"\x80x", fffd + "x"},                          // a lone continuation byte
  };
  for (auto& s : samples) {
    INFO("input bytes: " << s.in.size());
    CHECK(decoded(as_json(s.in)) == s.out);
  }
}

TEST_CASE("error bodies stay valid JSON when the message holds invalid UTF-8") {
  auto res = error_response(404, "not_found", "unknown_route", "No route /\xFF\xFE\x01", 11, true);
  auto body = nlohmann::json::parse(res.body());
  CHECK(body["error"]["code"] == "unknown_route");
  CHECK(body["error"]["message"] == "No route /\xEF\xBF\xBD\xEF\xBF\xBD\x01");
  CHECK(nlohmann::json::parse(error_object("t", "c\xC3", "m"))["code"] == "c\xEF\xBF\xBD");
}

// Issue #15: clients built for OpenAI read `type` and `param`; no status
// outside the standard ones reaches the wire.
TEST_CASE("error objects have OpenAI's shape: message, type, param (null when none), code") {
  CHECK(error_object(error_type::rate_limit, "queue_full", "m") ==
        R"({"message":"m","type":"rate_limit_error","param":null,"code":"queue_full"})");
  auto field = nlohmann::json::parse(
      error_object(error_type::invalid_request, "invalid_field", "'cost' must be ...", "cost"));
  CHECK(field["param"] == "cost");
}

TEST_CASE("admission replies map to standard statuses and OpenAI's types") {
  auto answer = [](std::uint16_t code, usher::policies::reason why = usher::policies::reason::none,
                   std::int64_t retry_after = 0) {
    usher::actors::admit_reply r;
    r.code = code;
    r.why = why;
    r.retry_after_s = retry_after;
    return admission_response(r, 11, true);
  };
  auto type_of = [](const string_response& res) {
    return nlohmann::json::parse(res.body())["error"]["type"].get<std::string>();
  };
  auto cancelled = answer(499, usher::policies::reason::client_timeout);
  CHECK(cancelled.result_int() == 410);
  CHECK(nlohmann::json::parse(cancelled.body())["error"]["code"] == "ticket_cancelled");
  CHECK(type_of(cancelled) == "invalid_request_error");
  auto policy = answer(1008, usher::policies::reason::session_rate, 5);
  CHECK(policy.result_int() == 429);
  CHECK(type_of(policy) == "rate_limit_error");
  CHECK(type_of(answer(408, usher::policies::reason::queue_timeout)) == "timeout_error");
  CHECK(type_of(answer(404)) == "not_found_error");
  auto draining = answer(503, usher::policies::reason::none, 1);
  CHECK(draining.result_int() == 503);
  CHECK(draining[bhttp::field::retry_after] == "1");
  CHECK(nlohmann::json::parse(draining.body())["error"]["code"] == "draining");
  CHECK(type_of(draining) == "server_error");
  CHECK(type_of(answer(503, usher::policies::reason::recovering, 3)) == "server_error");
}

TEST_CASE("the Bearer scheme is read in any case and the token after it as sent") {
  CHECK(bearer_token("Bearer k-1") == "k-1");
  CHECK(bearer_token("bearer k-1") == "k-1");
  CHECK(bearer_token("BEARER  K-1") == "K-1");
  CHECK(bearer_token("Basic k-1").empty());
  CHECK(bearer_token("Bearerk-1").empty());
  CHECK(bearer_token("Bearer").empty());
  CHECK(bearer_token("Bearer ").empty());
  CHECK(bearer_token("Bearer\tk-1").empty());
  CHECK(bearer_token("").empty());
}

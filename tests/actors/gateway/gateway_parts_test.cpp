// The gateway's pure parts (docs/GATEWAY.md): the model a request names
// (JSON or multipart/form-data) and the upstream URLs of its config.
#include <catch2/catch.hpp>

#include "actors/gateway/gateway_config.hpp"
#include "actors/gateway/output_tokens.hpp"
#include "actors/gateway/request_model.hpp"

using namespace usher::actors::gateway;

TEST_CASE("the model of a JSON request is its top-level string member", "[gateway]") {
  std::string m;
  CHECK(read_model("application/json", R"({"messages":[{"model":"inner"}],"model":"gpt-x"})", m) ==
        model_read::ok);
  CHECK(m == "gpt-x");
  CHECK(read_model("", R"({"model":"a","model":"b"})", m) == model_read::ok);
  CHECK(m == "b");  // the last of a repeated name, as a JSON document reads
  CHECK(read_model("application/json", R"({"messages":[]})", m) == model_read::missing);
  CHECK(read_model("application/json", R"({"model":null})", m) == model_read::missing);
  CHECK(read_model("application/json", R"({"model":7})", m) == model_read::not_string);
  CHECK(read_model("application/json", R"({"model":""})", m) == model_read::not_string);
  CHECK(read_model("application/json", "{\"model\":\"" + std::string(257, 'x') + "\"}", m) ==
        model_read::not_string);
  CHECK(read_model("application/json", "[1,2]", m) == model_read::malformed_json);
  CHECK(read_model("application/json", "{\"model\":", m) == model_read::malformed_json);
  CHECK(read_model("application/json", "", m) == model_read::malformed_json);
}

TEST_CASE("a JSON request's service_tier is read with its model, when it is a string", "[gateway]") {
  std::string m, tier;
  CHECK(read_model("application/json", R"({"model":"gpt-x","service_tier":"flex","n":{"service_tier":"x"}})",
                   m, &tier) == model_read::ok);
  CHECK(tier == "flex");
  std::string none;
  CHECK(read_model("application/json", R"({"model":"gpt-x","service_tier":3})", m, &none) == model_read::ok);
  CHECK(none.empty());  // not a string: left to the upstream to refuse
  CHECK(read_model("application/json", R"({"model":"gpt-x"})", m, &none) == model_read::ok);
  CHECK(none.empty());
  CHECK(read_model("application/json", R"({"service_tier":"flex"})", m, &none) == model_read::missing);
}

TEST_CASE("the model of a multipart form is its model field", "[gateway]") {
  const std::string form =
      "--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"model.wav\"\r\n"
      "Content-Type: audio/wav\r\n\r\nname=\"model\"\r\n--b0undary not yet\r\n"
      "--b0undary\r\ncontent-disposition: form-data; name=model\r\n\r\nwhisper-1\r\n"
      "--b0undary--\r\n";
  std::string m;
  CHECK(read_model("multipart/form-data; boundary=b0undary", form, m) == model_read::ok);
  CHECK(m == "whisper-1");
  CHECK(read_model("Multipart/Form-Data; charset=utf-8; boundary=\"b0undary\"", form, m) ==
        model_read::ok);
  CHECK(read_model("multipart/form-data", form, m) == model_read::bad_multipart);
  CHECK(read_model("multipart/form-data; boundary=other", form, m) == model_read::missing);
  // Cut short before the model's closing delimiter: no model.
  CHECK(read_model("multipart/form-data; boundary=b0undary",
                   form.substr(0, form.find("whisper-1") + 4), m) == model_read::missing);
  CHECK(multipart_boundary("multipart/form-data; boundary=" + std::string(71, 'x')).empty());
  CHECK(multipart_boundary("application/json; boundary=x").empty());
}

TEST_CASE("a request's tokens are estimated as OpenAI does: its characters / 4 plus what it reserves",
          "[gateway]") {
  std::string body = R"({"model":"m","messages":[{"role":"user","content":"hello"}]})";
  auto chars = (body.size() + 3) / 4;
  CHECK(estimate_tokens("application/json", body) == chars);
  std::string reserved = R"({"model":"m","max_tokens":500,"prompt":"hi"})";
  CHECK(estimate_tokens("application/json", reserved) == (reserved.size() + 3) / 4 + 500);
  // The largest of the three names (chat, newer chat, responses); wrong types reserve nothing.
  std::string both = R"({"model":"m","max_tokens":50,"max_completion_tokens":700,"max_output_tokens":"9"})";
  CHECK(estimate_tokens("application/json", both) == (both.size() + 3) / 4 + 700);
  CHECK(estimate_tokens("application/json", both, 1) == both.size() + 700);
  // Bounded, whatever a client asks.
  std::string huge = R"({"model":"m","max_tokens":99999999999})";
  CHECK(estimate_tokens("application/json", huge) == 1'000'000'000);
  // Audio forms count none.
  CHECK(estimate_tokens("multipart/form-data; boundary=x", "--x\r\n") == 0);
}

TEST_CASE("upstream URLs: http only, a trailing /v1 dropped, the port 80 by default",
          "[gateway]") {
  upstream u;
  CHECK(parse_upstream("http://127.0.0.1:8000/v1", u).empty());
  CHECK(u.host == "127.0.0.1");
  CHECK(u.port == 8000);
  CHECK(u.prefix.empty());
  CHECK(u.host_field() == "127.0.0.1:8000");
  CHECK(parse_upstream("http://models.internal/openai/v1/", u).empty());
  CHECK(u.port == 80);
  CHECK(u.prefix == "/openai");
  CHECK(u.host_field() == "models.internal");
  CHECK(parse_upstream("http://[::1]:9000", u).empty());
  CHECK(u.host == "::1");
  CHECK(u.port == 9000);
  CHECK(parse_upstream("https://api.example.com", u).find("https") != std::string::npos);
  CHECK(!parse_upstream("127.0.0.1:8000", u).empty());
  CHECK(!parse_upstream("http://:8000", u).empty());
  CHECK(!parse_upstream("http://h:0", u).empty());
  CHECK(!parse_upstream("http://h:99999", u).empty());
  CHECK(!parse_upstream("http://user@h:80", u).empty());
  CHECK(!parse_upstream("http://h:80/p?q=1", u).empty());

  gateway_config g;
  parse_upstream("http://a:1", g.by_model["m1"]);
  CHECK(g.upstream_of("m1") != nullptr);
  CHECK(g.upstream_of("m2") == nullptr);
  g.fallback.emplace();
  CHECK(g.upstream_of("m2") == &*g.fallback);
}

namespace {
// Feeds `answer` in pieces of `piece` bytes, as the gateway relays it.
std::uint32_t count(const std::string& answer, bool event_stream, std::size_t piece) {
  output_token_count c(event_stream);
  for (std::size_t at = 0; at < answer.size(); at += piece)
    c.feed(answer.data() + at, std::min(piece, answer.size() - at));
  return c.tokens();
}
}  // namespace

TEST_CASE("an answer's output tokens: its usage when it gives one, else a token per SSE event",
          "[gateway]") {
  const std::string whole =
      R"({"id":"x","choices":[{"text":"say \"output_tokens\": 9"}],"max_output_tokens": 7,)"
      R"("usage":{"prompt_tokens":12,"completion_tokens" : 345,"total_tokens":357}})";
  const std::string responses = R"({"usage":{"input_tokens":3,"output_tokens":41,"output_tokens_details":{"reasoning_tokens":2}}})";
  const std::string stream =
      "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n"
      "data: {\"choices\":[{\"delta\":{\"content\":\"b\"}}]}\n\n"
      "data:{\"choices\":[{\"delta\":{\"content\":\"data: c\"}}]}\r\n\r\n"
      "data: [DONE]\n\n";
  const std::string with_usage =
      "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n"
      "data: {\"choices\":[],\"usage\":{\"completion_tokens\":17}}\n\n"
      "data: [DONE]\n\n";
  // Whatever the pieces it comes in: a number or a key split across two is read whole.
  for (std::size_t piece : {std::size_t{1}, std::size_t{2}, std::size_t{7}, std::size_t{4096}}) {
    INFO("pieces of " << piece);
    CHECK(count(whole, false, piece) == 345);   // not the text's, nor max_output_tokens'
    CHECK(count(responses, false, piece) == 41);
    CHECK(count(stream, true, piece) == 3);     // three events, [DONE] is none
    CHECK(count(with_usage, true, piece) == 17);
    CHECK(count(stream, false, piece) == 0);    // not a stream: no count given
    CHECK(count(R"({"data":[{"embedding":[0.1]}],"usage":{"prompt_tokens":4,"total_tokens":4}})", false,
                piece) == 0);
    CHECK(count("{\"usage\":{\"completion_tokens\":8", false, piece) == 8);  // cut after the number
  }
  CHECK(count(R"({"usage":{"completion_tokens":99999999999}})", false, 5) == 4294967295u);
}

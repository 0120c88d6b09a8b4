// The gateway's pure parts (docs/GATEWAY.md): the model a request names
// (JSON or multipart/form-data) and the upstream URLs of its config.
#include <catch2/catch.hpp>

#include "actors/gateway/gateway_config.hpp"
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

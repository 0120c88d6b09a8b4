// The one reader of a request's JSON fields, for POST /v1/admit bodies and
// WebSocket request frames (actors/http/request_fields.hpp).
#include "actors/http/request_fields.hpp"

#include <catch2/catch.hpp>

namespace {

using usher::actors::admit_request;
using usher::actors::http::json_member;
using usher::actors::http::json_read;
using usher::actors::http::read_members;
using usher::actors::http::take_admit_fields;
using type = json_member::type;

struct read_result {
  json_read status;
  json_member model, cost, kind;
};

read_result read(std::string_view text) {
  static constexpr std::string_view names[] = {"model", "cost", "kind"};
  read_result r;
  json_member m[3];
  r.status = read_members(text, names, m, 3);
  r.model = m[0];
  r.cost = m[1];
  r.kind = m[2];
  return r;
}

}  // namespace

TEST_CASE("request fields: asked-for members of the outer object are read, others skipped") {
  auto r = read(R"({"model":"gpt","other":{"model":"inner","cost":[1,2]},"cost":7})");
  REQUIRE(r.status == json_read::ok);
  CHECK(r.model.is == type::string);
  CHECK(r.model.text == "gpt");
  CHECK(r.cost.is == type::integer);
  CHECK(r.cost.number == 7);
  CHECK(r.kind.is == type::absent);
}

TEST_CASE("request fields: null, nested and non-integer values are told apart") {
  auto r = read(R"({"model":null,"cost":1.5,"kind":{"a":1}})");
  REQUIRE(r.status == json_read::ok);
  CHECK(r.model.is == type::null);
  CHECK(r.cost.is == type::other);
  CHECK(r.kind.is == type::other);
  CHECK(read(R"({"cost":18446744073709551615})").cost.is == type::other);  // past int64
  CHECK(read(R"({"cost":-3})").cost.number == -3);
  CHECK(read(R"({"kind":["request"]})").kind.is == type::other);
  CHECK(read(R"({"kind":true})").kind.is == type::other);
}

TEST_CASE("request fields: a member given twice keeps its last value") {
  auto r = read(R"({"model":"a","model":"b","cost":{"x":1},"cost":2})");
  CHECK(r.model.text == "b");
  CHECK(r.cost.is == type::integer);
  CHECK(r.cost.number == 2);
}

TEST_CASE("request fields: malformed JSON and non-objects are refused as such") {
  CHECK(read("{not json").status == json_read::malformed);
  CHECK(read(R"({"model":"a"} trailing)").status == json_read::malformed);
  CHECK(read("[1,2").status == json_read::malformed);
  CHECK(read("").status == json_read::malformed);
  CHECK(read("[1,2]").status == json_read::not_object);
  CHECK(read(R"("model")").status == json_read::not_object);
  CHECK(read("42").status == json_read::not_object);
  CHECK(read("{}").status == json_read::ok);
}

TEST_CASE("request fields: model, product and cost are checked with one set of words") {
  auto take = [](std::string_view text, admit_request& msg) {
    static constexpr std::string_view names[] = {"model", "product", "cost"};
    json_member m[3];
    REQUIRE(read_members(text, names, m, 3) == json_read::ok);
    return take_admit_fields(m[0], m[1], m[2], msg);
  };
  admit_request msg;
  CHECK(take(R"({"model":"m1","product":"voice","cost":3})", msg).empty());
  CHECK(msg.model == "m1");
  CHECK(msg.product == "voice");
  CHECK(msg.cost == 3);

  admit_request defaults;
  CHECK(take(R"({"model":null,"cost":null})", defaults).empty());
  CHECK(defaults.model.empty());
  CHECK(defaults.cost == -1);

  admit_request bad;
  CHECK(take(R"({"model":5})", bad) == "'model' must be a string of at most 256 bytes");
  CHECK(take(R"({"product":"p)" + std::string(256, 'x') + R"("})", bad) ==
        "'product' must be a string of at most 256 bytes");
  CHECK(take(R"({"cost":0})", bad) == "'cost' must be an integer from 1 to 1000000000");
  CHECK(take(R"({"cost":1000000001})", bad) == "'cost' must be an integer from 1 to 1000000000");
  CHECK(take(R"({"cost":"3"})", bad) == "'cost' must be an integer from 1 to 1000000000");
  CHECK(take(R"({"cost":1000000000})", bad).empty());
}

TEST_CASE("request fields: a refused field is named, for the error's param") {
  auto field_of = [](std::string_view text) -> std::string {
    static constexpr std::string_view names[] = {"model", "product", "cost"};
    json_member m[3];
    REQUIRE(read_members(text, names, m, 3) == json_read::ok);
    admit_request msg;
    const char* field = nullptr;
    auto e = take_admit_fields(m[0], m[1], m[2], msg, &field);
    return e.empty() ? "(none)" : field ? field : "(unnamed)";
  };
  CHECK(field_of(R"({"model":5})") == "model");
  CHECK(field_of(R"({"product":true})") == "product");
  CHECK(field_of(R"({"model":"m","cost":0})") == "cost");
  CHECK(field_of(R"({"model":"m","cost":2})") == "(none)");
}

TEST_CASE("request fields: priority is an integer from 0 to 1000, or null for the account's") {
  auto take = [](std::string_view text, admit_request& msg) {
    static constexpr std::string_view names[] = {"priority"};
    json_member m[1];
    REQUIRE(read_members(text, names, m, 1) == json_read::ok);
    return usher::actors::http::take_priority(m[0], msg);
  };
  admit_request none;
  CHECK(take(R"({"priority":null})", none).empty());
  CHECK(none.priority == -1);
  admit_request top;
  CHECK(take(R"({"priority":1000})", top).empty());
  CHECK(top.priority == 1000);
  admit_request zero;
  CHECK(take(R"({"priority":0})", zero).empty());
  CHECK(zero.priority == 0);
  admit_request bad;
  for (auto text : {R"({"priority":1001})", R"({"priority":-1})", R"({"priority":"high"})",
                    R"({"priority":1.5})"})
    CHECK(take(text, bad) == "'priority' must be an integer from 0 to 1000");
  CHECK(bad.priority == -1);
}

// The access-log converter: nginx, Envoy, JSON-lines and logfmt logs to a
// trace sorted by arrival, row by row; bad lines counted and listed by line
// number; mapping errors named.
#include <catch2/catch.hpp>

#include "policies/input_error.hpp"
#include "tests/traces/converters/shared_traces.hpp"
#include "traces/converters/converters.hpp"

using namespace usher;
using usher::test::scratch_file;
using usher::test::slurp;
using usher::test::write_file;

namespace {

const char* nginx_with_request_time =
    "nginx:$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent "
    "\"$http_referer\" \"$http_user_agent\" $request_time";

traces::convert_options log_options(const std::string& name, const std::string& text,
                                    const std::string& format) {
  traces::convert_options o;
  o.input = write_file(name, text);
  o.output = scratch_file(name + ".csv");
  o.log_format = format;
  return o;
}

}  // namespace

TEST_CASE("nginx lines end at their time: arrival = time - request_time, sorted, 5xx failed") {
  auto o = log_options(
      "access.log",
      "10.0.0.1 - acme [10/Oct/2023:13:55:40 +0000] \"POST /v1/chat HTTP/1.1\" 200 512 \"-\" "
      "\"curl/8.0\" 4.500\n"
      "10.0.0.2 - beta [10/Oct/2023:13:55:38 +0000] \"POST /v1/chat HTTP/1.1\" 200 100 \"-\" "
      "\"python-requests/2.31 (a \\x22quoted\\x22 agent)\" 0.250\n"
      "\n"
      "10.0.0.1 - acme [10/Oct/2023:15:55:41 +0200] \"POST /v1/chat HTTP/1.1\" 503 0 \"-\" "
      "\"curl/8.0\" 1.000\n",
      nginx_with_request_time);
  o.field_map = {{"account", "remote_user"}};
  auto r = traces::convert_trace("access-log", o);
  CHECK(r.rows == 3);
  CHECK(r.source_records == 3);
  CHECK(r.warnings.empty());
  CHECK(slurp(o.output) ==
        "id,arrival_s,account,model,duration_s,fail\n"
        "1,0,acme,,4.5,0\n"
        "2,2.25,beta,,0.25,0\n"
        "3,4.5,acme,,1,1\n");
  REQUIRE(r.notes.size() == 2);
  CHECK(r.notes[0].rfind("arrival: the log's time is when a request ended", 0) == 0);
  CHECK(r.notes[1] ==
        "status: kept rows of every status (1 with 5xx have fail=1); --status succeed keeps "
        "only those below 400");

  SECTION("--status succeed leaves the 503 out and says so") {
    o.succeed_only = true;
    r = traces::convert_trace("access-log", o);
    CHECK(slurp(o.output) ==
          "id,arrival_s,account,model,duration_s\n"
          "1,0,acme,,4.5\n"
          "2,2.25,beta,,0.25\n");
    CHECK(r.notes.back() == "status: left out 1 rows with status 400 or more (--status succeed)");
  }
  SECTION("--log-time start takes the logged time as the arrival") {
    o.log_time = "start";
    traces::convert_trace("access-log", o);
    CHECK(slurp(o.output) ==
          "id,arrival_s,account,model,duration_s,fail\n"
          "1,0,beta,,0.25,0\n"
          "2,2,acme,,4.5,0\n"
          "3,3,acme,,1,1\n");
  }
}

TEST_CASE("Envoy's default format: START_TIME is the arrival, DURATION in milliseconds") {
  auto line = [](const char* start, int code, int ms, const char* host) {
    return std::string("[") + start + "] \"POST /v1/chat/completions HTTP/1.1\" " +
           std::to_string(code) + " - 120 2048 " + std::to_string(ms) +
           " 1490 \"-\" \"curl/8.0\" \"req-1\" \"" + host + "\" \"10.1.0.5:8000\"\n";
  };
  auto o = log_options("envoy.log",
                       line("2023-10-10T13:55:36.310Z", 200, 1500, "acme.example.com") +
                           line("2023-10-10T13:55:36.010Z", 429, 2, "beta.example.com") +
                           line("2023-10-10T15:55:37.000+02:00", 200, 250, "acme.example.com"),
                       "envoy");
  o.field_map = {{"account", "REQ(:AUTHORITY)"}};
  auto r = traces::convert_trace("access-log", o);
  CHECK(r.rows == 3);
  CHECK(slurp(o.output) ==
        "id,arrival_s,account,model,duration_s,fail\n"
        "1,0,beta.example.com,,0.002,0\n"
        "2,0.3,acme.example.com,,1.5,0\n"
        "3,0.99,acme.example.com,,0.25,0\n");
}

TEST_CASE("JSON lines: dotted fields, milliseconds, bad lines listed by number") {
  auto o = log_options(
      "api.jsonl",
      "{\"ts\": \"2023-10-10T13:55:36Z\", \"org\": {\"id\": \"acme\"}, \"model\": \"llama-70b\", "
      "\"latency_ms\": 1200, \"code\": 200}\n"
      "{\"ts\": \"2023-10-10T13:55:35.5Z\", \"org\": {\"id\": \"beta\"}, \"model\": \"llama-8b\", "
      "\"latency_ms\": 300, \"code\": 500}\n"
      "not json\n"
      "{\"ts\": \"2023-10-10T13:55:37Z\", \"org\": {\"id\": \"acme\"}, \"code\": 200}\n"
      "{\"ts\": \"yesterday\", \"org\": {\"id\": \"acme\"}, \"model\": \"m\", \"latency_ms\": 1, "
      "\"code\": 200}\n",
      "json");
  o.field_map = {{"arrival", "ts"},
                 {"account", "org.id"},
                 {"model", "model"},
                 {"duration", "latency_ms"},
                 {"status", "code"}};
  o.duration_unit = "ms";
  auto r = traces::convert_trace("access-log", o);
  CHECK(r.rows == 2);
  CHECK(r.source_records == 5);
  CHECK(slurp(o.output) ==
        "id,arrival_s,account,model,duration_s,fail\n"
        "1,0,beta,llama-8b,0.3,1\n"
        "2,0.5,acme,llama-70b,1.2,0\n");
  auto file = o.input;
  REQUIRE(r.warnings.size() == 4);
  CHECK(r.warnings[0] == file + ": left out 3 of 5 lines that could not be read:");
  CHECK(r.warnings[1] == "  " + file + ":3: expected one JSON object per line");
  CHECK(r.warnings[2] == "  " + file + ":4: field 'latency_ms': missing");
  CHECK(r.warnings[3] == "  " + file +
                             ":5: field 'ts' (arrival): expected a time (--time-format auto), "
                             "got \"yesterday\"");
}

TEST_CASE("logfmt lines, as usher serve's access log writes them, convert the same way") {
  auto o = log_options(
      "node.log",
      "time=1696946136.5 account=acme route=\"POST /v1/admit\" status=200 code= wait=120ms "
      "lease=5c4e request_id=r1 held=2.5s\n"
      "time=1696946136.25 account=\"beta \\\"b\\\"\" route=\"POST /v1/admit\" status=429 "
      "code=rate_limited wait=0 lease=- request_id=r2 held=0\n"
      "time=1696946137 account=- route=\"POST /v1/admit\" status=401 held=0\n",
      "logfmt");
  o.field_map = {
      {"arrival", "time"}, {"account", "account"}, {"status", "status"}, {"duration", "held"}};
  auto r = traces::convert_trace("access-log", o);
  CHECK(r.rows == 2);
  REQUIRE(r.warnings.size() == 2);
  CHECK(r.warnings[1] == "  " + o.input + ":3: field 'account': missing");
  CHECK(slurp(o.output) ==
        "id,arrival_s,account,model,duration_s,fail\n"
        "1,0,\"beta \"\"b\"\"\",,0,0\n"
        "2,0.25,acme,,2.5,0\n");
}

TEST_CASE("usher serve's own log: admissions paired with releases by lease and refusals kept") {
  // Lines as actors/http/access_log.cpp writes them: each at its answer.
  const std::string p = "time=2026-12-04T10:00:";
  const std::string c = " request_id=r client=127.0.0.1 ";
  auto o = log_options(
      "usher-node.log",
      p + "01.000Z" + c +
          "account=acme method=POST route=admit status=200 code=- wait_ms=0.000 lease=L1 "
          "ticket=- duration_ms=0.500\n" +
          p + "01.200Z" + c +
          "account=beta method=POST route=admit status=429 code=concurrency_limit wait_ms=- "
          "lease=- ticket=- duration_ms=0.200\n" +
          p + "02.000Z" + c +
          "account=acme method=POST route=admit status=202 code=- wait_ms=- lease=- ticket=T1 "
          "duration_ms=1.000\n" +
          p + "02.500Z" + c +
          "account=- method=GET route=metrics status=200 code=- wait_ms=- lease=- ticket=- "
          "duration_ms=0.300\n" +
          p + "03.000Z" + c +
          "account=acme method=DELETE route=lease_release status=200 code=- wait_ms=- lease=L1 "
          "ticket=- duration_ms=0.100\n" +
          p + "04.500Z" + c +
          "account=acme method=GET route=ticket_poll status=200 code=- wait_ms=1500.000 "
          "lease=L2 ticket=T1 duration_ms=1000.000\n" +
          p + "05.000Z" + c +
          "account=beta method=POST route=admit status=200 code=- wait_ms=0.000 lease=L3 "
          "ticket=- duration_ms=1.000\n" +
          "time=2026-12-04T10:00:05.5Z status=abc duration_ms=1\n" + p + "06.000Z" + c +
          "account=beta method=POST route=lease_renew status=200 code=- wait_ms=- lease=L3 "
          "ticket=- duration_ms=0.100\n" +
          p + "07.000Z" + c +
          "account=acme method=DELETE route=lease_release status=200 code=- wait_ms=- lease=L2 "
          "ticket=- duration_ms=0.100\n" +
          p + "08.000Z" + c +
          "account=- method=GET route=- status=404 code=unknown_route wait_ms=- lease=- "
          "ticket=- duration_ms=0.010\n",
      "usher");
  o.lease_ttl = 10'000'000;
  auto r = traces::convert_trace("access-log", o);
  CHECK(r.source_records == 11);
  REQUIRE(r.warnings.size() == 2);
  CHECK(r.warnings[1] ==
        "  " + o.input + ":8: field 'status': expected an HTTP status from 100 to 599, got \"abc\"");
  // L1: arrival 1.000 - 0.0005, held from its grant (wait 0) to its release
  // at 3.000; the 429 at 1.2 - 0.0002 lasts 0; T1 arrived at 2.000 - 0.001,
  // was granted L2 1.5 s later (3.499) and released at 7.000; L3, never
  // released, ends at its renew (6.000) + the 10 s TTL.
  CHECK(slurp(o.output) ==
        "id,arrival_s,account,model,duration_s\n"
        "1,0,acme,,2.0005\n"
        "2,0.2003,beta,,0\n"
        "3,0.9995,acme,,3.501\n"
        "4,3.9995,beta,,11.001\n");
  auto has_note = [&](const std::string& text) {
    for (auto& n : r.notes)
      if (n.find(text) != std::string::npos) return true;
    return false;
  };
  CHECK(has_note("1 leases never released in the log end at their last renew + the lease TTL "
                 "(--lease-ttl 10 s)"));
  CHECK(has_note("1 refused admissions kept as rows of duration 0"));
  CHECK(has_note("skipped 2 lines that admit nothing ((no route) 1, metrics 1)"));

  SECTION("--status succeed leaves the refusals out") {
    o.succeed_only = true;
    traces::convert_trace("access-log", o);
    CHECK(slurp(o.output) ==
          "id,arrival_s,account,model,duration_s\n"
          "1,0,acme,,2.0005\n"
          "2,0.9995,acme,,3.501\n"
          "3,3.9995,beta,,11.001\n");
  }
  SECTION("its fields are known: --map is refused") {
    o.field_map = {{"account", "client"}};
    CHECK_THROWS_WITH(traces::convert_trace("access-log", o),
                      Catch::Contains("--log-format usher knows its fields"));
  }
}

TEST_CASE("more bad lines than are listed: the first ten, and the total") {
  std::string text = "1696946136 a 1\n";
  for (int i = 0; i < 14; ++i) text += "time=x\n";
  auto o = log_options("many.log", text, "nginx:$msec $remote_user $request_time");
  auto r = traces::convert_trace("access-log", o);
  CHECK(r.rows == 1);
  REQUIRE(r.warnings.size() == 11);
  CHECK(r.warnings[0] ==
        o.input + ": left out 14 of 15 lines that could not be read; the first 10:");
  CHECK(r.warnings[1].find("many.log:2: does not match the format: expected \" \" after field "
                           "'msec'") != std::string::npos);
  CHECK(r.warnings[10].find("many.log:11: ") != std::string::npos);
}

TEST_CASE("access-log errors name the file, the option or the field at fault") {
  auto o = log_options("bad.log", "nothing like nginx\nnor this\n", nginx_with_request_time);
  SECTION("no line parses: an error naming the file") {
    CHECK_THROWS_WITH(traces::convert_trace("access-log", o),
                      o.input +
                          ": no line could be read (2 lines; first, line 1: "
                          "does not match the format: expected \" - \" after field "
                          "'remote_addr')");
  }
  SECTION("an unknown --map key") {
    o.field_map = {{"acount", "remote_user"}};
    CHECK_THROWS_WITH(traces::convert_trace("access-log", o),
                      "--map: unknown key \"acount\"; did you mean \"account\"? (keys: arrival, "
                      "duration, account, model, status)");
  }
  SECTION("a field the format does not have") {
    o.field_map = {{"account", "remote_usr"}};
    CHECK_THROWS_WITH(traces::convert_trace("access-log", o),
                      Catch::StartsWith("--map: account=remote_usr: the log format has no field "
                                        "\"remote_usr\"; did you mean \"remote_user\"? (fields: "
                                        "remote_addr, remote_user, time_local,"));
  }
  SECTION("combined has no duration") {
    o.log_format = "combined";
    CHECK_THROWS_WITH(traces::convert_trace("access-log", o),
                      Catch::Contains("access-log needs duration=FIELD"));
  }
  SECTION("no --log-format") {
    o.log_format.clear();
    CHECK_THROWS_WITH(traces::convert_trace("access-log", o),
                      Catch::StartsWith("--log-format: access-log needs one"));
  }
  SECTION("a pattern with two fields side by side") {
    o.log_format = "nginx:$msec$status";
    CHECK_THROWS_WITH(traces::convert_trace("access-log", o),
                      "--log-format: fields 'msec' and 'status' have no text between them, so a "
                      "line cannot be split");
  }
}

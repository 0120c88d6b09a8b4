// `usher trace convert --from access-log` as users meet it: a production
// log becomes a trace `usher simulate` replays; bad lines are listed on
// stderr with their numbers even with -q; a mapping error exits 2.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "support/usher_cli.hpp"

namespace fs = std::filesystem;

using namespace usher::testing;

namespace {

const char* nginx_format =
    "'nginx:$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent "
    "\"$http_referer\" \"$http_user_agent\" $request_time'";

std::string nginx_log() {
  auto path = scratch("access.log.gz");
  auto plain = scratch("access.log");
  std::ofstream(plain)
      << "10.0.0.1 - acme [10/Oct/2023:13:55:40 +0000] \"POST /v1/chat HTTP/1.1\" 200 512 \"-\" "
         "\"curl/8.0\" 4.500\n"
         "10.0.0.9 - - [10/Oct/2023:13:55:39 +0000] \"GET /healthz HTTP/1.1\" 200 2 \"-\" \"-\" "
         "0.001\n"
         "10.0.0.2 - beta [10/Oct/2023:13:55:38 +0000] \"POST /v1/chat HTTP/1.1\" 200 100 \"-\" "
         "\"python-requests/2.31\" 0.250\n"
         "truncated line\n"
         "10.0.0.1 - acme [10/Oct/2023:15:55:41 +0200] \"POST /v1/chat HTTP/1.1\" 503 0 \"-\" "
         "\"curl/8.0\" 1.000\n";
  // A rotated log is gzip-compressed: read it as it is.
  REQUIRE(std::system(("gzip -c '" + plain.string() + "' > '" + path.string() + "'").c_str()) == 0);
  return path.string();
}

}  // namespace

TEST_CASE("an nginx access log converts to a trace that usher simulate replays") {
  auto log = nginx_log();
  auto trace = scratch("from-nginx.csv").string();
  auto r = run_usher("trace convert --from access-log " + log + " " + trace + " --log-format " +
                     nginx_format + " --map account=remote_user");
  CHECK(r.code == 0);
  CHECK(r.out == "wrote 3 rows to " + trace + " (arrivals 0 .. 4.5 s; 5 source records read)\n");
  CHECK(r.err.find("warning: " + log +
                   ": left out 2 of 5 lines that could not be read:\n"
                   "warning:   " +
                   log +
                   ":2: field 'remote_user': missing\n"
                   "warning:   " +
                   log +
                   ":4: does not match the format: expected \" - \" after "
                   "field 'remote_addr'\n") != std::string::npos);
  CHECK(r.err.find("note: arrival: the log's time is when a request ended") != std::string::npos);
  CHECK(slurp(trace) ==
        "id,arrival_s,account,model,duration_s,fail\n"
        "1,0,acme,,4.5,0\n"
        "2,2.25,beta,,0.25,0\n"
        "3,4.5,acme,,1,1\n");

  auto sim = run_usher("simulate --plan streams:solo --trace " + trace + " --out " +
                       scratch("from-nginx-run").string());
  CHECK(sim.code == 0);
  CHECK(sim.out.find("3 rows, 2 accounts") != std::string::npos);
  auto outcomes = slurp(scratch_root() / "from-nginx-run" / "outcomes.csv");
  CHECK(outcomes.find("3,acme,,,4.5,4.5,5.5,0,500,0,") != std::string::npos);

  SECTION("-q keeps the bad lines on stderr and drops the rest") {
    auto quiet = run_usher("trace convert --from access-log " + log + " " + trace +
                           " --log-format " + nginx_format + " --map account=remote_user -q");
    CHECK(quiet.code == 0);
    CHECK(quiet.out.empty());
    CHECK(quiet.err.find(log + ":4: does not match") != std::string::npos);
    CHECK(quiet.err.find("note:") == std::string::npos);
  }
}

TEST_CASE("usher trace convert --from access-log names a mapping error and writes nothing") {
  auto log = nginx_log();
  auto trace = scratch("mapped.csv").string();
  auto r = run_usher("trace convert --from access-log " + log + " " + trace + " --log-format " +
                     nginx_format + " --map account=remote_usr");
  CHECK(r.code == 2);
  CHECK(r.err.rfind("usher trace convert: --map: account=remote_usr: the log format has no field "
                    "\"remote_usr\"; did you mean \"remote_user\"? (fields: remote_addr, ",
                    0) == 0);
  CHECK_FALSE(fs::exists(trace));

  auto malformed = run_usher("trace convert --from access-log " + log + " " + trace +
                             " --log-format combined --map account");
  CHECK(malformed.code == 2);
  CHECK(malformed.err == "usher trace convert: --map: expected KEY=FIELD, got \"account\"\n");

  auto unreadable =
      run_usher("trace convert --from access-log " + log + " " + trace + " --log-format envoy");
  CHECK(unreadable.code == 2);
  CHECK(unreadable.err.rfind("usher trace convert: " + log +
                                 ": no line could be read (5 lines; "
                                 "first, line 1: does not match the format: expected \"[\" at the "
                                 "start)",
                             0) == 0);
  CHECK_FALSE(fs::exists(trace));
}

// The Mooncake converter: JSON lines (timestamp in ms) to arrivals, bad
// lines named by file and line, and the FAST '25 traces' row counts.
#include <catch2/catch.hpp>

#include "policies/input_error.hpp"
#include "tests/traces/converters/shared_traces.hpp"
#include "traces/converters/converters.hpp"
#include "traces/trace_stats.hpp"

using namespace usher;
using usher::test::scratch_file;
using usher::test::slurp;
using usher::test::write_file;

TEST_CASE("mooncake lines become arrivals at timestamp / 1000 with token-model durations") {
  traces::convert_options o;
  o.input = write_file(
      "tiny.jsonl",
      "{\"timestamp\": 0, \"input_length\": 1000, \"output_length\": 10, \"hash_ids\": [0, 1]}\n"
      "\n"
      "{\"timestamp\": 1500, \"input_length\": 10, \"output_length\": 100, \"hash_ids\": [0]}\n");
  o.output = scratch_file("tiny.jsonl.csv");
  o.model = "kimi";
  o.accounts = 1;
  auto r = traces::convert_trace("mooncake", o);
  CHECK(r.rows == 2);
  CHECK(slurp(o.output) ==
        "id,arrival_s,account,model,duration_s,input_tokens,output_tokens\n"
        "1,0,acct-1,kimi,0.7,1000,10\n"
        "2,1.5,acct-1,kimi,3.202,10,100\n");
}

TEST_CASE("a malformed mooncake line is refused naming file and line") {
  traces::convert_options o;
  o.output = scratch_file("bad.jsonl.csv");
  SECTION("not JSON") {
    o.input = write_file(
        "bad.jsonl",
        "{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 1}\n{\"timestamp\": 5,\n");
    CHECK_THROWS_WITH(
        traces::convert_trace("mooncake", o),
        Catch::Contains("bad.jsonl:2: expected one JSON object per line: syntax error"));
  }
  SECTION("a field missing") {
    o.input = write_file("bad.jsonl", "{\"timestamp\": 0, \"input_length\": 1}\n");
    CHECK_THROWS_WITH(traces::convert_trace("mooncake", o),
                      Catch::EndsWith("bad.jsonl:1: field 'output_length': missing"));
  }
  SECTION("a negative number") {
    o.input =
        write_file("bad.jsonl", "{\"timestamp\": -4, \"input_length\": 1, \"output_length\": 1}\n");
    CHECK_THROWS_WITH(
        traces::convert_trace("mooncake", o),
        Catch::EndsWith(
            "bad.jsonl:1: field 'timestamp': expected a non-negative number, got \"-4\""));
  }
}

TEST_CASE("the Mooncake traces convert to 12031 and 3993 rows") {
  USHER_SHARED_TRACE(conversation, "mooncake-fast25/conversation_trace.jsonl.gz");
  USHER_SHARED_TRACE(synthetic, "mooncake-fast25/synthetic_trace.jsonl.gz");
  struct expected {
    std::string path;
    std::uint64_t rows;
    policies::usec last;
  };
  // SOURCES.md: conversation 0 -> 3,536,999 ms; synthetic over 1,022 s.
  for (auto& e :
       {expected{conversation, 12031, 3'536'999'000}, expected{synthetic, 3993, 1'022'025'000}}) {
    traces::convert_options o;
    o.input = e.path;
    o.output = scratch_file("mooncake.csv");
    auto r = traces::convert_trace("mooncake", o);
    CHECK(r.rows == e.rows);
    CHECK(r.source_records == e.rows);
    CHECK(r.last == e.last);
    CHECK(traces::compute_trace_stats(o.output, 0).rows == e.rows);
  }
}

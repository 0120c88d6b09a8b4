// The GenTD26 converter: groups as accounts, measured durations, status
// handling and cost, and the numbers SOURCES.md gives for the real trace
// (26,823 rows over 23.03 days, 4,247 accounts, peak concurrency 22).
#include <catch2/catch.hpp>
#include <map>
#include <set>

#include "policies/input_error.hpp"
#include "tests/traces/converters/shared_traces.hpp"
#include "traces/converters/converters.hpp"
#include "traces/trace_stats.hpp"

using namespace usher;
using usher::test::csv_rows;
using usher::test::scratch_file;
using usher::test::slurp;
using usher::test::write_file;

namespace {
const char* tiny_gentd26 =
    "gmt_create,predict_type,predict_status,exec_time_seconds,groupId,prompt_length,"
    "negative_prompt_length,num_images_per_prompt,num_inference_steps,checkpoint_model_version_id,"
    "num_lora\n"
    "2024-11-15 16:57:50,TXT_2_IMG,SUCCEED,32.0,G0000,63.0,26.0,1.0,30.0,M0000,0\n"
    "2024-11-15 16:58:00,TXT_2_IMG,FAILED,4.5,G0001,93.0,,2.0,40.0,M0001,0\n"
    "2024-11-15 16:58:01,TXT_2_IMG,PENDING,0.0,G0001,,,,,,0\n";
}

TEST_CASE("gentd26 keeps every status by default and flags FAILED rows") {
  traces::convert_options o;
  o.input = write_file("tiny_gentd26.csv", tiny_gentd26);
  o.output = scratch_file("tiny_gentd26.out.csv");
  auto r = traces::convert_trace("gentd26", o);
  CHECK(slurp(o.output) ==
        "id,arrival_s,account,model,duration_s,fail\n"
        "1,0,G0000,M0000,32,0\n"
        "2,10,G0001,M0001,4.5,1\n"
        "3,11,G0001,,0,0\n");
  REQUIRE(r.notes.size() == 1);
  CHECK(r.notes[0].find("--status succeed") != std::string::npos);

  SECTION("--status succeed keeps only SUCCEED rows, and images x steps is the cost") {
    o.succeed_only = true;
    o.cost = "images-steps";
    traces::convert_trace("gentd26", o);
    CHECK(slurp(o.output) == "id,arrival_s,account,model,duration_s,cost\n1,0,G0000,M0000,32,30\n");
  }
  SECTION("a cost mode of another format is refused") {
    o.cost = "tokens";
    CHECK_THROWS_WITH(
        traces::convert_trace("gentd26", o),
        "--cost: \"tokens\" is not available for gentd26 (expected none or images-steps)");
  }
}

TEST_CASE("gentd26 without a needed column is refused naming the column") {
  traces::convert_options o;
  o.input =
      write_file("no_group.csv",
                 "gmt_create,predict_status,exec_time_seconds\n2024-11-15 16:57:50,SUCCEED,1\n");
  o.output = scratch_file("no_group.out.csv");
  CHECK_THROWS_WITH(traces::convert_trace("gentd26", o),
                    Catch::Contains("no_group.csv:1: column 'groupId': missing from the header"));
}

TEST_CASE(
    "GenTD26 converts to 26823 rows over 23.03 days with 4247 accounts and peak concurrency 22") {
  USHER_SHARED_TRACE(lora, "alibaba-gentd26/lora_request_trace.csv.gz");
  traces::convert_options o;
  o.input = lora;
  o.output = scratch_file("gentd26.csv");
  auto r = traces::convert_trace("gentd26", o);
  CHECK(r.rows == 26823);
  auto s = traces::compute_trace_stats(o.output, 1);
  CHECK(s.rows == 26823);
  CHECK(s.accounts == 4247);
  CHECK(s.peak_concurrency == 22);
  // 2024-11-15 16:57:50 -> 2024-12-08 17:33:57.
  CHECK(s.last - s.first == policies::seconds(23 * 86400 + 36 * 60 + 7));
  CHECK(s.top[0].account == "G0264");
  CHECK(s.top[0].requests == 1207);
  // exec_time_seconds: mean 28.7, p50 23, p90 53, p99 106, max 567.
  CHECK(s.duration_p50 == policies::seconds(23));
  CHECK(s.duration_p99 == policies::seconds(106));
  CHECK(s.duration_max == policies::seconds(567));

  SECTION("--status succeed keeps the 26392 SUCCEED rows") {
    o.succeed_only = true;
    CHECK(traces::convert_trace("gentd26", o).rows == 26392);
  }
  SECTION("--accounts 20 maps each group to one of 20 accounts, the same one every time") {
    o.accounts = 20;
    auto before = csv_rows(o.output);
    o.output = scratch_file("gentd26-20.csv");
    traces::convert_trace("gentd26", o);
    auto after = csv_rows(o.output);
    REQUIRE(after.size() == before.size());
    std::map<std::string, std::string> mapping;
    std::set<std::string> accounts;
    for (std::size_t i = 1; i < after.size(); ++i) {
      auto [it, fresh] = mapping.emplace(before[i][2], after[i][2]);
      CHECK(it->second == after[i][2]);
      accounts.insert(after[i][2]);
    }
    CHECK(accounts.size() <= 20);
    CHECK(accounts.size() >= 15);
    // Zipf: acct-01 gets the most groups (about 28 % of them for 20 accounts).
    std::map<std::string, int> groups;
    for (auto& [group, account] : mapping) ++groups[account];
    CHECK(groups["acct-01"] > 900);
    CHECK(groups["acct-01"] > groups["acct-02"]);
  }
}

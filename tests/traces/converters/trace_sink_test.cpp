// traces/converters/trace_sink: the options every converter shares (fixed
// account and model, model renames, time window), and output that usher's
// own trace reader accepts row for row.
#include <catch2/catch.hpp>

#include "policies/plan.hpp"
#include "tests/traces/converters/shared_traces.hpp"
#include "traces/converters/converters.hpp"
#include "traces/trace_reader.hpp"

using namespace usher;
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
    "2024-11-15 16:58:20,TXT_2_IMG,SUCCEED,7,G0002,93.0,,2.0,40.0,M0002,0\n";
}

TEST_CASE("model renames, a fixed account and a time window apply to every converter's rows") {
  traces::convert_options o;
  o.input = write_file("sink_gentd26.csv", tiny_gentd26);
  o.output = scratch_file("sink_gentd26.out.csv");
  SECTION("--model-map renames the models it names and keeps the rest") {
    o.model_map = {{"M0001", "sdxl"}, {"M9999", "unused"}};
    traces::convert_trace("gentd26", o);
    CHECK(slurp(o.output) ==
          "id,arrival_s,account,model,duration_s,fail\n"
          "1,0,G0000,M0000,32,0\n2,10,G0001,sdxl,4.5,1\n3,30,G0002,M0002,7,0\n");
  }
  SECTION("--account and --model fix both columns") {
    o.account = "acme";
    o.model = "sd";
    traces::convert_trace("gentd26", o);
    CHECK(slurp(o.output) ==
          "id,arrival_s,account,model,duration_s,fail\n"
          "1,0,acme,sd,32,0\n2,10,acme,sd,4.5,1\n3,30,acme,sd,7,0\n");
  }
  SECTION("--from-s and --to-s keep [A, B) of source time, rebased to A and then scaled") {
    o.from = policies::seconds(10);
    o.to = policies::seconds(30);
    o.time_scale = 2;
    auto r = traces::convert_trace("gentd26", o);
    CHECK(slurp(o.output) == "id,arrival_s,account,model,duration_s,fail\n1,0,G0001,M0001,4.5,1\n");
    CHECK(r.rows == 1);
    o.from = policies::seconds(5);
    o.to = policies::never;
    traces::convert_trace("gentd26", o);
    CHECK(slurp(o.output) ==
          "id,arrival_s,account,model,duration_s,fail\n1,10,G0001,M0001,4.5,1\n2,50,G0002,M0002,7,"
          "0\n");
  }
}

TEST_CASE("converted traces read back through usher's trace reader") {
  traces::convert_options o;
  o.input = write_file("sink_llm_code.csv",
                       "TIMESTAMP,ContextTokens,GeneratedTokens\n"
                       "2023-11-16 18:17:03.9799600,100,10\n2023-11-16 18:17:04.0319600,1000,0\n");
  o.output = scratch_file("sink_llm.out.csv");
  o.cost = "tokens";
  traces::convert_trace("azure-llm", o);
  auto plan = policies::plan::build("weighted", {});
  traces::trace_reader reader(o.output, plan);
  std::vector<policies::arrival> rows;
  std::string error;
  REQUIRE(reader.read(rows, 10, error));
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].duration == 520'000);
  CHECK(rows[1].at == 52'000);
  CHECK(rows[1].req.cost == 1000);  // the trace's own cost
  CHECK(reader.models().name(rows[0].req.model) == "code");

  o.input = write_file("sink_gentd26.csv", tiny_gentd26);
  o.cost = "none";
  traces::convert_trace("gentd26", o);
  traces::trace_reader again(o.output, plan);
  rows.clear();
  REQUIRE(again.read(rows, 10, error));
  REQUIRE(rows.size() == 3);
  CHECK(rows[1].fail);
  CHECK_FALSE(rows[0].fail);
}

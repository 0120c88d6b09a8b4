// The Azure LLM converter: timestamps to arrivals, tokens to durations
// through the service-time model, windows and time scale, and the real
// Splitwise traces' row counts and spans (docs/TRACES.md, SOURCES.md).
#include <catch2/catch.hpp>

#include "policies/input_error.hpp"
#include "tests/traces/converters/shared_traces.hpp"
#include "traces/converters/converters.hpp"
#include "traces/trace_stats.hpp"

using namespace usher;
using usher::test::csv_rows;
using usher::test::scratch_file;
using usher::test::slurp;
using usher::test::write_file;

TEST_CASE("azure-llm rows become arrivals from the first timestamp and token-model durations") {
  traces::convert_options o;
  o.input = write_file("tiny_code.csv",
                       "TIMESTAMP,ContextTokens,GeneratedTokens\n"
                       "2023-11-16 18:17:03.9799600,100,10\n"
                       "2023-11-16 18:17:04.0319600,1000,0\n"
                       "2023-11-16 18:17:05.0000004,0,1\n");
  o.output = scratch_file("tiny_code.out.csv");
  o.account = "solo";
  auto r = traces::convert_trace("azure-llm", o);
  CHECK(r.rows == 3);
  // 0.2 + 0.0002 x 100 + 0.03 x 10 = 0.52 s, and so on; the model is the file name's tail.
  CHECK(slurp(o.output) ==
        "id,arrival_s,account,model,duration_s,input_tokens,output_tokens\n"
        "1,0,solo,code,0.52,100,10\n"
        "2,0.052,solo,code,0.4,1000,0\n"
        "3,1.02004,solo,code,0.23,0,1\n");

  SECTION("the service-time model's parameters are used exactly") {
    o.service.overhead = 0;
    o.service.prefill_per_token = 1;    // 1 us per input token
    o.service.decode_per_token = 1000;  // 1 ms per output token
    o.cost = "tokens";
    REQUIRE(traces::convert_trace("azure-llm", o).rows == 3);
    auto rows = csv_rows(o.output);
    CHECK(rows[0][5] == "cost");
    CHECK(rows[1][4] == "0.0101");
    CHECK(rows[1][5] == "110");
    CHECK(rows[2][4] == "0.001");
  }
}

TEST_CASE("azure-llm input out of time order is refused with file and line") {
  traces::convert_options o;
  o.input = write_file("unsorted_llm.csv",
                       "TIMESTAMP,ContextTokens,GeneratedTokens\n"
                       "2023-11-16 18:17:05,1,1\n2023-11-16 18:17:04,1,1\n");
  o.output = scratch_file("unsorted_llm.out.csv");
  CHECK_THROWS_WITH(traces::convert_trace("azure-llm", o),
                    Catch::Contains("unsorted_llm.csv:3: column 'TIMESTAMP': rows must be sorted"));
}

TEST_CASE("the Azure LLM 2023 traces convert to 8819 and 19366 rows over about 58 minutes") {
  USHER_SHARED_TRACE(code, "azure-llm-2023/AzureLLMInferenceTrace_code.csv");
  USHER_SHARED_TRACE(conv, "azure-llm-2023/AzureLLMInferenceTrace_conv.csv");
  struct expected {
    std::string path;
    std::uint64_t rows;
    const char* last;
  };
  // SOURCES.md: code 18:17:03.98 -> 19:14:19.93 (3,436 s), conv 18:15:46.68 -> 19:14:08.40 (3,502
  // s).
  for (auto& e : {expected{code, 8819, "3435.948056"}, expected{conv, 19366, "3501.721937"}}) {
    traces::convert_options o;
    o.input = e.path;
    o.output = scratch_file("azure-llm.csv");
    auto r = traces::convert_trace("azure-llm", o);
    CHECK(r.rows == e.rows);
    CHECK(r.first == 0);
    CHECK(policies::format_seconds(r.last) == e.last);
    auto stats = traces::compute_trace_stats(o.output, 3);
    CHECK(stats.rows == e.rows);
    CHECK(stats.accounts == 10);  // the default synthetic accounts
    CHECK(stats.top[0].account == "acct-01");
  }
}

TEST_CASE("a source window is rebased to 0 and time-scaled and keeps each row's account draw") {
  USHER_SHARED_TRACE(conv, "azure-llm-2023/AzureLLMInferenceTrace_conv.csv");
  traces::convert_options full;
  full.input = conv;
  full.output = scratch_file("conv-full.csv");
  traces::convert_trace("azure-llm", full);
  std::vector<std::vector<std::string>> in_window;
  for (auto& row : csv_rows(full.output)) {
    if (row[0] == "id") continue;
    double t = std::stod(row[1]);
    if (t >= 600 && t < 1200) in_window.push_back(row);
  }
  REQUIRE(in_window.size() > 1000);

  auto part = full;
  part.output = scratch_file("conv-part.csv");
  part.from = policies::seconds(600);
  part.to = policies::seconds(1200);
  part.time_scale = 0.5;
  auto r = traces::convert_trace("azure-llm", part);
  auto rows = csv_rows(part.output);
  REQUIRE(r.rows == in_window.size());
  REQUIRE(rows.size() == in_window.size() + 1);
  for (std::size_t i = 0; i < in_window.size(); ++i) {
    double t = std::stod(rows[i + 1][1]);
    CHECK(t == Approx((std::stod(in_window[i][1]) - 600) * 0.5).margin(1e-6));
    CHECK(rows[i + 1][2] == in_window[i][2]);  // the same account
    CHECK(rows[i + 1][4] == in_window[i][4]);  // durations are not scaled
  }
  CHECK(r.last < policies::seconds(300));
}

// The ServeGen converter: each active client window becomes arrivals whose
// count has mean rate x rate-scale x 600 and whose gaps follow the window's
// Gamma or Weibull shape, rescaled to fill the window as construct.py does.
#include <array>
#include <catch2/catch.hpp>
#include <cmath>
#include <map>

#include "policies/input_error.hpp"
#include "tests/traces/converters/shared_traces.hpp"
#include "traces/converters/converters.hpp"
#include "traces/csv_table.hpp"
#include "traces/trace_stats.hpp"

using namespace usher;
using usher::test::csv_rows;
using usher::test::scratch_file;
using usher::test::slurp;
using usher::test::write_file;

namespace {
const char* header =
    "category,model,client_id,window_start_s,rate_rps,iat_cv,iat_dist,dist_shape,dist_scale\n";
}

TEST_CASE(
    "servegen draws exactly rate x scale x 600 arrivals inside each window when that is whole") {
  std::string text = header;
  for (int w = 0; w < 3; ++w) {
    auto start = std::to_string(600 * w);
    text += "language,m-large,0," + start + ",2.0,1.5,Gamma,0.5,2.0\n";
    text += "language,m-large,1," + start + ",0.2,2.0,Weibull,0.6,1.0\n";
    text += "language,m-mid,7," + start + ",0,0,,0,0\n";  // inactive
  }
  traces::convert_options o;
  o.input = write_file("tiny_windows.csv", text);
  o.output = scratch_file("tiny_windows.out.csv");
  o.rate_scale = 0.5;
  auto r = traces::convert_trace("servegen", o);
  CHECK(r.source_records == 6);
  CHECK(r.rows == 3 * (600 + 60));
  std::map<std::string, std::array<int, 3>> counts;
  auto rows = csv_rows(o.output);
  CHECK(rows[0] == std::vector<std::string>{"id", "arrival_s", "account", "model", "duration_s",
                                            "input_tokens", "output_tokens"});
  double last = 0;
  for (std::size_t i = 1; i < rows.size(); ++i) {
    double t = std::stod(rows[i][1]);
    CHECK(t >= last);
    last = t;
    ++counts[rows[i][2]][static_cast<std::size_t>(t / 600)];
    CHECK(rows[i][3] == "m-large");
  }
  CHECK(counts["m-large/0"] == std::array<int, 3>{600, 600, 600});
  CHECK(counts["m-large/1"] == std::array<int, 3>{60, 60, 60});
  CHECK(counts.size() == 2);
  REQUIRE(r.notes.size() == 2);
  CHECK(r.notes[1].find("no --token-stats") != std::string::npos);

  SECTION("token stats give each client's token counts") {
    o.token_stats =
        write_file("tiny_tokens.csv",
                   "category,model,client_id,window_start_s,field,mean,p50,p90,p99,max\n"
                   "language,m-large,0,0,input_tokens,100,100,100,100,100\n"
                   "language,m-large,0,0,output_tokens,10,10,10,10,10\n");
    r = traces::convert_trace("servegen", o);
    REQUIRE(r.notes.size() == 2);
    CHECK(r.notes[1] == "tokens: 1 clients have no token stats and used the default means");
    for (auto& row : csv_rows(o.output))
      if (row[2] == "m-large/0") CHECK(row[4] == "0.52");  // 0.2 + 0.0002 x 100 + 0.03 x 10
  }
  SECTION("--models keeps the named models and refuses unknown ones") {
    o.models = {"m-mid"};
    CHECK(traces::convert_trace("servegen", o).rows == 0);
    o.models = {"m-huge"};
    CHECK_THROWS_WITH(traces::convert_trace("servegen", o),
                      Catch::StartsWith("--models: no rows for model \"m-huge\""));
  }
}

TEST_CASE("servegen's fractional expected counts are met on average") {
  std::string text = header;
  for (int w = 0; w < 400; ++w)
    text += "reason,deepseek-r1,3," + std::to_string(600 * w) + ",0.0025,1,Gamma,1,1\n";
  traces::convert_options o;
  o.input = write_file("sparse_windows.csv", text);
  o.output = scratch_file("sparse_windows.out.csv");
  o.rate_scale = 0.5;  // 0.75 expected arrivals per window; construct.py's ceil would give 0
  auto r = traces::convert_trace("servegen", o);
  // 300 expected, sigma = sqrt(400 x 0.75 x 0.25) = 8.7.
  CHECK(r.rows >= 265);
  CHECK(r.rows <= 335);
}

TEST_CASE(
    "ServeGen deepseek-r1's first two hours convert at the published rates within tolerance") {
  USHER_SHARED_TRACE(windows, "servegen/servegen_client_windows.csv.gz");
  USHER_SHARED_TRACE(tokens, "servegen/servegen_client_token_stats.csv.gz");
  const double scale = 0.05;
  // The expected count per client, from the file itself.
  std::map<std::string, double> expected;
  std::size_t active = 0;
  {
    traces::csv_table in(windows);
    int model = in.require("model", ""), client = in.require("client_id", ""),
        start = in.require("window_start_s", ""), rate = in.require("rate_rps", ""),
        dist = in.require("iat_dist", "");
    while (in.next()) {
      if (in.text(model) != "deepseek-r1" || in.text(dist).empty() || in.count(start) >= 7200)
        continue;
      expected["deepseek-r1/" + std::string(in.text(client))] += in.number(rate) * scale * 600;
      ++active;
    }
  }
  REQUIRE(active > 50);
  traces::convert_options o;
  o.input = windows;
  o.token_stats = tokens;
  o.output = scratch_file("servegen-r1.csv");
  o.models = {"deepseek-r1"};
  o.to = policies::seconds(7200);
  o.rate_scale = scale;
  auto r = traces::convert_trace("servegen", o);
  CHECK(r.source_records == active);
  double total = 0;
  for (auto& [client, n] : expected) total += n;
  // The count of each window varies only by its rounding: sigma <= sqrt(windows) / 2.
  double tolerance = 4 * std::sqrt(static_cast<double>(active)) / 2 + 1;
  CHECK(std::abs(static_cast<double>(r.rows) - total) <= tolerance);
  auto s = traces::compute_trace_stats(o.output, 3);
  CHECK(s.last < policies::seconds(7200));
  for (auto& top : s.top) {
    INFO(top.account);
    CHECK(std::abs(static_cast<double>(top.requests) - expected[top.account]) <= tolerance);
  }

  SECTION("the same seed gives byte-identical output, another seed a different one") {
    auto again = o;
    again.output = scratch_file("servegen-r1-again.csv");
    traces::convert_trace("servegen", again);
    CHECK(slurp(again.output) == slurp(o.output));
    again.seed = 2;
    traces::convert_trace("servegen", again);
    CHECK(slurp(again.output) != slurp(o.output));
  }
}

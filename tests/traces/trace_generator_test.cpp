// traces/trace_generator: Poisson rates, business hours, on/off bursts,
// Zipf accounts, model mixes and duration means, all fixed by the seed.
#include "traces/trace_generator.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <map>

#include "policies/input_error.hpp"
#include "tests/traces/converters/shared_traces.hpp"
#include "traces/trace_stats.hpp"

using namespace usher;
using usher::test::csv_rows;
using usher::test::scratch_file;
using usher::test::slurp;

TEST_CASE("a Poisson trace has its rate within statistical tolerance") {
  traces::generator_options o;
  o.rate = 20;
  o.span = policies::seconds(1000);
  auto path = scratch_file("poisson.csv");
  auto rows = traces::generate_trace(o, path);
  // 20,000 expected, sigma 141.
  CHECK(std::abs(static_cast<double>(rows) - 20000) < 600);
  // Gaps are exponential: as many in the first half-mean as a Poisson process has.
  auto csv = csv_rows(path);
  REQUIRE(csv.size() == rows + 1);
  CHECK(csv[0] == std::vector<std::string>{"id", "arrival_s", "account", "model", "duration_s"});
  int short_gaps = 0;
  double total_duration = 0;
  for (std::size_t i = 2; i < csv.size(); ++i) {
    if (std::stod(csv[i][1]) - std::stod(csv[i - 1][1]) < 0.025) ++short_gaps;
    total_duration += std::stod(csv[i][4]);
  }
  CHECK(short_gaps / double(rows) == Approx(1 - std::exp(-0.5)).epsilon(0.05));
  CHECK(total_duration / double(rows) == Approx(10).epsilon(0.05));  // exponential, mean 10 s
  auto s = traces::compute_trace_stats(path, 10);
  CHECK(s.accounts == 10);
  CHECK(s.top[0].account == "acct-01");
  CHECK(s.last < policies::seconds(1000));
}

TEST_CASE(
    "a diurnal trace runs at the rate in business hours and at the off-hours factor outside") {
  traces::generator_options o;
  o.pattern = "diurnal";
  o.rate = 1;
  o.off_hours_factor = 0.25;
  o.span = policies::seconds(2 * 86400);
  auto path = scratch_file("diurnal.csv");
  traces::generate_trace(o, path);
  double business = 0, other = 0;
  for (auto& row : csv_rows(path)) {
    if (row[0] == "id") continue;
    double hour = std::fmod(std::stod(row[1]), 86400) / 3600;
    (hour >= 9 && hour < 17 ? business : other) += 1;
  }
  // 2 days x 8 h x 3600 x 1/s = 57,600; 2 x 16 h x 3600 x 0.25/s = 28,800.
  CHECK(business == Approx(57600).epsilon(0.03));
  CHECK(other == Approx(28800).epsilon(0.03));
}

TEST_CASE("an on/off trace is silent for the share of time its OFF periods take") {
  traces::generator_options o;
  o.pattern = "onoff";
  o.rate = 1;
  o.on_mean = policies::seconds(30);
  o.off_mean = policies::seconds(90);
  o.span = policies::seconds(400000);
  auto path = scratch_file("onoff.csv");
  auto rows = traces::generate_trace(o, path);
  // ON a quarter of the time: 400,000 x 1 / 4 = 100,000, give or take about 2 % (the periods).
  CHECK(static_cast<double>(rows) == Approx(100000).epsilon(0.1));
  // Gaps over 20 s only happen in OFF periods; a Poisson trace at this rate has none.
  int long_gaps = 0;
  auto csv = csv_rows(path);
  for (std::size_t i = 2; i < csv.size(); ++i)
    if (std::stod(csv[i][1]) - std::stod(csv[i - 1][1]) > 20) ++long_gaps;
  CHECK(long_gaps > 100);
}

TEST_CASE("the model mix and per-model mean durations are followed") {
  traces::generator_options o;
  o.rate = 50;
  o.span = policies::seconds(400);
  o.models = traces::parse_model_mix("big:3:20,small:1", "--models");
  o.duration_dist = "lognormal";
  o.mean_duration = policies::seconds(2);
  auto path = scratch_file("mix.csv");
  traces::generate_trace(o, path);
  std::map<std::string, std::pair<int, double>> per_model;
  double big_squares = 0;
  for (auto& row : csv_rows(path)) {
    if (row[0] == "id") continue;
    per_model[row[3]].first += 1;
    per_model[row[3]].second += std::stod(row[4]);
    if (row[3] == "big") big_squares += std::stod(row[4]) * std::stod(row[4]);
  }
  double n = per_model["big"].first + per_model["small"].first;
  CHECK(per_model["big"].first / n == Approx(0.75).epsilon(0.03));
  CHECK(per_model["big"].second / per_model["big"].first == Approx(20).epsilon(0.08));
  CHECK(per_model["small"].second / per_model["small"].first == Approx(2).epsilon(0.08));
  // The log-normal's coefficient of variation is the default 1.
  double mean = per_model["big"].second / per_model["big"].first;
  double sd = std::sqrt(big_squares / per_model["big"].first - mean * mean);
  CHECK(sd / mean == Approx(1.0).epsilon(0.15));
}

TEST_CASE("the same seed gives a byte-identical trace and another seed a different one") {
  traces::generator_options o;
  o.span = policies::seconds(600);
  auto a = scratch_file("gen-a.csv"), b = scratch_file("gen-b.csv"), c = scratch_file("gen-c.csv");
  traces::generate_trace(o, a);
  traces::generate_trace(o, b);
  o.seed = 2;
  traces::generate_trace(o, c);
  CHECK(slurp(a).size() > 1000);
  CHECK(slurp(a) == slurp(b));
  CHECK(slurp(a) != slurp(c));
}

TEST_CASE("bad generator options are refused naming the option") {
  traces::generator_options o;
  o.pattern = "sawtooth";
  CHECK_THROWS_WITH(traces::validate(o),
                    "--pattern: expected poisson, diurnal or onoff, got \"sawtooth\"");
  CHECK_THROWS_WITH(traces::parse_model_mix("big:x", "--models"),
                    "--models: the weight must be a positive number in \"big:x\" (expected "
                    "NAME:WEIGHT[:MEAN_S],...)");
}

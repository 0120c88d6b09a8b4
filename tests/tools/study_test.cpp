// The study of docs/STUDY.md on the public Azure LLM conversation trace
// (read in place, skipped when absent): the claims its text makes about the
// fair share of a busy model hold for the trace as converted there.
#include <catch2/catch.hpp>

#include <map>
#include <sstream>

#include "support/usher_cli.hpp"
#include "traces/converters/shared_traces.hpp"

using usher::testing::run_usher;
using usher::testing::scratch;
using usher::testing::slurp;

namespace {

struct account_row {
  double requests = 0, rate_200 = 0, wait_mean_s = 0;
};

// compare.csv's account rows: plan index -> account -> its numbers.
std::map<int, std::map<std::string, account_row>> account_rows(const std::filesystem::path& csv) {
  std::istringstream in(slurp(csv));
  std::string line;
  std::getline(in, line);
  REQUIRE(line.rfind("plan_index,plan,scope,account,requests,rate_200,", 0) == 0);
  std::map<int, std::map<std::string, account_row>> out;
  while (std::getline(in, line)) {
    // Fields split at commas outside quotes (the plan column may be quoted).
    std::vector<std::string> f(1);
    bool quoted = false;
    for (char c : line) {
      if (c == '"') quoted = !quoted;
      else if (c == ',' && !quoted) f.emplace_back();
      else f.back() += c;
    }
    REQUIRE(f.size() >= 12);
    if (f[2] != "account") continue;
    // plan_index, plan, scope, account, requests, rate_200, ..., wait_mean_s (12th)
    out[std::stoi(f[0])][f[3]] = account_row{std::stod(f[4]), std::stod(f[5]), std::stod(f[11])};
  }
  return out;
}

}  // namespace

TEST_CASE("the study: a fair share of a busy model serves the small accounts at once, at the busiest one's expense",
          "[tools][study]") {
  USHER_SHARED_TRACE(source, "azure-llm-2023/AzureLLMInferenceTrace_conv.csv");
  auto conv = scratch("study-conv.csv");
  auto converted = run_usher("trace convert --from azure-llm " + source + " " + conv.string() +
                             " --accounts 50 --seed 3");
  INFO(converted.err);
  REQUIRE(converted.code == 0);
  auto out = scratch("study-out");
  auto r = run_usher("compare -q --trace " + conv.string() +
                     " --plan streams:team@model_capacity.conv=40"
                     " --plan streams:team@model_capacity.conv=40,capacity_order=fair --out " + out.string());
  INFO(r.err);
  REQUIRE(r.code == 0);
  auto rows = account_rows(out / "compare.csv");
  REQUIRE(rows[1].size() == 50);
  auto small = [&](int plan, double account_row::*field) {
    double n = 0, sum = 0;
    for (auto& [name, a] : rows[plan]) {
      if (name == "acct-01" || name == "acct-02" || name == "acct-03") continue;
      n += a.requests;
      sum += a.requests * (a.*field);
    }
    return sum / n;
  };
  // First come, first served: the 47 small accounts wait as long as everyone.
  CHECK(small(1, &account_row::wait_mean_s) > 5);
  // The fair share: they wait a tenth of that or less, all served ...
  CHECK(small(2, &account_row::wait_mean_s) < small(1, &account_row::wait_mean_s) / 10);
  CHECK(small(2, &account_row::rate_200) == 1);
  // ... and the busiest account, which causes the shortage, bears it.
  CHECK(rows[2]["acct-01"].wait_mean_s > rows[1]["acct-01"].wait_mean_s);
  CHECK(rows[2]["acct-01"].rate_200 < rows[1]["acct-01"].rate_200 - 0.03);
}

// usher advise on traces built to need a known size: the smallest tier (or
// limit) that clears an account's signals is found, one account at a time.
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/usher_cli.hpp"
#include "tools/advisor.hpp"

using namespace usher;
namespace fs = std::filesystem;

namespace {

// Each account keeps `concurrent` requests in flight for the first hour:
// every 10 s, `concurrent` requests of 10 s arrive as the previous ones end.
fs::path steady_trace(const std::string& name, const std::vector<std::pair<std::string, int>>& accounts) {
  auto path = testing::scratch(name + ".csv");
  fs::create_directories(path.parent_path());
  std::ofstream out(path);
  out << "arrival_s,account,duration_s\n";
  for (int t = 0; t < 3600; t += 10)
    for (auto& [account, concurrent] : accounts)
      for (int i = 0; i < concurrent; ++i) out << t << "," << account << ",10\n";
  return path;
}

const tools::account_advice& of(const tools::advice& a, const std::string& name) {
  for (auto& x : a.accounts)
    if (x.account == name) return x;
  FAIL("no advice for " << name);
  return a.accounts.front();
}

}  // namespace

TEST_CASE("advise names solo, team or the smallest platform size that clears the streams signals") {
  auto path = steady_trace("streams", {{"two", 2}, {"eight", 8}, {"fifteen", 15}});
  traces::loaded_trace trace(path.string());
  tools::advise_request r;
  // Business hours are the trace's hour, so "maxed out" can be seen.
  r.plan = "streams:team@signals.business_hours=0-1";
  r.jobs = 2;
  auto a = tools::advise_plan(trace, r);
  REQUIRE(a.accounts.size() == 3);
  CHECK(of(a, "two").advice_tier == "solo");
  CHECK(of(a, "two").advice_limit == 3);
  // 8 at once needs 10 streams: team.
  CHECK(of(a, "eight").advice_tier == "team");
  CHECK_FALSE(of(a, "eight").maxed);
  // 15 at once: 15 streams admit all but sit at the limit all hour (maxed
  // out through business hours), so 16 is the smallest that clears.
  const auto& big = of(a, "fifteen");
  CHECK(big.advice_tier == "platform");
  CHECK(big.advice_limit == 16);
  CHECK(big.found);
  // Observed under team: queueing, with the waits and maxed-out signals.
  CHECK(big.maxed);
  CHECK(big.waits);
}

TEST_CASE("advise finds the smallest weighted limit that keeps 429 under the target") {
  auto path = steady_trace("weighted", {{"five", 5}, {"twelve", 12}});
  traces::loaded_trace trace(path.string());
  tools::advise_request r;
  r.plan = "weighted";
  r.target_reject = 0.01;
  auto a = tools::advise_plan(trace, r);
  CHECK(of(a, "five").advice_limit == 5);
  CHECK(of(a, "five").reject_rate_at_advice == 0);
  CHECK(of(a, "twelve").advice_limit == 12);
  // Under the preset's limit of 8, 4 of every 12 are turned away.
  CHECK(of(a, "twelve").reject_rate == Approx(4.0 / 12).margin(1e-6));
  // Accepting a third of requests refused allows 8.
  r.target_reject = 0.34;
  CHECK(of(tools::advise_plan(trace, r), "twelve").advice_limit == 8);
}

TEST_CASE("advise writes advise.csv and advise.json and refuses a family it cannot size") {
  auto path = steady_trace("cli", {{"eight", 8}});
  auto out = testing::scratch("advise-out");
  auto r = testing::run_usher("advise --trace " + path.string() +
                              " --family streams --set signals.business_hours=0-1 --out " + out.string());
  REQUIRE(r.code == 0);
  CHECK(r.err.empty());
  CHECK(r.out.find("team (10)") != std::string::npos);
  auto csv = testing::slurp(out / "advise.csv");
  CHECK(csv.find("\neight,2880,team,10,") != std::string::npos);
  auto js = nlohmann::json::parse(testing::slurp(out / "advise.json"));
  CHECK(js["accounts"][0]["advice"]["tier"] == "team");
  auto bad = testing::run_usher("advise --trace " + path.string() + " --family session-rate");
  CHECK(bad.code == 2);
  CHECK(bad.err.find("session-rate has no size to advise") != std::string::npos);
  auto mismatch = testing::run_usher("advise --trace " + path.string() + " --family weighted --plan streams");
  CHECK(mismatch.code == 2);
}

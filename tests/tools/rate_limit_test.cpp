// Requests and tokens per minute end to end (issue #13, docs/PLANS.md "Rate
// limits"): a simulation's refusals against a reference written here, the
// trace's token columns checked with their place, and a live node answering
// 429 with a Retry-After from the bucket's refill.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "support/live_node.hpp"
#include "support/usher_cli.hpp"

using usher::testing::key_line;
using usher::testing::live_node;
using usher::testing::run_usher;
using usher::testing::scratch;
using usher::testing::slurp;

namespace {

// The `reason` column of outcomes.csv, in trace order.
std::vector<std::string> reasons(const std::filesystem::path& outcomes) {
  std::vector<std::string> out;
  for (auto& row : usher::testing::csv_rows(outcomes)) out.push_back(row["reason"]);
  return out;
}

}  // namespace

TEST_CASE("a simulation refuses by tokens and requests per minute exactly as two token buckets do") {
  // 400 requests, one every 0.1 s: 15 tokens each for 20 s (the request
  // rate bites), then 450 each (the token rate bites), under 300 requests
  // and 12,000 tokens a minute with a 10 s burst.
  auto trace = scratch("rate-trace.csv");
  auto size = [](int i) { return i < 200 ? 15 : 450; };
  {
    std::ofstream out(trace);
    out << "arrival_s,account,duration_s,input_tokens,output_tokens\n";
    for (int i = 0; i < 400; ++i)
      out << i / 10 << "." << i % 10 << ",acme,0.05," << size(i) - (i < 200 ? 5 : 50) << ","
          << (i < 200 ? 5 : 50) << "\n";
  }
  // The reference, in units (exact in doubles: every 0.1 s brings half a
  // request and 20 tokens); both buckets start full (10 s of each rate).
  std::vector<std::string> expected;
  double requests = 50, tokens = 2000;
  for (int i = 0; i < 400; ++i) {
    if (i > 0) {
      requests = std::min(50.0, requests + 0.5);
      tokens = std::min(2000.0, tokens + 20);
    }
    if (requests < 1) {
      expected.push_back("request_rate");
    } else if (tokens < size(i)) {
      expected.push_back("token_rate");
    } else {
      requests -= 1;
      tokens -= size(i);
      expected.push_back("");
    }
  }
  auto out = scratch("rate-out");
  auto r = run_usher("simulate -q --trace " + trace.string() +
                     " --plan streams:platform@tokens_per_minute=12000,requests_per_minute=300,rate.burst=10s"
                     " --out " + out.string());
  INFO(r.err);
  REQUIRE(r.code == 0);
  auto got = reasons(out / "outcomes.csv");
  CHECK(got == expected);
  // Each rate bites, and neither always.
  CHECK(std::count(got.begin(), got.begin() + 200, "request_rate") > 20);
  CHECK(std::count(got.begin() + 200, got.end(), "token_rate") > 100);
  CHECK(std::count(got.begin(), got.end(), "") > 100);
  auto summary = nlohmann::json::parse(slurp(out / "summary.json"));
  CHECK(summary["plan"]["settings"]["tokens_per_minute"] == "12000");
}

TEST_CASE("a simulation refuses by a model's own requests per minute, that model only") {
  // 300 requests, one every 0.1 s, alternating models a and b; a may start
  // 60 a minute with a 10 s burst (10 at once, then one a second), b has no
  // rate of its own, and the account none.
  auto trace = scratch("model-rate-trace.csv");
  {
    std::ofstream out(trace);
    out << "arrival_s,account,model,duration_s\n";
    for (int i = 0; i < 300; ++i) out << i / 10 << "." << i % 10 << ",acme," << (i % 2 ? "b" : "a") << ",0.05\n";
  }
  // The reference in tenths of a request: full at 100, +1 each 0.1 s.
  std::vector<std::string> expected;
  std::int64_t level = 100;
  for (int i = 0; i < 300; ++i) {
    if (i > 0) level = std::min<std::int64_t>(100, level + 1);
    if (i % 2) {
      expected.push_back("");
    } else if (level < 10) {
      expected.push_back("request_rate");
    } else {
      level -= 10;
      expected.push_back("");
    }
  }
  auto out = scratch("model-rate-out");
  auto r = run_usher("simulate -q --trace " + trace.string() +
                     " --plan streams:platform@requests_per_minute.a=60,rate.burst=10s --out " + out.string());
  INFO(r.err);
  REQUIRE(r.code == 0);
  auto got = reasons(out / "outcomes.csv");
  CHECK(got == expected);
  CHECK(std::count(got.begin(), got.end(), "request_rate") > 100);
  auto summary = nlohmann::json::parse(slurp(out / "summary.json"));
  CHECK(summary["plan"]["settings"]["requests_per_minute.a"] == "60");
  // Only plan-wide: an account's own rate for a model is refused with its place.
  auto per_account = run_usher("simulate -q --trace " + trace.string() +
                               " --plan streams@account.acme.requests_per_minute.a=5 --out " + out.string());
  CHECK(per_account.code == 2);
  CHECK(per_account.err.find("account.acme.requests_per_minute.a") != std::string::npos);
}

TEST_CASE("bad token columns and rate keys are refused with their place") {
  auto trace = scratch("rate-bad.csv");
  std::ofstream(trace) << "arrival_s,account,duration_s,input_tokens,output_tokens\n0,a,1,10,5\n1,a,1,-3,5\n";
  auto r = run_usher("simulate -q --trace " + trace.string() + " --plan streams --out " + scratch("rate-bad-out").string());
  CHECK(r.code == 2);
  CHECK(r.err.find("rate-bad.csv:3: column 'input_tokens': expected an integer from 0 to 1000000000, got \"-3\"") !=
        std::string::npos);
  auto key = run_usher("simulate -q --trace " + trace.string() + " --plan streams@tokens_per_minute=0 --out " +
                       scratch("rate-bad-out").string());
  CHECK(key.code == 2);
  CHECK(key.err.find("tokens_per_minute: expected an integer from 1 to 1000000000 or \"none\", got \"0\"") !=
        std::string::npos);
}

TEST_CASE("a live node answers 429 token_rate with a Retry-After from the bucket's refill") {
  live_node node("[account.acme]\nplan = weighted\nlimit = 100\ntokens_per_minute = 600\n"
                 "requests_per_minute = 5\n" + key_line("acme-key"));
  auto a = node.admit("acme-key", {{"tokens", 500}});
  REQUIRE(a.status == 200);
  auto refused = node.admit("acme-key", {{"tokens", 200}});
  CHECK(refused.status == 429);
  CHECK(refused.json()["error"]["code"] == "token_rate");
  // 100 tokens left of 600 a minute: 100 more come within 10 s.
  auto retry = std::stoi(refused.header(boost::beast::http::field::retry_after));
  CHECK(retry >= 1);
  CHECK(retry <= 10);
  auto never = node.admit("acme-key", {{"tokens", 601}});
  CHECK(never.status == 429);
  CHECK(never.header(boost::beast::http::field::retry_after) == "");  // bigger than a full bucket
  auto bad = node.admit("acme-key", {{"tokens", "many"}});
  CHECK(bad.status == 400);
  CHECK(bad.json()["error"]["param"] == "tokens");
  // Requests without tokens still count against the request rate: 5 a minute.
  CHECK(node.admit("acme-key").status == 200);
  CHECK(node.admit("acme-key").status == 200);
  CHECK(node.admit("acme-key").status == 200);
  auto fifth = node.admit("acme-key");
  auto sixth = node.admit("acme-key");
  CHECK(fifth.status == 200);
  CHECK(sixth.status == 429);
  CHECK(sixth.json()["error"]["code"] == "request_rate");
}

TEST_CASE("a live node's adaptive limit learns from its leases' holds and reports the limit as it is now") {
  // A slow lease (held longer than the 50 ms target) halves the limit of 4.
  live_node node("[account.acme]\nplan = streams\nlimit = 4\nqueue.max_depth = 0\nadaptive = aimd\nadaptive.target = 50ms\n"
                 "adaptive.backoff = 0.5\n" + key_line("acme-key"));
  auto concurrency = [&] { return node.call(boost::beast::http::verb::get, "/account/concurrency", "acme-key").json(); };
  CHECK(concurrency()["limit"] == 4);
  auto a = node.admit("acme-key");
  auto b = node.admit("acme-key");
  REQUIRE(a.status == 200);
  REQUIRE(b.status == 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // at least 200 ms held: slow
  auto released = node.call(boost::beast::http::verb::delete_, "/v1/leases/" + a.json()["lease"].get<std::string>(),
                            "acme-key");
  REQUIRE(released.status / 100 == 2);
  CHECK(concurrency()["limit"] == 2);
  // One lease held of 2: the next fits, the one after does not (429), though
  // the plan's limit is 4.
  CHECK(node.admit("acme-key").status == 200);
  auto over = node.admit("acme-key");
  CHECK(over.status == 429);
  CHECK(over.json()["error"]["code"] == "concurrency_limit");
}

TEST_CASE("a live node serves a waiting request at the priority it asks for, cut to priority.max") {
  live_node node("[plan.shared]\npreset = per-model\nmodel_capacity.m = 1\nqueue.max_depth = 5\n"
                 "priority.max = 3\n[account.acme]\nplan = shared\n" + key_line("acme-key") +
                 "[account.beta]\nplan = shared\n" + key_line("beta-key"));
  auto held = node.admit("acme-key", {{"model", "m"}});
  REQUIRE(held.status == 200);
  auto ask = [](const std::string& key, const std::string& body) {
    return "POST /v1/admit HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key +
           "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  };
  // beta waits first at its account's level (0), then acme at level 2.
  usher::testing::raw_conn older(node.port);
  REQUIRE(older.send(ask("beta-key", R"({"model":"m"})")));
  REQUIRE(usher::testing::eventually([&] { return node.metric("usher_queued{account=\"beta\"}") == 1; }));
  usher::testing::raw_conn urgent(node.port);
  REQUIRE(urgent.send(ask("acme-key", R"({"model":"m","priority":2})")));
  REQUIRE(usher::testing::eventually([&] { return node.metric("usher_queued{account=\"acme\"}") == 1; }));
  CHECK(node.release("acme-key", held.json()["lease"]).status == 200);
  auto first = urgent.read_response();
  REQUIRE(first);
  CHECK(first->status == 200);
  CHECK(node.metric("usher_queued{account=\"beta\"}") == 1);  // still waiting
  auto bad = node.admit("acme-key", {{"model", "m"}, {"priority", 1001}});
  CHECK(bad.status == 400);
  CHECK(bad.json()["error"]["param"] == "priority");
}

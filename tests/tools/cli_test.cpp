// The usher binary as users meet it: exit codes, exact error text (golden
// files in tests/tools/golden/), and outputs that are complete or absent.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/usher_cli.hpp"

namespace fs = std::filesystem;

using namespace usher::testing;

namespace {

const std::string sample = "--trace samples/sample-trace.csv --plan samples/plans/team.ini";

}  // namespace

TEST_CASE("bad input exits 2 with a message naming file, line and column") {
  auto out = scratch("bad").string();
  struct example {
    const char* args;
    const char* golden;
  };
  for (auto ex : {example{"--plan streams --trace tests/tools/data/missing_column.csv", "missing_column.err"},
                  example{"--plan streams --trace tests/tools/data/bad_number.csv", "bad_number.err"},
                  example{"--plan streams --trace tests/tools/data/negative_duration.csv", "negative_duration.err"},
                  example{"--plan streams --trace tests/tools/data/unsorted.csv", "unsorted.err"},
                  example{"--plan streams --trace tests/tools/data/too_few_columns.csv", "too_few_columns.err"},
                  example{"--plan exclusive --trace tests/tools/data/missing_conn.csv", "missing_conn.err"},
                  example{"--plan tests/tools/data/bad_unit.ini --trace samples/sample-trace.csv", "bad_unit.err"},
                  example{"--plan tests/tools/data/unknown_key.ini --trace samples/sample-trace.csv", "unknown_key.err"},
                  example{"--plan streams:gold --trace samples/sample-trace.csv", "unknown_plan.err"},
                  example{"--plan streams --set queue.max_wait=soon --trace samples/sample-trace.csv", "bad_set.err"},
                  example{"--plan streams --trace no/such/file.csv", "missing_file.err"}}) {
    INFO(ex.args);
    auto r = run_usher(std::string("simulate ") + ex.args + " --out " + out);
    CHECK(r.code == 2);
    CHECK(r.err == golden(ex.golden));
    CHECK(r.out.empty());
    // No output that could pass for a complete run.
    CHECK_FALSE(fs::exists(fs::path(out) / "outcomes.csv"));
    CHECK_FALSE(fs::exists(fs::path(out) / "summary.json"));
    CHECK_FALSE(fs::exists(fs::path(out) / "timeseries.csv"));
  }
}

TEST_CASE("missing options and unknown commands exit 2 and --help exits 0") {
  CHECK(run_usher("simulate --plan streams").code == 2);
  CHECK(run_usher("frobnicate").code == 2);
  auto help = run_usher("simulate --help");
  CHECK(help.code == 0);
  CHECK(help.out.find("--plan") != std::string::npos);
  CHECK(run_usher("--help").code == 0);
}

TEST_CASE("the same trace and plan give byte-identical outputs, at any thread count") {
  auto a = scratch("det-a"), b = scratch("det-b"), c = scratch("det-c");
  auto ra = run_usher("simulate " + sample + " --out " + a.string());
  REQUIRE(ra.code == 0);
  REQUIRE(run_usher("simulate " + sample + " --out " + b.string()).code == 0);
  REQUIRE(run_usher("simulate " + sample + " --threads 2 --out " + c.string()).code == 0);
  for (auto* f : {"outcomes.csv", "summary.json", "timeseries.csv"}) {
    INFO(f);
    auto first = slurp(a / f);
    CHECK(first.size() > 100);
    CHECK(first == slurp(b / f));
    CHECK(first == slurp(c / f));
  }
  CHECK(ra.out.find("(all)") != std::string::npos);
}

TEST_CASE("outcomes.csv has one row per trace row, in trace order, with the documented header") {
  auto out = scratch("rows");
  REQUIRE(run_usher("simulate -q " + sample + " --out " + out.string()).code == 0);
  std::ifstream in(out / "outcomes.csv");
  std::string line;
  std::getline(in, line);
  CHECK(line == "id,account,key,model,arrival_s,start_s,end_s,wait_s,status,queued,reason");
  std::ifstream trace(fs::path(USHER_SOURCE_DIR) / "samples/sample-trace.csv");
  std::string trace_line;
  std::getline(trace, trace_line);
  std::size_t rows = 0;
  while (std::getline(in, line)) {
    REQUIRE(std::getline(trace, trace_line));
    // Same id, same order.
    CHECK(line.substr(0, line.find(',')) == trace_line.substr(0, trace_line.find(',')));
    ++rows;
  }
  CHECK(rows > 10000);
  CHECK_FALSE(std::getline(trace, trace_line));
}

// -- CLI habits (issue #15) ----------------------------------------------------

TEST_CASE("usher help CMD prints what usher CMD --help prints") {
  for (std::string cmd :
       {"simulate", "compare", "sweep", "advise", "plot", "trace", "trace gen", "trace stats"}) {
    INFO(cmd);
    auto help = run_usher("help " + cmd);
    auto flag = run_usher(cmd + " --help");
    CHECK(help.code == 0);
    CHECK(help.out == flag.out);
    CHECK(help.out.find("--") != std::string::npos);
  }
  CHECK(run_usher("trace help gen").out == run_usher("trace gen --help").out);
  CHECK(run_usher("help").out.find("help CMD") != std::string::npos);
  auto unknown = run_usher("help simulat");
  CHECK(unknown.code == 2);
  CHECK(unknown.err.rfind("usher: unknown command \"simulat\"; did you mean \"simulate\"?\n", 0) ==
        0);
}

TEST_CASE("unknown commands, options, presets and plan keys get a did-you-mean") {
  struct example {
    const char* args;
    const char* first_line;
  };
  for (auto ex :
       {example{"simulat --plan streams",
                "usher: unknown command \"simulat\"; did you mean \"simulate\"?"},
        example{"trace stat x.csv",
                "usher trace: unknown command \"stat\"; did you mean \"stats\"?"},
        example{"simulate --plan streams --tarce x.csv --out x",
                "usher simulate: unrecognised option '--tarce'; did you mean \"--trace\"?"},
        example{"sweep --trace x.csv --plan streams --vary limit=1 --jbos 2 --out x",
                "usher sweep: unrecognised option '--jbos'; did you mean \"--jobs\"?"},
        example{"trace gen --seeed 3 --out x.csv",
                "usher trace gen: unrecognised option '--seeed'; did you mean \"--seed\"?"},
        example{"simulate --plan stream:team --trace samples/sample-trace.csv --out x",
                "usher simulate: unknown plan \"stream:team\" (presets: exclusive, per-model, "
                "session-rate, streams, streams:platform, streams:solo, streams:team, weighted; "
                "or a plan file); did you mean \"streams:team\"?"},
        example{"simulate --plan streams --set account.acme.teir=solo --trace "
                "samples/sample-trace.csv --out x",
                "usher simulate: --set: account.acme.teir: unknown key (account.NAME.KEY takes an "
                "account key, see docs/PLANS.md); did you mean \"account.acme.tier\"?"},
        example{"simulate --plan streams@queue.max_wiat=3 --trace samples/sample-trace.csv --out x",
                "usher simulate: --plan streams@queue.max_wiat=3: queue.max_wiat: unknown key (see "
                "docs/PLANS.md for every key); did you mean \"queue.max_wait\"?"}}) {
    INFO(ex.args);
    auto r = run_usher(ex.args);
    CHECK(r.code == 2);
    CHECK(r.err.substr(0, r.err.find('\n')) == ex.first_line);
  }
  // No suggestion when nothing is near.
  auto far = run_usher("frobnicate");
  CHECK(far.err.find("did you mean") == std::string::npos);
}

TEST_CASE("simulate --interval takes a duration with a unit, as --stop does") {
  auto a = scratch("interval-1m"), b = scratch("interval-60"), c = scratch("interval-30s");
  REQUIRE(run_usher("simulate -q " + sample + " --interval 1m --out " + a.string()).code == 0);
  REQUIRE(run_usher("simulate -q " + sample + " --interval 60 --out " + b.string()).code == 0);
  REQUIRE(run_usher("simulate -q " + sample + " --interval 30s --out " + c.string()).code == 0);
  CHECK(slurp(a / "timeseries.csv") == slurp(b / "timeseries.csv"));
  CHECK(slurp(a / "summary.json") == slurp(b / "summary.json"));
  CHECK(slurp(c / "summary.json").find("\"interval_s\": 30.0") != std::string::npos);
  auto bad = run_usher("simulate -q " + sample + " --interval 5mins --out " + a.string());
  CHECK(bad.code == 2);
  CHECK(
      bad.err ==
      "usher simulate: --interval: expected a duration such as 60, 90s, 1m or 1h, got \"5mins\"\n");
}

TEST_CASE("a trace from stdin or gzip-compressed gives the outcomes of the plain file") {
  auto plain = scratch("trace-plain"), piped = scratch("trace-stdin"),
       zipped = scratch("trace-gzip");
  auto gz = scratch("sample-trace.csv.gz");
  REQUIRE(std::system(
              ("gzip -c '" + source_path("samples/sample-trace.csv") + "' > '" + gz.string() + "'")
                  .c_str()) == 0);
  REQUIRE(run_usher("simulate -q " + sample + " --out " + plain.string()).code == 0);
  REQUIRE(run_usher("simulate -q --plan samples/plans/team.ini --trace - --out " + piped.string() +
                    " < samples/sample-trace.csv")
              .code == 0);
  REQUIRE(run_usher("simulate -q --plan samples/plans/team.ini --trace " + gz.string() + " --out " +
                    zipped.string())
              .code == 0);
  for (auto* f : {"outcomes.csv", "timeseries.csv"}) {
    INFO(f);
    CHECK(slurp(piped / f) == slurp(plain / f));
    CHECK(slurp(zipped / f) == slurp(plain / f));
  }
  // A gzip stream from stdin too, and sweep reads it the same way.
  auto sweep_plain = scratch("sweep-plain"), sweep_piped = scratch("sweep-stdin");
  REQUIRE(
      run_usher("sweep -q -j1 " + sample + " --vary limit=8 --out " + sweep_plain.string()).code ==
      0);
  REQUIRE(run_usher("sweep -q -j1 --plan samples/plans/team.ini --trace - --vary limit=8 --out " +
                    sweep_piped.string() + " < " + gz.string())
              .code == 0);
  CHECK(slurp(sweep_piped / "sweep.csv") == slurp(sweep_plain / "sweep.csv"));
  // Bad rows on stdin are named as such.
  auto bad = run_usher("simulate -q --plan streams --trace - --out " +
                       scratch("stdin-bad").string() + " < tests/tools/data/unsorted.csv");
  CHECK(bad.code == 2);
  CHECK(bad.err.rfind("usher simulate: stdin:4: column 'arrival_s'", 0) == 0);
  // compare replays the trace once per plan: stdin would be empty the second time.
  auto twice = run_usher("compare --trace - --plan streams --plan streams:solo --out " +
                         scratch("stdin-compare").string() + " < samples/sample-trace.csv");
  CHECK(twice.code == 2);
  CHECK(twice.err.rfind("usher compare: --trace -: compare reads the trace once per plan", 0) == 0);
}

TEST_CASE(
    "a directory or an unreadable compression given as a trace gets an error that says what it "
    "is") {
  auto out = scratch("trace-kind");
  auto dir = run_usher("simulate --plan streams --trace samples --out " + out.string());
  CHECK(dir.code == 2);
  CHECK(dir.err == "usher simulate: samples: a directory, not a file\n");
  auto zst = scratch("trace.csv.zst");
  {
    std::ofstream f(zst, std::ios::binary);
    f << std::string("\x28\xb5\x2f\xfd\x00\x58", 6) << "rest";
  }
  auto z = run_usher("simulate --plan streams --trace " + zst.string() + " --out " + out.string());
  CHECK(z.code == 2);
  CHECK(z.err == "usher simulate: " + zst.string() +
                     ": compressed with zstd: usher reads plain or gzip-compressed text "
                     "(decompress it first)\n");
  auto stats = run_usher("trace stats samples");
  CHECK(stats.code == 2);
  CHECK(stats.err == "usher trace stats: samples: a directory, not a file\n");
  CHECK_FALSE(fs::exists(out));
}

namespace {

std::vector<std::string> words(const std::string& line) {
  std::vector<std::string> w;
  std::istringstream in(line);
  for (std::string s; in >> s;)
    if (s != "|") w.push_back(s);
  return w;
}

}  // namespace

TEST_CASE(
    "the simulate table adds up and its (all) utilisation is right on a run of many accounts") {
  // 105 accounts: one busy enough for 408 and 429, a few with 500 and 400,
  // and a long quiet tail, so the pools are used well under 1 % together.
  auto trace = scratch("many-accounts.csv");
  {
    std::vector<std::pair<double, std::string>> rows;
    for (int i = 0; i < 10; ++i) rows.push_back({0, "busy,100,request,,0"});
    for (int i = 0; i < 104; ++i) {
      char name[8];
      std::snprintf(name, sizeof(name), "a%03d", i);
      rows.push_back({1 + i * 0.01, std::string(name) + ",30,request,,0"});
      if (i % 10 == 0) rows.push_back({2 + i * 0.01, std::string(name) + ",5,request,,1"});
      if (i % 25 == 0) rows.push_back({3 + i * 0.01, std::string(name) + ",1,ws_request,c1,0"});
    }
    rows.push_back({10000, "a000,1,request,,0"});
    std::stable_sort(rows.begin(), rows.end(), [](auto& a, auto& b) { return a.first < b.first; });
    std::ofstream f(trace);
    f << "arrival_s,account,duration_s,kind,conn,fail\n";
    for (auto& [at, rest] : rows) f << at << "," << rest << "\n";
  }
  auto out = scratch("many-accounts");
  auto r = run_usher(
      "simulate --plan streams:solo --set queue.max_depth=2 --set queue.max_wait=5 --top 200 "
      "--trace " +
      trace.string() + " --out " + out.string());
  REQUIRE(r.code == 0);
  auto summary = nlohmann::json::parse(slurp(out / "summary.json"));
  std::istringstream table(r.out);
  std::string line;
  std::getline(table, line);  // plan | trace
  std::getline(table, line);
  CHECK(words(line) == std::vector<std::string>{"account", "requests", "200", "408", "429", "1008",
                                                "other", "queued", "p95", "wait", "peak", "util"});
  std::size_t rows = 0;
  std::vector<std::string> all;
  while (std::getline(table, line) && line.rfind("other statuses", 0) != 0 &&
         line.rfind("upgrade", 0) != 0) {
    auto w = words(line);
    REQUIRE(w.size() == 11);
    INFO(line);
    // Final statuses add up to the requests; queued stands apart.
    CHECK(std::stoll(w[1]) == std::stoll(w[2]) + std::stoll(w[3]) + std::stoll(w[4]) +
                                  std::stoll(w[5]) + std::stoll(w[6]));
    const auto& m = w[0] == "(all)" ? summary["overall"] : summary["accounts"][w[0]];
    CHECK(std::stoll(w[7]) == m["queued"].get<long long>());
    if (w[0] == "(all)") all = w;
    ++rows;
  }
  CHECK(rows == 106);
  CHECK(line == "other statuses: 400 x 5, 500 x 11 (docs/FORMATS.md)");
  REQUIRE(all.size() == 11);
  CHECK(std::stoll(all[3]) > 0);    // 408
  CHECK(std::stoll(all[4]) > 0);    // 429
  CHECK(std::stoll(all[6]) == 16);  // 400 and 500
  // (all): the mean use of every pool together, of the summed limits.
  double used = 0, limits = 0;
  for (auto& [name, m] : summary["accounts"].items()) {
    used += m["used_units"]["mean"].get<double>();
    limits += m["limit"].get<double>();
  }
  CHECK(limits == 105 * 3);
  double utilization = summary["overall"]["utilization"].get<double>();
  CHECK(utilization == Approx(used / limits).margin(2e-6));  // both rounded to 6 decimals
  char expected[16];
  std::snprintf(expected, sizeof(expected), "%.1f%%", utilization * 100);
  CHECK(all[10] == expected);
  CHECK(all[10] != "0.0%");
}

TEST_CASE("advise names the 429 share it judged by and its target") {
  auto r = run_usher(
      "advise -j1 --trace samples/sample-trace.csv --family weighted --target-reject 0.02");
  REQUIRE(r.code == 0);
  CHECK(r.out.find("429 now  smallest limit with 429 <= 2.00%") != std::string::npos);
  CHECK(r.out.find("target (--target-reject): at most 2.00%") != std::string::npos);
}

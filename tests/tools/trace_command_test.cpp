// `usher trace` as users meet it: exit codes, exact error text (golden files
// in tests/tools/golden/trace_*.err), and outputs that are complete or absent.
#include <catch2/catch.hpp>
#include <filesystem>

#include "support/usher_cli.hpp"

namespace fs = std::filesystem;

using namespace usher::testing;

namespace {

cli_result usher_trace(const std::string& args) { return run_usher("trace " + args); }

}  // namespace

TEST_CASE(
    "usher trace convert refuses bad input with exit 2 naming file and line, and writes nothing") {
  auto out = (scratch_root() / "bad.csv").string();
  struct example {
    const char* args;
    const char* golden;
  };
  for (auto ex :
       {example{"--from parquet tests/tools/data/trace_bad_line.jsonl", "trace_unknown_format.err"},
        example{"--from mooncake tests/tools/data/trace_bad_line.jsonl", "trace_bad_line.err"},
        example{"--from azure-llm tests/tools/data/trace_missing_column.csv",
                "trace_missing_column.err"},
        example{"--from gentd26 no/such/file.csv.gz", "trace_missing_file.err"}}) {
    INFO(ex.args);
    fs::remove(out);
    auto r = usher_trace(std::string("convert ") + ex.args + " " + out);
    CHECK(r.code == 2);
    CHECK(r.err == golden(ex.golden));
    CHECK(r.out.empty());
    CHECK_FALSE(fs::exists(out));
  }
}

TEST_CASE("usher trace gen and stats work together and a seed fixes the output") {
  auto a = (scratch_root() / "gen-a.csv").string(), b = (scratch_root() / "gen-b.csv").string();
  auto args = " --span 600 --rate 2 --accounts 3 --models big:1:20,small:3:2 --seed 9 -q";
  REQUIRE(usher_trace("gen --out " + a + args).code == 0);
  REQUIRE(usher_trace("gen --out " + b + args).code == 0);
  CHECK(slurp(a) == slurp(b));
  CHECK(slurp(a).rfind("id,arrival_s,account,model,duration_s\n", 0) == 0);
  auto stats = usher_trace("stats " + a + " --top 3");
  CHECK(stats.code == 0);
  CHECK(stats.out.find("accounts  3\n") != std::string::npos);
  CHECK(stats.out.find("models    2\n") != std::string::npos);
  CHECK(stats.out.find("acct-1") != std::string::npos);
}

TEST_CASE("usher trace help, missing options and unknown commands") {
  CHECK(usher_trace("--help").code == 0);
  CHECK(usher_trace("").code == 2);
  CHECK(usher_trace("frobnicate").code == 2);
  auto help = usher_trace("convert --help");
  CHECK(help.code == 0);
  CHECK(help.out.find("--rate-scale") != std::string::npos);
  CHECK(usher_trace("gen").code == 2);  // --out is required
  CHECK(usher_trace("stats").code == 2);
  auto bad = usher_trace("gen --out x.csv --pattern sawtooth");
  CHECK(bad.code == 2);
  CHECK(bad.err ==
        "usher trace gen: --pattern: expected poisson, diurnal or onoff, got \"sawtooth\"\n");
}

TEST_CASE("usher trace convert says which defaults it applied") {
  auto out = (scratch_root() / "llm.csv").string();
  auto input = (scratch_root() / "tiny_conv.csv").string();
  std::ofstream(input)
      << "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.6805900,374,44\n";
  auto r = usher_trace("convert --from azure-llm " + input + " " + out);
  CHECK(r.code == 0);
  CHECK(r.err.find("note: accounts: the source has none") != std::string::npos);
  CHECK(r.out.find("wrote 1 rows") != std::string::npos);
  CHECK(slurp(out) ==
        "id,arrival_s,account,model,duration_s,input_tokens,output_tokens\n"
        "1,0,acct-01,conv,1.5948,374,44\n");
}

TEST_CASE("samples/generated-diurnal.csv is exactly what its documented command writes") {
  auto out = (scratch_root() / "generated-diurnal.csv").string();
  // The command in docs/TRACES.md, "A generated sample".
  auto r = usher_trace("gen --out " + out +
                       " --pattern diurnal --span 86400 --rate 0.06 --accounts 3"
                       " --models llama-3.1-70b-instruct:3:30,llama-3.1-8b-instruct:1:8"
                       " --duration-dist lognormal --seed 7");
  REQUIRE(r.code == 0);
  CHECK(r.out == "wrote 2494 rows to " + out + "\n");
  CHECK(slurp(out) == slurp(fs::path(USHER_SOURCE_DIR) / "samples/generated-diurnal.csv"));
}

TEST_CASE("a failed usher trace gen or convert into an existing file keeps that file (issue #15)") {
  auto out = scratch_root() / "kept.csv";
  fs::remove(out);
  REQUIRE(usher_trace("gen -q --out " + out.string() + " --span 60 --seed 3").code == 0);
  auto before = slurp(out);
  REQUIRE(before.size() > 30);
  // A bad option value found after the output is named, and a missing input.
  CHECK(usher_trace("gen -q --out " + out.string() + " --models x:0").code == 2);
  CHECK(usher_trace("convert --from azure-llm tyop.csv " + out.string()).code == 2);
  CHECK(usher_trace("convert --from mooncake tests/tools/data/trace_bad_line.jsonl " + out.string())
            .code == 2);
  CHECK(slurp(out) == before);
  // A good rerun replaces it, and leaves nothing else next to it.
  REQUIRE(usher_trace("gen -q --out " + out.string() + " --span 60 --seed 4").code == 0);
  CHECK(slurp(out) != before);
  for (auto& e : fs::directory_iterator(out.parent_path()))
    CHECK(e.path().filename().string().rfind(".usher-", 0) != 0);
}

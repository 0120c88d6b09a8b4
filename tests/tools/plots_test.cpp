// Pictures: gnuplot's SVG files are produced, well formed, and every one is
// on the index.html page (tools/plots.hpp).
#include <catch2/catch.hpp>
#include <regex>

#include "support/usher_cli.hpp"
#include "tools/parallel_runs.hpp"

using namespace usher;
namespace fs = std::filesystem;

namespace {

// A small XML well-formedness check: tags nest and close, attributes are
// quoted, and the root element is <svg>. Enough to catch a truncated or
// garbled file without an XML library.
bool well_formed_svg(const std::string& text, std::string& why) {
  std::vector<std::string> open;
  std::string root;
  std::size_t i = 0;
  while ((i = text.find('<', i)) != std::string::npos) {
    if (text.compare(i, 4, "<!--") == 0) {
      auto e = text.find("-->", i);
      if (e == std::string::npos) return why = "comment not closed", false;
      i = e + 3;
      continue;
    }
    if (text.compare(i, 9, "<![CDATA[") == 0) {
      auto e = text.find("]]>", i);
      if (e == std::string::npos) return why = "CDATA not closed", false;
      i = e + 3;
      continue;
    }
    // Find the tag's end, skipping quoted attribute values.
    std::size_t j = i + 1;
    char quote = 0;
    for (; j < text.size(); ++j) {
      if (quote) {
        if (text[j] == quote) quote = 0;
      } else if (text[j] == '"' || text[j] == '\'') {
        quote = text[j];
      } else if (text[j] == '>') {
        break;
      }
    }
    if (j >= text.size()) return why = "tag not closed", false;
    std::string tag = text.substr(i + 1, j - i - 1);
    i = j + 1;
    if (tag.empty()) return why = "empty tag", false;
    if (tag[0] == '?' || tag[0] == '!') continue;  // declaration, doctype
    if (tag[0] == '/') {
      std::string name = tag.substr(1, tag.find_first_of(" \t\n", 1) - 1);
      if (open.empty() || open.back() != name) return why = "unbalanced </" + name + ">", false;
      open.pop_back();
      continue;
    }
    std::string name = tag.substr(0, tag.find_first_of(" \t\n/"));
    if (root.empty()) root = name;
    else if (open.empty()) return why = "two root elements", false;
    if (tag.back() != '/') open.push_back(name);
  }
  if (!open.empty()) return why = "<" + open.back() + "> not closed", false;
  if (root != "svg") return why = "root is <" + root + ">", false;
  return true;
}

void check_page(const fs::path& dir, const std::vector<std::string>& pictures) {
  auto page = testing::slurp(dir / "index.html");
  REQUIRE(page.rfind("<!DOCTYPE html>", 0) == 0);
  for (auto& p : pictures) {
    INFO(p);
    REQUIRE(fs::exists(dir / p));
    std::string why;
    CHECK(well_formed_svg(testing::slurp(dir / p), why));
    INFO(why);
    CHECK(page.find("src=\"" + p + "\"") != std::string::npos);
  }
  // Every picture in the directory is on the page.
  for (auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".svg") CHECK(page.find(e.path().filename().string()) != std::string::npos);
}

}  // namespace

TEST_CASE("simulate --plots draws the run's pictures and an index.html that shows them") {
  auto out = testing::scratch("plots-run");
  auto r = testing::run_usher("simulate -q --trace samples/sample-trace.csv --plan samples/plans/team.ini --plots --out " +
                              out.string());
  REQUIRE(r.code == 0);
  check_page(out, {"inflight.svg", "waits.svg", "outcomes.svg"});
  auto svg = testing::slurp(out / "inflight.svg");
  CHECK(svg.find("trace time (h)") != std::string::npos);
  CHECK(svg.find("initech") != std::string::npos);
  CHECK(testing::slurp(out / "waits.svg").find("wait in the queue (s)") != std::string::npos);
  // usher plot redraws the same directory.
  CHECK(testing::run_usher("plot -q --run " + out.string()).code == 0);
}

TEST_CASE("a run where nothing queues still gets a wait picture") {
  auto out = testing::scratch("plots-noqueue");
  auto r = testing::run_usher("simulate -q --trace samples/sample-trace.csv --plan per-model --plots --out " + out.string());
  REQUIRE(r.code == 0);
  check_page(out, {"inflight.svg", "waits.svg", "outcomes.svg"});
  CHECK(testing::slurp(out / "waits.svg").find("no request was queued") != std::string::npos);
}

TEST_CASE("sweep --plots draws a metric against a key with one line per value of another") {
  auto out = testing::scratch("plots-sweep");
  auto r = testing::run_usher("sweep -q --trace samples/sample-trace.csv --plan streams:team --vary limit=6..12:2 "
                              "--vary queue.max_wait=30,60 --plots --out " + out.string());
  REQUIRE(r.code == 0);
  check_page(out, {"sweep_not_200_rate.svg", "sweep_wait_p95_s.svg", "sweep_wait_mean_s.svg"});
  auto svg = testing::slurp(out / "sweep_not_200_rate.svg");
  CHECK(svg.find("queue.max_wait = 30") != std::string::npos);
  CHECK(svg.find("queue.max_wait = 60") != std::string::npos);
}

TEST_CASE("compare --plots draws every plan and the plans side by side") {
  auto out = testing::scratch("plots-compare");
  auto r = testing::run_usher("compare -q --trace samples/sample-trace.csv --plan streams:solo --plan streams:team --plots --out " +
                              out.string());
  REQUIRE(r.code == 0);
  check_page(out, {"compare_outcomes.svg"});
  auto page = testing::slurp(out / "index.html");
  for (auto* f : {"plan1/inflight.svg", "plan2/waits.svg", "plan2/outcomes.svg"}) {
    CHECK(page.find(f) != std::string::npos);
    CHECK(fs::exists(out / f));
  }
}

TEST_CASE("the progress line counts done variants, simulated time and the time left") {
  // Drawn only on a terminal; forced here to see its words.
  tools::progress_line p("usher sweep", "variants", 10, policies::seconds(7200), 2, true);
  p.reached(0) = policies::seconds(3600 + 61);
  CHECK(p.text(3, 1) == "usher sweep: 3/10 variants done; simulated 1:01:01 of 2:00:00");
  // 3 done, a quarter and three quarters of two more: 4 of 10 in 36 s.
  p.reached(0) = policies::seconds(1800);
  p.reached(1) = policies::seconds(5400);
  CHECK(p.text(3, 36) ==
        "usher sweep: 3/10 variants done; simulated 0:30:00, 1:30:00 of 2:00:00; about 0:00:54 left");
  p.draw(3);
  p.clear();
  // One run: its simulated time over the trace's span.
  tools::progress_line one("usher simulate", "", 0, policies::seconds(1000), 1, true);
  one.reached(0) = policies::seconds(250);
  CHECK(one.text(0, 10) == "usher simulate: simulated 0:04:10 of 0:16:40; about 0:00:30 left");
  // A trace that starts late (epoch times): the time before its first
  // arrival is no work done. 100 of 1,000 s after it in 10 s: 90 s left.
  tools::progress_line late("usher simulate", "", 1, policies::seconds(2000), 1, true);
  late.starts_at(policies::seconds(1000));
  late.reached(0) = policies::seconds(1100);
  CHECK(late.text(0, 10) == "usher simulate: simulated 0:18:20 of 0:33:20; about 0:01:30 left");
  tools::progress_line off("usher sweep", "variants", 10, 0, 1);
  CHECK(off.enabled() == (::isatty(STDERR_FILENO) == 1));
}

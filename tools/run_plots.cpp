// The pictures of one run and of a comparison (tools/plots.hpp).
#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "policies/input_error.hpp"
#include "tools/gnuplot.hpp"
#include "tools/html_page.hpp"
#include "tools/outcome_metrics.hpp"
#include "tools/plots.hpp"
#include "traces/csv_table.hpp"

namespace usher::tools {

namespace fs = std::filesystem;
using nlohmann::json;
using policies::input_error;
using policies::usec;

namespace {

json read_json(const fs::path& p) {
  std::ifstream in(p);
  if (!in) throw input_error::in(p.string(), "cannot open the file");
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw input_error::in(p.string(), std::string("not valid JSON: ") + e.what());
  }
}

void write_text(const fs::path& p, const std::string& text) {
  std::ofstream out(p);
  out << text;
  if (!out) throw std::runtime_error(p.string() + ": write failed");
}

// A name safe inside a tab-separated data file.
std::string data_name(std::string s) {
  for (auto& c : s)
    if (c == '\t' || c == '\n' || c == '\r' || c == '"') c = '_';
  return s;
}

std::string fixed(double x, int decimals) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, x);
  return buf;
}

std::string num(double x) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%.6g", x);
  return buf;
}

// Accounts by requests, most first, ties by name.
std::vector<std::string> busiest_accounts(const json& summary, std::size_t n) {
  std::vector<std::pair<std::int64_t, std::string>> all;
  for (auto& [name, m] : summary["accounts"].items()) all.emplace_back(-m["requests"].get<std::int64_t>(), name);
  std::sort(all.begin(), all.end());
  std::vector<std::string> out;
  for (std::size_t i = 0; i < all.size() && i < n; ++i) out.push_back(all[i].second);
  return out;
}

// How requests ended, per account: the bars of outcomes.svg.
struct outcome_mix {
  static constexpr int kinds = 6;
  static const char* label(int k) {
    static const char* labels[] = {"200 at once", "200 after queue (202)", "408 queue timeout",
                                   "429 rejected", "1008 closed", "other (400, 499, 500)"};
    return labels[k];
  }
  std::array<std::int64_t, kinds> count{};
  std::int64_t total() const {
    std::int64_t t = 0;
    for (auto c : count) t += c;
    return t;
  }
  void add(std::int64_t status, bool queued) {
    int k = status == 200 ? (queued ? 1 : 0) : status == 408 ? 2 : status == 429 ? 3 : status == 1008 ? 4 : 5;
    ++count[k];
  }
};

struct outcome_data {
  outcome_mix all;
  std::map<std::string, outcome_mix> by_account;
  std::vector<usec> waits_all;                      // queued requests only
  std::map<std::string, std::vector<usec>> waits;   // busiest accounts only
};

outcome_data read_outcomes(const fs::path& path, const std::vector<std::string>& busiest) {
  traces::csv_table t(path.string());
  const char* expected = "outcomes.csv columns (docs/FORMATS.md)";
  int account = t.require("account", expected), wait = t.require("wait_s", expected),
      status = t.require("status", expected), queued = t.require("queued", expected);
  outcome_data d;
  for (auto& b : busiest) {
    d.by_account[b];
    d.waits[b];
  }
  while (t.next()) {
    std::string name(t.text(account));
    auto code = t.count(status);
    bool q = t.count(queued) != 0;
    d.all.add(code, q);
    auto m = d.by_account.find(name);
    if (m != d.by_account.end()) m->second.add(code, q);
    if (q) {
      usec w = t.seconds(wait);
      d.waits_all.push_back(w);
      auto i = d.waits.find(name);
      if (i != d.waits.end()) i->second.push_back(w);
    }
  }
  return d;
}

// -- the three pictures of a run -------------------------------------------

// Each picture reads its run from `dir` and draws into `into`, with paths in
// its script relative to `into` (tools/gnuplot.hpp).
std::string inflight_plot(const fs::path& dir, const fs::path& into, const json& summary,
                          const std::vector<std::string>& busiest) {
  traces::csv_table t((dir / "timeseries.csv").string());
  const char* expected = "timeseries.csv columns (docs/FORMATS.md)";
  int start = t.require("interval_start_s", expected), account = t.require("account", expected),
      inflight = t.require("in_flight_max", expected), queue = t.require("queue_max", expected);
  usec step = static_cast<usec>(std::llround(summary["interval_s"].get<double>() * 1e6));
  if (step <= 0) step = policies::seconds(60);
  std::map<std::string, std::map<usec, std::pair<std::int64_t, std::int64_t>>> rows;
  for (auto& b : busiest) rows[b];
  usec first = policies::never, last = 0;
  while (t.next()) {
    auto i = rows.find(std::string(t.text(account)));
    if (i == rows.end()) continue;
    usec at = t.seconds(start);
    i->second[at] = {t.count(inflight), t.count(queue)};
    first = std::min(first, at);
    last = std::max(last, at);
  }
  if (first == policies::never) first = last = 0;
  // Intervals without a row had nothing in flight and nothing queued.
  std::string data;
  for (auto& name : busiest) {
    data += "# " + data_name(name) + "\n";
    const auto& r = rows[name];
    for (usec at = first; at <= last + step; at += step) {
      auto i = r.find(at);
      auto v = i == r.end() ? std::pair<std::int64_t, std::int64_t>{0, 0} : i->second;
      data += num(static_cast<double>(at) / 3.6e9) + "\t" + std::to_string(v.first) + "\t" +
              std::to_string(v.second) + "\n";
    }
    data += "\n\n";
  }
  write_text(into / "plots" / "inflight.dat", data);
  std::map<std::int64_t, std::vector<std::string>> limits;
  for (auto& name : busiest) {
    const auto& m = summary["accounts"][name];
    if (!m["limit"].is_null() && !m["utilization"].is_null()) limits[m["limit"].get<std::int64_t>()].push_back(name);
  }
  std::string dat = gnuplot_quote("plots/inflight.dat");
  std::string s = svg_terminal(1000, 720);
  s += "set output 'inflight.svg'\n";
  s += "set multiplot layout 2,1 title " +
       gnuplot_quote("In flight and queued over time, " + std::to_string(busiest.size()) +
                     " busiest accounts (maximum in each " + decimal(static_cast<double>(step) / 1e6) +
                     " s interval)") + "\n";
  s += "set grid\nset key outside right top\nset xlabel 'trace time (h)'\nset yrange [0:*]\n"
       "set autoscale xfix\n"
       "set lmargin 10\nset rmargin 28\n";
  auto lines = [&](int column) {
    std::string p = "plot ";
    for (std::size_t i = 0; i < busiest.size(); ++i)
      p += (i ? ", " : "") + dat + " index " + std::to_string(i) + " using 1:" + std::to_string(column) +
           " with steps lw 2 lc rgb '" + palette(i) + "' title " + gnuplot_quote(busiest[i]);
    return p;
  };
  std::string p = lines(2);
  for (auto& [limit, names] : limits) {
    std::string who = names.size() == busiest.size() ? "" : " (" + names.front() + (names.size() > 1 ? ", ..." : "") + ")";
    p += ", " + std::to_string(limit) + " with lines dt 2 lw 1.5 lc rgb '#555555' title " +
         gnuplot_quote("limit " + std::to_string(limit) + who);
  }
  if (busiest.empty()) p = "plot NaN notitle";
  s += "set ylabel 'requests in flight'\n" + p + "\n";
  s += "set ylabel 'requests queued'\n" + (busiest.empty() ? std::string("plot NaN notitle") : lines(3)) + "\n";
  s += "unset multiplot\n";
  run_gnuplot(into.string(), "plots/inflight.gp", s);
  return "inflight.svg";
}

std::string waits_plot(const fs::path& into, const json& summary, const outcome_data& d,
                       const std::vector<std::string>& busiest) {
  std::vector<std::pair<std::string, std::vector<usec>>> groups = {{"all accounts", d.waits_all}};
  for (auto& b : busiest)
    if (!d.waits.at(b).empty()) groups.emplace_back(b, d.waits.at(b));
  std::string data;
  std::size_t blocks = 0;
  for (auto& [name, w] : groups) {
    if (w.empty()) continue;
    std::sort(w.begin(), w.end());
    data += "# " + data_name(name) + "\n";
    // The empirical CDF at up to 400 points: (wait, share at most that wait).
    std::size_t n = w.size(), points = std::min<std::size_t>(n, 400);
    data += num(0) + "\t0\n";
    for (std::size_t k = 0; k < points; ++k) {
      std::size_t i = points == 1 ? n - 1 : k * (n - 1) / (points - 1);
      data += num(static_cast<double>(w[i]) / 1e6) + "\t" +
              num(static_cast<double>(i + 1) * 100.0 / static_cast<double>(n)) + "\n";
    }
    data += "\n\n";
    ++blocks;
  }
  write_text(into / "plots" / "waits.dat", data);
  std::int64_t requests = summary["overall"]["requests"].get<std::int64_t>();
  std::string title = "Queue wait of the requests that were queued (answered 202): " +
                      std::to_string(d.waits_all.size()) + " of " + std::to_string(requests) +
                      " requests (" + percent(requests ? static_cast<double>(d.waits_all.size()) / static_cast<double>(requests) : 0.0) + ")";
  std::string s = svg_terminal(1000, 520);
  s += "set output 'waits.svg'\n";
  s += "set title " + gnuplot_quote(title) + "\n";
  s += "set grid\nset key outside right top\nset xlabel 'wait in the queue (s)'\n"
       "set ylabel 'queued requests that waited at most this long (%)'\nset yrange [0:100]\n"
       "set xrange [0:*]\nset lmargin 10\nset rmargin 28\n";
  // The plan's max wait, where waiting ends in 408.
  auto settings = summary["plan"]["settings"];
  if (settings.contains("queue.max_wait")) {
    usec max_wait = 0;
    bool unit_error = false;
    if (policies::parse_duration(settings["queue.max_wait"].get<std::string>(), max_wait, unit_error)) {
      double x = static_cast<double>(max_wait) / 1e6;
      s += "set arrow from " + num(x) + ", graph 0 to " + num(x) +
           ", graph 1 nohead dt 2 lc rgb '#555555'\nset label 'max wait (408 beyond)' at " + num(x) +
           ", graph 0.5 right offset -0.5,0 textcolor rgb '#555555'\nset xrange [0:" + num(x * 1.05) + "]\n";
    }
  }
  if (blocks == 0) {
    s += "set label 'no request was queued' at graph 0.5, graph 0.5 center\nset xrange [0:60]\n"
         "plot NaN notitle\n";
  } else {
    std::string dat = gnuplot_quote("plots/waits.dat");
    std::string p = "plot ";
    std::size_t b = 0;
    for (auto& [name, w] : groups) {
      if (w.empty()) continue;
      p += (b ? ", " : "") + dat + " index " + std::to_string(b) + " using 1:2 with steps lw " +
           (b == 0 ? "3" : "1.5") + " lc rgb '" + (b == 0 ? "#000000" : palette(b - 1)) + "' title " +
           gnuplot_quote(name + " (" + std::to_string(w.size()) + ")");
      ++b;
    }
    s += p + "\n";
  }
  run_gnuplot(into.string(), "plots/waits.gp", s);
  return "waits.svg";
}

// Stacked bars of outcome shares, one bar per row of `bars`: into/STEM.svg.
void mix_plot(const fs::path& into, const std::string& stem, const std::string& title,
              const std::string& xlabel,
              const std::vector<std::pair<std::string, outcome_mix>>& bars) {
  std::string data;
  for (auto& [name, mix] : bars) {
    data += "\"" + data_name(name) + "\"";
    double total = static_cast<double>(std::max<std::int64_t>(mix.total(), 1));
    for (int k = 0; k < outcome_mix::kinds; ++k) data += "\t" + num(static_cast<double>(mix.count[k]) * 100.0 / total);
    data += "\n";
  }
  write_text(into / "plots" / (stem + ".dat"), data);
  static const char* colours[] = {"#009E73", "#56B4E9", "#E69F00", "#D55E00", "#CC79A7", "#999999"};
  std::string s = svg_terminal(1000, 520);
  s += "set output " + gnuplot_quote(stem + ".svg") + "\n";
  s += "set title " + gnuplot_quote(title) + "\nset xlabel " + gnuplot_quote(xlabel) + "\n";
  s += "set datafile separator tab\nset style data histograms\nset style histogram rowstacked\n"
       "set style fill solid 0.9 border rgb '#333333'\nset boxwidth 0.6\nset yrange [0:100]\n"
       "set ylabel 'share of requests (%)'\nset grid ytics\nset key outside right top\n"
       "set xtics rotate by -25 left nomirror\nset lmargin 10\nset rmargin 28\n";
  std::string dat = gnuplot_quote("plots/" + stem + ".dat");
  std::string p = "plot ";
  for (int k = 0; k < outcome_mix::kinds; ++k)
    p += (k ? ", " : "") + (k ? std::string("''") : dat) + " using " + std::to_string(k + 2) +
         (k == 0 ? ":xtic(1)" : "") + " lc rgb '" + colours[k] + "' title " + gnuplot_quote(outcome_mix::label(k));
  s += p + "\n";
  run_gnuplot(into.string(), "plots/" + stem + ".gp", s);
}

std::string metrics_table(const std::vector<std::pair<std::string, outcome_metrics>>& rows) {
  std::string h =
      "<table>\n<tr><th></th><th>requests</th><th>200</th><th>408</th><th>429</th>"
      "<th>1008</th><th>other</th><th>queued (202)</th><th>mean wait (s)</th><th>p95 wait (s)</th>"
      "<th>p99 wait (s)</th><th>utilization</th><th>peak in flight</th><th>mean hold (s)</th></tr>\n";
  for (auto& [name, m] : rows)
    h += "<tr><td>" + html_escape(name) + "</td><td>" + std::to_string(m.requests) + "</td><td>" +
         percent(m.rate_200) + "</td><td>" + percent(m.rate_408) + "</td><td>" +
         percent(m.rate_429) + "</td><td>" + percent(m.rate_1008) + "</td><td>" +
         percent(m.rate_other) + "</td><td>" + percent(m.rate_202) + "</td><td>" +
         fixed(m.wait_mean_s, 3) + "</td><td>" + fixed(m.wait_p95_s, 3) + "</td><td>" +
         fixed(m.wait_p99_s, 3) + "</td><td>" + percent(m.utilization) + "</td><td>" +
         std::to_string(m.peak_in_flight) + "</td><td>" + fixed(m.hold_mean_s, 3) + "</td></tr>\n";
  return h + "</table>\n";
}

}  // namespace

const std::vector<std::string>& run_plot_files() {
  static const std::vector<std::string> names = {"inflight.svg", "waits.svg", "outcomes.svg",
                                                 "index.html", "plots"};
  return names;
}

const std::vector<std::string>& compare_plot_files() {
  static const std::vector<std::string> names = {"compare_outcomes.svg", "index.html", "plots"};
  return names;
}

std::vector<std::string> write_run_plots(const std::string& run_dir, std::size_t busiest_n,
                                         const std::string& into_dir) {
  fs::path dir(run_dir), into(into_dir.empty() ? run_dir : into_dir);
  auto summary = read_json(dir / "summary.json");
  auto busiest = busiest_accounts(summary, busiest_n);
  fs::create_directories(into / "plots");
  auto outcomes = read_outcomes(dir / "outcomes.csv", busiest);
  std::vector<std::string> files;
  files.push_back(inflight_plot(dir, into, summary, busiest));
  files.push_back(waits_plot(into, summary, outcomes, busiest));
  std::vector<std::pair<std::string, outcome_mix>> bars = {{"all accounts", outcomes.all}};
  for (auto& b : busiest) bars.emplace_back(b, outcomes.by_account.at(b));
  mix_plot(
      into, "outcomes",
      "How requests ended: all accounts and the " + std::to_string(busiest.size()) + " busiest",
      "account", bars);
  files.push_back("outcomes.svg");

  std::string spec = summary["plan"]["spec"].get<std::string>();
  std::string page = html_begin("usher run: " + spec);
  page += "<p>Plan <b>" + html_escape(spec) + "</b> (" + html_escape(summary["plan"]["family"].get<std::string>()) +
          ") on <b>" + html_escape(summary["trace"]["file"].get<std::string>()) + "</b>: " +
          std::to_string(summary["trace"]["rows"].get<long long>()) + " rows, " +
          std::to_string(summary["trace"]["accounts"].get<long long>()) + " accounts, " +
          fixed(summary["trace"]["span_s"].get<double>() / 3600.0, 2) + " h. Files: " +
          "<a href=\"summary.json\">summary.json</a>, <a href=\"outcomes.csv\">outcomes.csv</a>, "
          "<a href=\"timeseries.csv\">timeseries.csv</a>.</p>\n";
  std::vector<std::pair<std::string, outcome_metrics>> rows = {{"all accounts", outcome_metrics::of(summary["overall"])}};
  for (auto& b : busiest) rows.emplace_back(b, outcome_metrics::of(summary["accounts"][b]));
  page += metrics_table(rows);
  page += html_figure("inflight.svg", "In flight and queued over time");
  page += html_figure("waits.svg", "Queue wait distribution");
  page += html_figure("outcomes.svg", "Outcome mix");
  page += html_end();
  write_text(into / "index.html", page);
  files.push_back("index.html");
  return files;
}

std::vector<std::string> write_compare_index(const std::string& compare_dir,
                                             const std::string& into_dir) {
  fs::path dir(compare_dir), into(into_dir.empty() ? compare_dir : into_dir);
  auto cmp = read_json(dir / "compare.json");
  fs::create_directories(into / "plots");
  std::vector<std::pair<std::string, outcome_mix>> bars;
  std::vector<std::pair<std::string, outcome_metrics>> rows;
  for (auto& p : cmp["plans"]) {
    std::string label = p["dir"].get<std::string>() + ": " + p["spec"].get<std::string>();
    auto d = read_outcomes(dir / p["dir"].get<std::string>() / "outcomes.csv", {});
    bars.emplace_back(label, d.all);
    rows.emplace_back(label, outcome_metrics::of(read_json(dir / p["dir"].get<std::string>() / "summary.json")["overall"]));
  }
  mix_plot(into, "compare_outcomes", "How requests ended under each plan (all accounts)", "plan",
           bars);
  std::string page = html_begin("usher compare: " + std::to_string(bars.size()) + " plans");
  page += "<p>Trace <b>" + html_escape(cmp["trace"].get<std::string>()) +
          "</b>. Files: <a href=\"compare.csv\">compare.csv</a>, <a href=\"compare.json\">compare.json</a>.</p>\n";
  page += metrics_table(rows);
  page += html_figure("compare_outcomes.svg", "Outcome mix by plan");
  for (auto& p : cmp["plans"]) {
    std::string d = p["dir"].get<std::string>();
    page += "<h2>" + html_escape(d + ": " + p["spec"].get<std::string>()) + " (<a href=\"" + html_escape(d) +
            "/index.html\">its page</a>)</h2>\n";
    for (auto* f : {"inflight.svg", "waits.svg", "outcomes.svg"})
      page += "<img src=\"" + html_escape(d + "/" + f) + "\" alt=\"" + html_escape(d + " " + f) + "\">\n";
  }
  page += html_end();
  write_text(into / "index.html", page);
  return {"compare_outcomes.svg", "index.html"};
}

}  // namespace usher::tools

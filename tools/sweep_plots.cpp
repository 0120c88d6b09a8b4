// The pictures of a sweep (tools/plots.hpp): each metric against the first
// varied key, one line per value of the second; further keys stay at their
// first value (the title says which).
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "policies/input_error.hpp"
#include "tools/gnuplot.hpp"
#include "tools/html_page.hpp"
#include "tools/plots.hpp"
#include "traces/csv_table.hpp"

namespace usher::tools {

namespace fs = std::filesystem;
using policies::input_error;

namespace {

struct metric {
  const char* column;
  const char* label;   // y axis
  const char* title;   // picture title
  double scale;        // 100 for shares shown in %
  bool always;         // drawn even when all zero
};

const metric metrics[] = {
    {"not_200_rate", "requests not answered 200 (%)", "Share of requests not answered 200", 100, true},
    {"rate_408", "requests ending in 408 (%)", "Queue timeouts (408)", 100, false},
    {"rate_429", "requests ending in 429 (%)", "Rejections (429)", 100, false},
    {"rate_1008", "sessions closed 1008 (%)", "Sessions closed (1008)", 100, false},
    {"wait_mean_s", "mean wait (s)", "Mean wait", 1, true},
    {"wait_p95_s", "95th percentile wait (s)", "95th percentile wait", 1, true},
    {"utilization", "pool utilization (%)", "Utilization of the pools", 100, false},
};

// The axis label of a plan key: durations are in seconds.
std::string key_label(const std::string& key) {
  for (const char* k : {"max_wait", "retry_after", "sessions.window", "signals.mean_queue_wait"})
    if (key.size() >= std::string(k).size() && key.compare(key.size() - std::string(k).size(), std::string::npos, k) == 0)
      return key + " (s)";
  return key;
}

bool numeric(const std::string& s) {
  if (s.empty()) return false;
  char* end = nullptr;
  std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size();
}

void write_text(const fs::path& p, const std::string& text) {
  std::ofstream out(p);
  out << text;
  if (!out) throw std::runtime_error(p.string() + ": write failed");
}

}  // namespace

const std::vector<std::string>& sweep_plot_files() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (auto& m : metrics) n.push_back(std::string("sweep_") + m.column + ".svg");
    n.push_back("index.html");
    n.push_back("plots");
    return n;
  }();
  return names;
}

std::vector<std::string> write_sweep_plots(const std::string& sweep_dir,
                                           const std::string& into_dir) {
  fs::path dir(sweep_dir), into(into_dir.empty() ? sweep_dir : into_dir);
  traces::csv_table t((dir / "sweep.csv").string());
  const auto& header = t.header();
  int requests = t.require("requests", "sweep.csv columns (docs/WHATIF.md)");
  if (requests < 2 || header[0] != "variant")
    throw input_error::at((dir / "sweep.csv").string(), 1, "", "expected variant, the varied keys, then requests");
  std::vector<std::string> keys(header.begin() + 1, header.begin() + requests);
  std::vector<std::vector<std::string>> rows;
  while (t.next()) {
    std::vector<std::string> r;
    for (std::size_t c = 0; c < header.size(); ++c) r.emplace_back(t.text(static_cast<int>(c)));
    rows.push_back(std::move(r));
  }
  auto column = [&](const std::string& name) {
    return static_cast<std::size_t>(std::find(header.begin(), header.end(), name) - header.begin());
  };
  // Values of each key in order of first appearance.
  std::vector<std::vector<std::string>> values(keys.size());
  for (auto& r : rows)
    for (std::size_t k = 0; k < keys.size(); ++k)
      if (std::find(values[k].begin(), values[k].end(), r[k + 1]) == values[k].end()) values[k].push_back(r[k + 1]);
  bool x_numeric = std::all_of(values[0].begin(), values[0].end(), numeric);
  std::string fixed;  // keys beyond the second, at their first value
  for (std::size_t k = 2; k < keys.size(); ++k) fixed += (fixed.empty() ? "" : ", ") + keys[k] + " = " + values[k][0];
  auto in_view = [&](const std::vector<std::string>& r) {
    for (std::size_t k = 2; k < keys.size(); ++k)
      if (r[k + 1] != values[k][0]) return false;
    return true;
  };
  std::vector<std::string> lines = keys.size() > 1 ? values[1] : std::vector<std::string>{""};

  fs::create_directories(into / "plots");
  std::vector<std::string> files;
  std::string page = html_begin("usher sweep: " + std::to_string(rows.size()) + " variants");
  page += "<p>Varied: ";
  for (std::size_t k = 0; k < keys.size(); ++k)
    page += (k ? ", " : "") + std::string("<b>") + html_escape(keys[k]) + "</b> (" +
            std::to_string(values[k].size()) + " values)";
  page += ". Files: <a href=\"sweep.csv\">sweep.csv</a>, <a href=\"sweep_accounts.csv\">sweep_accounts.csv</a>.</p>\n";
  for (auto& m : metrics) {
    std::size_t c = column(m.column);
    if (c >= header.size()) continue;
    bool any = false, all_empty = true;
    for (auto& r : rows) {
      if (!r[c].empty()) all_empty = false;
      if (!r[c].empty() && std::strtod(r[c].c_str(), nullptr) != 0) any = true;
    }
    if (all_empty || (!any && !m.always)) continue;
    std::string data;
    for (auto& line : lines) {
      data += "# " + keys[0] + (keys.size() > 1 ? " by " + keys[1] + " = " + line : "") + "\n";
      for (std::size_t xi = 0; xi < values[0].size(); ++xi)
        for (auto& r : rows)
          if (r[1] == values[0][xi] && (keys.size() < 2 || r[2] == line) && in_view(r) && !r[c].empty()) {
            double y = std::strtod(r[c].c_str(), nullptr) * m.scale;
            char buf[64];
            std::snprintf(buf, sizeof(buf), "\t%.6g\n", y);
            data += (x_numeric ? values[0][xi] : std::to_string(xi)) + buf;
          }
      data += "\n\n";
    }
    std::string stem = std::string("sweep_") + m.column;
    write_text(into / "plots" / (stem + ".dat"), data);
    std::string title = std::string(m.title) + " against " + keys[0] +
                        (keys.size() > 1 ? ", one line per " + keys[1] : "") +
                        (fixed.empty() ? "" : " (" + fixed + ")");
    std::string s = svg_terminal(1000, 520);
    s += "set output " + gnuplot_quote(stem + ".svg") + "\n";
    s += "set title " + gnuplot_quote(title) + "\nset grid\nset key outside right top\n";
    s += "set xlabel " + gnuplot_quote(key_label(keys[0])) + "\nset ylabel " + gnuplot_quote(m.label) + "\n";
    s += "set yrange [0:*]\nset offsets graph 0.02, graph 0.02, graph 0.05, 0\nset lmargin 10\nset rmargin 32\n";
    if (!x_numeric) {
      s += "set xtics (";
      for (std::size_t xi = 0; xi < values[0].size(); ++xi)
        s += (xi ? ", " : "") + gnuplot_quote(values[0][xi]) + " " + std::to_string(xi);
      s += ")\n";
    }
    std::string dat = gnuplot_quote("plots/" + stem + ".dat");
    std::string p = "plot ";
    for (std::size_t i = 0; i < lines.size(); ++i)
      p += (i ? ", " : "") + dat + " index " + std::to_string(i) + " using 1:2 with linespoints lw 2 pt 7 ps 0.6 lc rgb '" +
           palette(i) + "' title " + (keys.size() > 1 ? gnuplot_quote(keys[1] + " = " + lines[i]) : std::string("notitle"));
    if (keys.size() < 2) p.replace(p.find("title notitle"), 13, "notitle");
    s += p + "\n";
    run_gnuplot(into.string(), "plots/" + stem + ".gp", s);
    files.push_back(stem + ".svg");
    page += html_figure(stem + ".svg", title);
  }
  page += html_end();
  write_text(into / "index.html", page);
  files.push_back("index.html");
  return files;
}

}  // namespace usher::tools

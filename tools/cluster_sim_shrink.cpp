#include "tools/cluster_sim_shrink.hpp"

#include <fstream>
#include <sstream>

#include "policies/input_error.hpp"
#include "policies/time.hpp"

namespace usher::tools {

std::string broken_promises::text() const {
  std::string out;
  auto add = [&](bool broken, const char* what) {
    if (!broken) return;
    if (!out.empty()) out += ", ";
    out += what;
  };
  add(over_limit, "over a limit");
  add(unanswered, "requests unanswered");
  add(unavailable_at_end, "accounts unavailable at the end");
  add(leases_unaccounted, "leases unaccounted for");
  return out.empty() ? "none" : out;
}

broken_promises broken_by(const cluster_sim_totals& t) {
  broken_promises b;
  b.over_limit = t.unit_seconds_over > 0 || t.max_over > 0 || t.connection_seconds_over > 0 ||
                 t.max_connections_over > 0;
  b.unanswered = t.unanswered > 0;
  b.unavailable_at_end = t.unavailable_at_end > 0;
  b.leases_unaccounted = t.leases != t.admitted;
  return b;
}

namespace {

void write_schedule(const std::string& path, const std::vector<std::string>& lines) {
  std::ofstream out(path, std::ios::trunc);
  for (auto& l : lines) out << l << "\n";
  if (!out.flush()) throw policies::input_error::in(path, "cannot write the schedule");
}

std::string count_of(std::size_t n) { return std::to_string(n) + (n == 1 ? " fault" : " faults"); }

// A schedule's time (30s, 500ms); -1 when it is none.
policies::usec time_of(const std::string& word) {
  policies::usec t = 0;
  bool unit_error = false;
  return policies::parse_duration(word, t, unit_error) ? t : -1;
}

// When a schedule line's fault starts (0 for one of the whole run: delay,
// drop without a window): the word after `at`, or the start of FROM..TO.
policies::usec start_of(const std::string& line) {
  auto w = words_of(line);
  std::string when;
  for (std::size_t i = 0; i + 1 < w.size(); ++i)
    if (w[i] == "at") when = w[i + 1];
  if (when.empty() && !w.empty() && w[0] != "delay" && w.back().find("..") != std::string::npos)
    when = w.back().substr(0, w.back().find(".."));
  return when.empty() ? 0 : std::max<policies::usec>(0, time_of(when));
}

// The window a line's fault lasts, when its end may move: FROM..TO of a
// pause, a partition or a window of losses; a restart's time, from the
// latest crash of its member among `lines` before it (a crash and its
// restart are a window too). {-1, -1}: none.
std::pair<policies::usec, policies::usec> window_of(const std::string& line,
                                                    const std::vector<std::string>& lines) {
  auto w = words_of(line);
  if (w.size() >= 3 && (w[0] == "pause" || w[0] == "partition" || w[0] == "drop")) {
    auto dots = w.back().find("..");
    if (dots == std::string::npos) return {-1, -1};
    return {time_of(w.back().substr(0, dots)), time_of(w.back().substr(dots + 2))};
  }
  if (w.size() == 4 && w[0] == "restart" && w[2] == "at") {
    auto at = time_of(w[3]);
    policies::usec crashed = -1;
    for (auto& other : lines) {
      auto c = words_of(other);
      if (c.size() == 4 && c[0] == "crash" && c[1] == w[1] && c[2] == "at") {
        auto t = time_of(c[3]);
        if (t >= 0 && t <= at) crashed = std::max(crashed, t);
      }
    }
    return {crashed, crashed < 0 ? -1 : at};
  }
  return {-1, -1};
}

// `line` with its window ending at `end` (window_of's kinds).
std::string ending_at(const std::string& line, policies::usec end) {
  auto w = words_of(line);
  auto text = seconds_text(end);
  if (w[0] == "restart") {
    w[3] = text;
  } else {
    auto& range = w.back();
    range = range.substr(0, range.find("..") + 2) + text;
  }
  std::string out;
  for (auto& word : w) out += (out.empty() ? "" : " ") + word;
  return out;
}

// The CSV records of `text` (a quoted field may hold a line break).
std::vector<std::string> records_of(const std::string& text) {
  std::vector<std::string> out;
  std::string record;
  bool quoted = false;
  for (char c : text) {
    if (c == '"') quoted = !quoted;
    if (c == '\n' && !quoted) {
      out.push_back(std::move(record));
      record.clear();
      continue;
    }
    record += c;
  }
  if (!record.empty()) out.push_back(std::move(record));
  return out;
}

// Field `k` of a CSV record, unquoted, trimmed.
std::string field_of(const std::string& record, std::size_t k) {
  std::string field;
  std::size_t at = 0;
  bool quoted = false;
  for (char c : record) {
    if (c == '"') {
      quoted = !quoted;
      continue;
    }
    if (c == ',' && !quoted) {
      if (at++ == k) break;
      field.clear();
      continue;
    }
    field += c;
  }
  if (at < k) return "";
  auto first = field.find_first_not_of(" \t\r"), last = field.find_last_not_of(" \t\r");
  return first == std::string::npos ? "" : field.substr(first, last - first + 1);
}

// Writes the header and the rows of `trace` that arrive at or before `until`
// (a trace is sorted by arrival_s) to `path`; returns (rows kept, rows).
std::pair<std::size_t, std::size_t> cut_trace(const std::string& trace, policies::usec until,
                                              const std::string& path) {
  std::ifstream in(trace);
  std::stringstream text;
  text << in.rdbuf();
  auto records = records_of(text.str());
  std::ofstream out(path, std::ios::trunc);
  if (records.empty()) return {0, 0};
  std::size_t column = 0;
  for (; !field_of(records[0], column).empty(); ++column)
    if (field_of(records[0], column) == "arrival_s") break;
  out << records[0] << "\n";
  std::size_t kept = 0, rows = 0;
  bool cut = false;
  for (std::size_t i = 1; i < records.size(); ++i) {
    if (records[i].find_first_not_of(" \t\r,") == std::string::npos) continue;  // a blank line
    ++rows;
    policies::usec at = 0;
    cut = cut || (policies::parse_seconds(field_of(records[i], column), at) && at > until);
    if (cut) continue;
    out << records[i] << "\n";
    ++kept;
  }
  if (!out.flush()) throw policies::input_error::in(path, "cannot write the trace");
  return {kept, rows};
}

}  // namespace

shrink_result shrink_faults(const cluster_sim_request& request, const std::string& schedule_path,
                            const std::string& trace_path,
                            const std::function<void(const std::string&)>& progress) {
  shrink_result out;
  auto first = request;
  first.out_dir.clear();
  auto whole = run_cluster_sim(first);
  out.runs = 1;
  out.broken = broken_by(whole);
  out.whole = whole.schedule;
  out.lines = whole.schedule;
  write_schedule(schedule_path, out.lines);
  if (!out.broken.any()) {
    progress("the run keeps every promise: nothing to shrink");
    return out;
  }
  progress(count_of(out.whole.size()) + " break: " + out.broken.text());

  // A candidate: the same request with these lines as its only faults.
  auto candidate = request;
  candidate.out_dir.clear();
  candidate.faults = schedule_path;
  candidate.random_faults = 0;
  cluster_sim_totals last;  // of the last candidate that broke them
  auto still_breaks = [&](const std::vector<std::string>& lines) {
    write_schedule(schedule_path, lines);
    ++out.runs;
    try {
      auto t = run_cluster_sim(candidate);
      if (!broken_by(t).covers(out.broken)) return false;
      last = std::move(t);
      return true;
    } catch (const policies::input_error& e) {
      // (A later reload that needs one removed, say: not a schedule that breaks it.)
      progress(std::string("a candidate does not run: ") + e.what());
      return false;
    }
  };
  out.reproduced = still_breaks(out.lines);
  if (!out.reproduced) {
    write_schedule(schedule_path, out.lines);
    progress("the schedule written out does not break them again: nothing shrunk");
    return out;
  }

  // ddmin, by complements: cut the schedule into n pieces and keep the first
  // complement (the schedule without one piece) that still breaks the same
  // promises; with none, cut finer, until the pieces are single lines. What
  // is left loses its failure when any one line goes.
  auto& lines = out.lines;
  std::size_t n = 2;
  while (!lines.empty()) {
    if (lines.size() == 1) {
      if (still_breaks({})) lines.clear();
      break;
    }
    n = std::min(n, lines.size());
    bool cut = false;
    for (std::size_t i = 0; i < n && !cut; ++i) {
      auto from = lines.size() * i / n, to = lines.size() * (i + 1) / n;
      std::vector<std::string> rest(lines.begin(), lines.begin() + static_cast<std::ptrdiff_t>(from));
      rest.insert(rest.end(), lines.begin() + static_cast<std::ptrdiff_t>(to), lines.end());
      if (!still_breaks(rest)) continue;
      lines = std::move(rest);
      n = std::max<std::size_t>(n - 1, 2);
      cut = true;
      progress(count_of(lines.size()) + (lines.size() == 1 ? " still breaks" : " still break") + " them (run " +
               std::to_string(out.runs) + ")");
    }
    if (cut) continue;
    if (n == lines.size()) break;
    n = std::min(lines.size(), 2 * n);
  }
  write_schedule(schedule_path, lines);

  // Nothing after the first instant over a limit made it so: the rows that
  // come later, and the faults that start later, go, if the run without
  // them still breaks every promise the whole one broke (it may break
  // another: an account refused in a fault's last moments has no later
  // request to be served again).
  if (out.broken.over_limit && last.first_over >= 0 && !request.trace.empty() && request.workload.empty() &&
      request.clients.empty()) {
    auto until = last.first_over;
    auto [kept, rows] = cut_trace(request.trace, until, trace_path);
    std::vector<std::string> before;
    for (auto& l : lines)
      if (start_of(l) <= until) before.push_back(l);
    if (kept < rows || before.size() < lines.size()) {
      candidate.trace = trace_path;
      if (still_breaks(before)) {
        lines = std::move(before);
        out.trace = trace_path;
        out.rows_kept = kept;
        out.rows = rows;
        progress("the trace cut after " + policies::format_seconds(until) + " s, the first instant over a limit: " +
                 std::to_string(kept) + " of " + std::to_string(rows) + " rows");
      } else {
        candidate.trace = request.trace;
        progress("the trace cut after " + policies::format_seconds(until) +
                 " s, the first instant over a limit, breaks less: not cut");
      }
    }
  }

  // Each window as short as it may be: its end bisected towards its start
  // (to a millisecond, or a 64th of it), keeping the shortest that still
  // breaks them. Not every shorter window does, so this finds one end, not
  // the least.
  for (std::size_t i = 0; i < lines.size(); ++i) {
    auto [from, to] = window_of(lines[i], lines);
    if (from < 0 || to <= from) continue;
    auto lo = from, hi = to;
    auto precision = std::max<policies::usec>(1000, (to - from) / 64);
    auto original = lines[i];
    while (hi - lo > precision) {
      auto mid = lo + (hi - lo) / 2;
      auto trial = lines;
      trial[i] = ending_at(original, mid);
      if (still_breaks(trial)) {
        hi = mid;
        lines = std::move(trial);
      } else {
        lo = mid;
      }
    }
    if (lines[i] != original) progress(original + ": still breaks them as " + lines[i]);
  }
  write_schedule(schedule_path, lines);
  out.first_over_account = last.first_over_account;
  return out;
}

}  // namespace usher::tools

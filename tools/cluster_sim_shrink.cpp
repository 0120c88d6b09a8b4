#include "tools/cluster_sim_shrink.hpp"

#include <fstream>

#include "policies/input_error.hpp"

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

}  // namespace

shrink_result shrink_faults(const cluster_sim_request& request, const std::string& schedule_path,
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
  auto still_breaks = [&](const std::vector<std::string>& lines) {
    write_schedule(schedule_path, lines);
    ++out.runs;
    try {
      return broken_by(run_cluster_sim(candidate)).covers(out.broken);
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
  return out;
}

}  // namespace usher::tools

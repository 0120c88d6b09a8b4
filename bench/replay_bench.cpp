/// usher_replay_bench: the replay benchmark of issue #2 (results in
/// docs/PERFORMANCE.md). Measures simulated requests per second, wall time
/// and peak memory (RSS) of a whole `usher simulate` run -- process start,
/// CSV parsing, simulation, outputs -- on generated traces, beside a plain
/// priority-queue event loop for the same model (bench/plain_loop.hpp) as
/// the yardstick of what one core does.
///
/// Each repetition runs, back to back on one trace: the plain loop over
/// in-memory arrays, `usher simulate`, the plain loop again (the yardstick of
/// the repetition is the mean of the two, since this machine's speed may
/// change within seconds), the plain loop reading the CSV with the Fast C++
/// CSV Parser, and that parser alone. Ratios are taken within a repetition,
/// by wall time and by CPU time (the steadier one when other processes share
/// the machine); the table shows medians. The first repetition also checks
/// that usher's summary.json counts (200, 202, 408, 429) equal the plain
/// loop's, and the exit code is 1 when they differ.
///
/// Run (after building the `usher` and `usher_replay_bench` targets):
///
///   build-bench/bench/usher_replay_bench --usher build-bench/usher
///       --work /tmp/usher-bench --reps 5 --reps-10m 5   (one command line)
///
/// Traces (bench/bench_trace.hpp) are generated into --work when absent;
/// delete them to regenerate. --traces streams-1m,mix-1m picks some.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "bench/bench_trace.hpp"
#include "bench/child_run.hpp"
#include "bench/plain_loop.hpp"

namespace fs = std::filesystem;
using namespace usher::bench;

namespace {

constexpr int streams = 10;
constexpr int depth = 5;
constexpr std::int64_t max_wait_us = 60'000'000;  // the streams preset's queue.max_wait

struct options {
  std::string usher;
  std::string work = "/tmp/usher-bench";
  int reps = 5;
  int reps_10m = 5;
  std::string threads = "1";
  std::vector<std::string> traces = {"streams-1m", "mix-1m", "streams-10m"};
};

const char* usage =
    "usher_replay_bench [--usher PATH] [--work DIR] [--reps N] [--reps-10m N]\n"
    "                   [--traces NAME,...] [--threads N]\n"
    "  --usher     the usher binary (default: next to this program, or one folder up)\n"
    "  --work      where traces and outputs go (default /tmp/usher-bench)\n"
    "  --reps      repetitions of each 1M trace (default 5)\n"
    "  --reps-10m  repetitions of streams-10m (default 5)\n"
    "  --traces    streams-1m,mix-1m,streams-10m (default: all three)\n"
    "  --threads   passed to usher simulate --threads (default 1: the virtual clock)\n";

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

bool parse_options(int argc, char** argv, options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") return false;
    if (i + 1 >= argc) throw std::runtime_error(a + ": needs a value");
    std::string v = argv[++i];
    if (a == "--usher") o.usher = v;
    else if (a == "--work") o.work = v;
    else if (a == "--reps") o.reps = std::stoi(v);
    else if (a == "--reps-10m") o.reps_10m = std::stoi(v);
    else if (a == "--traces") o.traces = split(v);
    else if (a == "--threads") o.threads = v;
    else throw std::runtime_error(a + ": unknown option");
  }
  if (o.usher.empty()) {
    fs::path self = fs::canonical("/proc/self/exe").parent_path();
    for (auto p : {self / "usher", self.parent_path() / "usher"})
      if (fs::exists(p)) o.usher = p.string();
    if (o.usher.empty()) throw std::runtime_error("usher not found next to this program: give --usher");
  }
  return true;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Wall and CPU time (this process, all threads: the CSV parser reads ahead
// on a thread of its own) of one call.
struct span {
  double wall = 0, cpu = 0;
};

double cpu_now() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

template <class F>
span timed(F&& f) {
  double c0 = cpu_now();
  auto t0 = std::chrono::steady_clock::now();
  f();
  span s;
  s.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  s.cpu = cpu_now() - c0;
  return s;
}

// One trace's measurements, one entry per repetition. Rates are rows per
// second of wall time; ratios are usher's rate over the plain loop's in the
// same repetition, by wall time and by CPU time (the CPU ratio is the one
// less disturbed when other processes share the machine).
struct series {
  std::string name;
  std::uint64_t rows = 0;
  int reps = 0;
  std::vector<double> usher_wall, usher_cpu, usher_rss_mib, plain_rate, csv_rate, parse_rate;
  std::vector<double> ratio_plain, ratio_csv, ratio_plain_cpu, ratio_csv_cpu;
  std::string check;  // "ok" or what differed
};

// usher's summary.json counts against the plain loop's.
std::string compare(const std::string& summary_path, const loop_counts& c) {
  std::ifstream in(summary_path);
  if (!in) return "no summary.json";
  auto j = nlohmann::json::parse(in);
  const auto& all = j["overall"];
  auto status = [&](const char* code) -> std::uint64_t {
    return all["status"].contains(code) ? all["status"][code].get<std::uint64_t>() : 0;
  };
  std::ostringstream diff;
  auto expect = [&](const char* what, std::uint64_t usher, std::uint64_t plain) {
    if (usher != plain) diff << what << " usher " << usher << " plain " << plain << "; ";
  };
  expect("requests", all["requests"].get<std::uint64_t>(), c.requests);
  expect("200", status("200"), c.ok);
  expect("202", all["queued"].get<std::uint64_t>(), c.queued);
  expect("408", status("408"), c.timeouts);
  expect("429", status("429"), c.rejected);
  std::string d = diff.str();
  return d.empty() ? "ok" : "MISMATCH: " + d;
}

series measure(const trace_spec& spec, const options& o, int reps, spawner& sp) {
  series s;
  s.name = o.threads == "1" ? spec.name : spec.name + " (--threads " + o.threads + ")";
  s.rows = spec.rows;
  s.reps = reps;
  fs::create_directories(o.work);
  std::string csv = (fs::path(o.work) / (spec.name + ".csv")).string();
  std::string out = (fs::path(o.work) / ("out-" + spec.name)).string();
  std::cerr << spec.name << ": generating rows\n";
  trace_rows rows = generate(spec);
  if (!fs::exists(csv)) {
    std::cerr << spec.name << ": writing " << csv << "\n";
    write_csv(rows, csv);
  }
  std::vector<std::string> argv = {o.usher, "simulate", "--plan", "streams",
                                   "--set", "streams=" + std::to_string(streams),
                                   "--set", "queue.max_depth=" + std::to_string(depth),
                                   "--trace", csv, "--out", out, "--threads", o.threads, "--quiet"};
  std::cerr << spec.name << ": usher command:";
  for (auto& a : argv) std::cerr << " " << a;
  std::cerr << "\n";
  auto n = static_cast<double>(spec.rows);
  auto plain_arrays = [&] {
    return run_plain_arrays(rows.at, rows.duration, rows.account, spec.accounts, streams, depth,
                            max_wait_us);
  };
  for (int r = 0; r < reps; ++r) {
    loop_counts counts, from_csv;
    span before = timed([&] { counts = plain_arrays(); });
    child_result u = sp.run(argv);
    if (u.exit_code != 0)
      throw std::runtime_error("usher simulate exited with " + std::to_string(u.exit_code));
    span after = timed([&] { plain_arrays(); });
    span with_csv = timed([&] { from_csv = run_plain_csv(csv, true, streams, depth, max_wait_us); });
    span parse_only = timed([&] { run_plain_csv(csv, false, streams, depth, max_wait_us); });
    if (r == 0) {
      s.check = compare((fs::path(out) / "summary.json").string(), counts);
      if (from_csv.ok != counts.ok || from_csv.queued != counts.queued)
        s.check += " (and the CSV loop differs from the array loop)";
    }
    double plain_wall = (before.wall + after.wall) / 2, plain_cpu = (before.cpu + after.cpu) / 2;
    double usher_cpu = u.user_s + u.sys_s;
    s.usher_wall.push_back(u.wall_s);
    s.usher_cpu.push_back(usher_cpu);
    s.usher_rss_mib.push_back(static_cast<double>(u.max_rss_kib) / 1024);
    s.plain_rate.push_back(n / plain_wall);
    s.csv_rate.push_back(n / with_csv.wall);
    s.parse_rate.push_back(n / parse_only.wall);
    s.ratio_plain.push_back(plain_wall / u.wall_s);
    s.ratio_csv.push_back(with_csv.wall / u.wall_s);
    s.ratio_plain_cpu.push_back(plain_cpu / usher_cpu);
    s.ratio_csv_cpu.push_back(with_csv.cpu / usher_cpu);
    std::fprintf(stderr,
                 "%s rep %d: usher %.3f s (%.0f req/s, cpu %.3f s, peak RSS %.1f MiB) | plain "
                 "%.3f/%.3f s (%.0f req/s) | plain+fccp %.3f s | fccp parse %.3f s | usher/plain "
                 "1/%.2f (cpu 1/%.2f)\n",
                 spec.name.c_str(), r + 1, u.wall_s, n / u.wall_s, usher_cpu,
                 static_cast<double>(u.max_rss_kib) / 1024, before.wall, after.wall,
                 n / plain_wall, with_csv.wall, parse_only.wall, u.wall_s / plain_wall,
                 usher_cpu / plain_cpu);
  }
  std::cerr << spec.name << ": counts check: " << s.check << "\n";
  return s;
}

void print_table(const std::vector<series>& all) {
  std::printf(
      "\n| trace | rows | reps | usher wall s | usher req/s | usher CPU s | usher peak RSS MiB | "
      "plain loop req/s | plain loop + fccp CSV req/s | fccp parse only rows/s | usher / plain "
      "loop | usher / plain loop + CSV | same, CPU time | counts |\n"
      "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (auto& s : all) {
    auto n = static_cast<double>(s.rows);
    std::printf(
        "| %s | %llu | %d | %.2f | %.0f | %.2f | %.1f | %.0f | %.0f | %.0f | 1/%.2f | 1/%.2f | "
        "1/%.2f, 1/%.2f | %s |\n",
        s.name.c_str(), static_cast<unsigned long long>(s.rows), s.reps, median(s.usher_wall),
        n / median(s.usher_wall), median(s.usher_cpu), median(s.usher_rss_mib),
        median(s.plain_rate), median(s.csv_rate), median(s.parse_rate), 1 / median(s.ratio_plain),
        1 / median(s.ratio_csv), 1 / median(s.ratio_plain_cpu), 1 / median(s.ratio_csv_cpu),
        s.check.c_str());
  }
  std::printf("\nPer repetition, usher req/s (peak RSS MiB):\n");
  for (auto& s : all) {
    std::printf("  %s:", s.name.c_str());
    for (std::size_t i = 0; i < s.usher_wall.size(); ++i)
      std::printf(" %.0f (%.1f)", static_cast<double>(s.rows) / s.usher_wall[i], s.usher_rss_mib[i]);
    std::printf("\n");
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    spawner sp;  // first, while this process is still small
    options o;
    if (!parse_options(argc, argv, o)) {
      std::cout << usage;
      return 0;
    }
    std::vector<series> results;
    for (auto& name : o.traces) {
      auto specs = standard_traces();
      auto it = std::find_if(specs.begin(), specs.end(), [&](auto& s) { return s.name == name; });
      if (it == specs.end()) throw std::runtime_error(name + ": unknown trace");
      int reps = it->rows > 1'000'000 ? o.reps_10m : o.reps;
      if (reps > 0) results.push_back(measure(*it, o, reps, sp));
    }
    print_table(results);
    for (auto& s : results)
      if (s.check != "ok") return 1;
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "usher_replay_bench: " << e.what() << "\n" << usage;
    return 2;
  }
}

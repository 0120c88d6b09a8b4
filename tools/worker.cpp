/// `usher worker --listen HOST:PORT`: runs the variants that sweeps on other
/// machines send it (tools/sweep_workers.hpp has the protocol,
/// docs/WHATIF.md "Sweeps across machines" the use). One actor answers the
/// sweeps; what blocks (reading a trace, replaying a variant) runs on a
/// detached actor of its own, so the worker answers a sweep that says hello
/// while its variants run.

#include <signal.h>
#include <stdlib.h>

#include <boost/program_options.hpp>
#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <chrono>
#include <cstdio>
#include <deque>
#include <functional>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>

#include "actors/cluster/cluster_config.hpp"
#include "actors/http/key_hash.hpp"
#include "tools/command_line.hpp"
#include "tools/commands.hpp"
#include "tools/loaded_run.hpp"
#include "tools/parallel_runs.hpp"
#include "tools/sweep_workers.hpp"
#include "tools/workload_file.hpp"
#include "traces/plan_file.hpp"

namespace usher::tools {

namespace po = boost::program_options;
namespace fs = std::filesystem;
using namespace remote;

namespace {

// One sweep as this worker holds it: everything but the variant's settings.
struct prepared_sweep {
  std::shared_ptr<const traces::loaded_trace> trace;
  std::optional<workload> clients;
  std::string plan_base;  ///< a preset, or the plan file written in the cache
};

struct worker_state {
  fs::path cache;  ///< shipped traces (SHA.trace), plan and workload files
  std::size_t jobs = 1;
  std::string identity;
  bool quiet = false;
  bool shared_paths = true;  ///< may read a trace at the path a sweep names
  std::map<std::string, std::shared_ptr<const prepared_sweep>> sweeps;  ///< by sweep id
  std::deque<std::string> sweep_order;                                  ///< oldest first
  std::map<std::string, std::shared_ptr<const traces::loaded_trace>> traces;  ///< by SHA-256
  std::deque<std::string> trace_order;
  std::map<std::string, std::uint64_t> receiving;  ///< SHA-256 -> bytes stored so far
};

// Sweeps and traces kept in memory: the last few, so that a sweep that
// comes back (--resume, or the next one over the same trace) starts at once.
constexpr std::size_t kept_sweeps = 8;
constexpr std::size_t kept_traces = 2;

using worker_actor = caf::stateful_actor<worker_state>;

void log(worker_actor* self, const std::string& text) {
  if (!self->state.quiet) std::fprintf(stderr, "usher worker: %s\n", text.c_str());
}

std::string error_answer(const std::string& what) { return nlohmann::json{{"error", what}}.dump(); }

bool is_sha256(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// Reads what a sweep's setup names into `out` (blocking: runs on a detached
// actor). Returns "" when done, "need_trace" when the trace must be sent,
// else the error.
std::string load_setup(const nlohmann::json& setup, const fs::path& cache, const std::string& id,
                       std::size_t jobs, bool shared_paths,
                       std::shared_ptr<const traces::loaded_trace> cached, prepared_sweep& out) {
  if (setup.contains("trace") && !cached) {
    auto& t = setup["trace"];
    auto sha = t.at("sha256").get<std::string>();
    auto bytes = t.at("bytes").get<std::uint64_t>();
    if (!is_sha256(sha)) return "a trace named by something else than a SHA-256";
    auto stored = cache / (sha + ".trace");
    auto part = cache / (sha + ".part");
    std::error_code ec;
    std::string from;
    if (fs::exists(stored, ec)) {
      from = stored.string();
    } else if (fs::file_size(part, ec) == bytes && !ec) {
      // Shipped whole: kept only if it is what was meant.
      if (actors::http::sha256_file_hex(part.string()) != sha) {
        fs::remove(part, ec);
        return "the trace arrived damaged (its SHA-256 differs); send it again";
      }
      fs::rename(part, stored);
      from = stored.string();
    } else if (shared_paths) {
      // Shared storage: the same path, size and content here.
      auto path = t.at("path").get<std::string>();
      if (fs::file_size(path, ec) == bytes && !ec && actors::http::sha256_file_hex(path) == sha) from = path;
    }
    if (from.empty()) return "need_trace";
    out.trace = std::make_shared<const traces::loaded_trace>(from, jobs);
  } else {
    out.trace = cached ? cached : std::make_shared<const traces::loaded_trace>("", 1);
  }
  auto& plan = setup.at("plan");
  if (plan.contains("preset")) {
    out.plan_base = plan["preset"].get<std::string>();
  } else {
    auto path = cache / (id + ".plan");
    std::ofstream(path) << plan.at("text").get<std::string>();
    out.plan_base = path.string();
  }
  if (setup.contains("workload")) {
    auto path = cache / (id + ".workload");
    std::ofstream(path) << setup["workload"].at("text").get<std::string>();
    out.clients = read_workload_file(path.string());
  }
  return "";
}

// Replays one variant (blocking: runs on a detached actor); returns the
// variant_result's JSON text or an error answer.
std::string run_variant(const prepared_sweep& p, const std::string& job_text) {
  try {
    auto job = nlohmann::json::parse(job_text);
    auto settings = job.at("settings").get<std::vector<std::string>>();
    auto plan = traces::load_plan(p.plan_base, settings, "--vary");
    auto summary = run_loaded(*p.trace, plan, job.at("spec").get<std::string>(), nullptr,
                              p.clients ? &*p.clients : nullptr);
    return variant_result::of_summary(summary).to_json().dump();
  } catch (const std::exception& e) {
    return error_answer(e.what());
  }
}

// A detached actor that does `work` once, when asked (work_atom), answers
// with its result and ends: what blocks runs off the worker's thread. The
// work comes as a spawn argument: CAF 0.17 dereferences a null argument
// tuple when a function actor takes none (UBSan: reference binding to null).
using work_atom = caf::atom_constant<caf::atom("sw_work")>;

caf::behavior one_shot(caf::event_based_actor* self, std::function<std::string()> work) {
  return {[=](work_atom) -> std::string {
    self->quit();
    return work();
  }};
}

caf::behavior worker_behavior(worker_actor* self, fs::path cache, std::size_t jobs,
                              std::string identity, bool quiet, bool shared_paths) {
  self->state.cache = std::move(cache);
  self->state.shared_paths = shared_paths;
  self->state.jobs = jobs;
  self->state.identity = std::move(identity);
  self->state.quiet = quiet;
  return {
      [=](hello_atom, const std::string& theirs) -> caf::result<hello_atom, std::string> {
        auto& st = self->state;
        if (theirs != st.identity)
          log(self, "refused a sweep of usher " + theirs + " (this worker runs usher " + st.identity + ")");
        return {hello_atom::value, nlohmann::json{{"version", st.identity}, {"jobs", st.jobs}}.dump()};
      },
      [=](prepare_atom, const std::string& id, const std::string& text) {
        auto rp = self->make_response_promise();
        auto& st = self->state;
        if (st.sweeps.count(id)) return rp.deliver(prepare_atom::value, id, std::string(R"({"ready":true})"));
        auto setup = nlohmann::json::parse(text, nullptr, false);
        if (!setup.is_object() || !setup.contains("plan"))
          return rp.deliver(prepare_atom::value, id, error_answer("a setup that is not a sweep's"));
        std::shared_ptr<const traces::loaded_trace> cached;
        std::string sha;
        if (setup.contains("trace") && setup["trace"].contains("sha256")) {
          sha = setup["trace"]["sha256"].is_string() ? setup["trace"]["sha256"].get<std::string>() : "";
          if (auto it = st.traces.find(sha); it != st.traces.end()) cached = it->second;
        }
        auto slot = std::make_shared<prepared_sweep>();
        auto loader = self->spawn<caf::detached>(
            one_shot, [=, cache = st.cache, jobs = st.jobs, shared = st.shared_paths]() -> std::string {
              try {
                return load_setup(setup, cache, id, jobs, shared, cached, *slot);
              } catch (const std::exception& e) {
                return e.what();
              }
            });
        self->request(loader, caf::infinite, work_atom::value)
            .then([=](const std::string& outcome) mutable {
              auto& s = self->state;
              if (outcome == "need_trace")
                return rp.deliver(prepare_atom::value, id, std::string(R"({"need_trace":true})"));
              if (!outcome.empty()) {
                log(self, "cannot take sweep " + id + ": " + outcome);
                return rp.deliver(prepare_atom::value, id, error_answer(outcome));
              }
              if (!sha.empty() && !s.traces.count(sha)) {
                s.traces[sha] = slot->trace;
                s.trace_order.push_back(sha);
                if (s.trace_order.size() > kept_traces) {
                  s.traces.erase(s.trace_order.front());
                  s.trace_order.pop_front();
                }
              }
              s.sweeps[id] = slot;
              s.sweep_order.push_back(id);
              if (s.sweep_order.size() > kept_sweeps) {
                s.sweeps.erase(s.sweep_order.front());
                s.sweep_order.pop_front();
              }
              log(self, "sweep " + id + ": " + std::to_string(slot->trace->rows().size()) + " trace rows ready");
              rp.deliver(prepare_atom::value, id, std::string(R"({"ready":true})"));
            });
      },
      [=](chunk_atom, const std::string& sha, std::uint64_t offset,
          const std::string& bytes) -> caf::result<chunk_atom, std::string> {
        auto& st = self->state;
        if (!is_sha256(sha)) return {chunk_atom::value, error_answer("a trace named by something else than a SHA-256")};
        auto part = st.cache / (sha + ".part");
        auto& have = st.receiving[sha];
        if (offset != 0 && offset != have)
          return {chunk_atom::value, error_answer("a piece of the trace out of order")};
        std::ofstream out(part, offset == 0 ? std::ios::binary | std::ios::trunc : std::ios::binary | std::ios::app);
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        out.close();
        if (!out) return {chunk_atom::value, error_answer("cannot write " + part.string())};
        have = offset + bytes.size();
        if (offset == 0) log(self, "receiving trace " + sha.substr(0, 12));
        return {chunk_atom::value, nlohmann::json{{"next", have}}.dump()};
      },
      [=](run_atom, const std::string& id, std::uint64_t index, const std::string& job) {
        auto rp = self->make_response_promise();
        auto& st = self->state;
        auto it = st.sweeps.find(id);
        if (it == st.sweeps.end())
          return rp.deliver(run_atom::value, index, std::string(R"({"unprepared":true})"));  // forgotten: prepare again
        auto sweep = it->second;
        auto runner = self->spawn<caf::detached>(one_shot, [=]() { return run_variant(*sweep, job); });
        auto started = std::chrono::steady_clock::now();
        log(self, "sweep " + id + ": variant " + std::to_string(index + 1) + " started");
        self->request(runner, caf::infinite, work_atom::value).then([=](const std::string& result) mutable {
          char line[160];
          std::snprintf(line, sizeof(line), "sweep %s: variant %llu done in %.1f s", id.c_str(),
                        static_cast<unsigned long long>(index + 1),
                        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
          log(self, line);
          rp.deliver(run_atom::value, index, result);
        });
      },
  };
}

}  // namespace

int worker_command(const std::vector<std::string>& args) {
  std::string listen, cache;
  std::size_t jobs = 0;
  bool quiet = false, no_shared_paths = false;
  po::options_description desc(
      "usher worker --listen HOST:PORT [options]\n\nRuns the variants of sweeps started elsewhere "
      "with `usher sweep --workers HOST:PORT,...` (docs/WHATIF.md, \"Sweeps across machines\")");
  desc.add_options()("help,h", "show this help")(
      "listen", po::value(&listen)->required(), "HOST:PORT to listen on (port 0: any free one)")(
      "jobs,j", po::value(&jobs), "variants run at once (default: the machine's cores)")(
      "cache", po::value(&cache),
      "directory for traces sent to this worker (default: a new one in the temporary directory, "
      "removed when the worker stops)")(
      "no-shared-paths", po::bool_switch(&no_shared_paths),
      "never read a trace at the path a sweep names, even with the same size and SHA-256: "
      "always have it sent")("quiet,q", po::bool_switch(&quiet),
                                        "log nothing but errors");
  po::variables_map vm;
  std::string host;
  std::uint16_t port = 0;
  if (auto done = parse_options("worker", args, desc, vm, [&] {
        if (!actors::cluster::parse_host_port(listen, host, port, true))
          throw po::error("--listen expects HOST:PORT, got " + listen);
      }))
    return *done;

  return report_errors("worker", [&] {
    keep_freed_memory();
    bool own_cache = cache.empty();
    if (own_cache) {
      std::string tmpl = (fs::temp_directory_path() / "usher-worker-XXXXXX").string();
      if (!::mkdtemp(tmpl.data())) throw std::runtime_error("cannot create a directory in " + fs::temp_directory_path().string());
      cache = tmpl;
    } else {
      fs::create_directories(cache);
    }
    // Stop signals are taken by this thread alone (sigwait below).
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, nullptr);

    caf::actor_system_config cfg;
    configure(cfg);
    caf::actor_system sys{cfg};
    if (jobs == 0) jobs = default_jobs();
    // The tests' way to play a worker of another build.
    const char* claimed = std::getenv("USHER_WORKER_CLAIMS_VERSION");
    std::string identity = claimed && *claimed ? claimed : build_identity();
    auto worker = sys.spawn(worker_behavior, fs::path(cache), jobs, identity, quiet, !no_shared_paths);
    auto bound = sys.middleman().publish(worker, port, host.c_str(), true);
    if (!bound) throw std::runtime_error("cannot listen on " + listen + ": " + sys.render(bound.error()));
    std::cout << "listening on " << host << ":" << *bound << std::endl;
    if (!quiet)
      std::fprintf(stderr, "usher worker: usher %s, %zu job%s, traces kept in %s\n", identity.c_str(),
                   jobs, jobs == 1 ? "" : "s", cache.c_str());
    int sig = 0;
    sigwait(&stop, &sig);
    if (own_cache) {
      std::error_code ignored;
      fs::remove_all(cache, ignored);
    }
    if (!quiet) std::fprintf(stderr, "usher worker: stopped (%s)\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    // Not a wait for running variants (a sweep treats a stopped worker as a
    // lost one and runs them elsewhere): the process ends here.
    std::fflush(nullptr);
    std::_Exit(exit_ok);
    return exit_ok;
  });
}

}  // namespace usher::tools

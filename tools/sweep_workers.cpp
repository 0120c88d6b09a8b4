#include "tools/sweep_workers.hpp"

#include <unistd.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <chrono>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <stdexcept>

#include "actors/cluster/cluster_config.hpp"
#include "actors/http/key_hash.hpp"
#include "policies/input_error.hpp"
#include "tools/build_info.hpp"
#include "traces/plan_file.hpp"

namespace usher::tools {

namespace fs = std::filesystem;

namespace remote {

std::string build_identity() { return std::string(build_version()) + " (" + build_commit() + ")"; }

void configure(caf::actor_system_config& cfg) {
  cfg.load<caf::io::middleman>();
  cfg.set("logger.verbosity", caf::atom("quiet"));
  // The actors here only pass messages (variants run on detached actors of
  // their own): one scheduler thread that sleeps when idle, so it takes no
  // core from the variants (work stealing's idle threads poll).
  cfg.set("scheduler.max-threads", 1);
  cfg.set("scheduler.policy", caf::atom("sharing"));
  // A tick every 5 s: each tick may close a connection still in its
  // handshake (see connect_to_worker), and 5 s is small beside the 30 s a
  // silent worker gets.
  cfg.set("middleman.heartbeat-interval", caf::timespan{std::chrono::seconds(5)});
  cfg.set("middleman.connection-timeout", caf::timespan{std::chrono::seconds(30)});
}

}  // namespace remote

namespace {

using namespace remote;

// CAF 0.17.6's BASP broker leaves an outgoing connection's last_seen at the
// clock's epoch until the server's handshake arrives, so a heartbeat tick
// falling inside the handshake closes it as timed out (sec::connection_timeout)
// however young it is. Each try meets a tick with the chance handshake time /
// heartbeat interval, so a few tries make that loss negligible; a worker that
// really does not answer fails otherwise (refused, unreachable) and is not
// tried again.
caf::expected<caf::actor> connect_to_worker(caf::actor_system& sys, const std::string& host,
                                            std::uint16_t port) {
  constexpr int tries = 5;
  auto handle = sys.middleman().remote_actor(host, port);
  for (int i = 1; i < tries && !handle && handle.error() == caf::sec::connection_timeout; ++i)
    handle = sys.middleman().remote_actor(host, port);
  return handle;
}

// A trace is streamed in pieces of this size, one at a time per worker:
// each answered before the next goes, so a slow link holds one piece in
// memory, not the whole file.
constexpr std::size_t chunk_bytes = 4 << 20;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void warn(const std::string& text) { std::fprintf(stderr, "usher sweep: %s\n", text.c_str()); }

struct worker {
  enum class phase { greeting, preparing, shipping, ready, gone };
  std::string address;
  caf::actor handle;
  phase at = phase::greeting;
  std::size_t jobs = 0;
  std::set<std::size_t> running;  ///< variant indices sent, not yet answered
};

}  // namespace

void run_on_workers(const std::vector<std::string>& addresses, const worker_sweep& sweep,
                    const std::vector<std::size_t>& todo,
                    const std::function<void(std::size_t, const variant_result&)>& done,
                    progress_line* progress, std::size_t finished) {
  if (todo.empty()) return;
  // What every worker gets once: the trace by name, size and content, the
  // workload's and plan file's text.
  nlohmann::json setup = nlohmann::json::object();
  std::uint64_t trace_bytes = 0;
  std::string trace_sha;
  if (!sweep.trace_path.empty()) {
    trace_bytes = fs::file_size(sweep.trace_path);
    trace_sha = actors::http::sha256_file_hex(sweep.trace_path);
    setup["trace"] = {{"path", fs::absolute(sweep.trace_path).string()},
                      {"bytes", trace_bytes},
                      {"sha256", trace_sha}};
  }
  if (!sweep.workload_path.empty()) setup["workload"] = {{"text", slurp(sweep.workload_path)}};
  bool plan_is_file = !traces::is_preset(sweep.plan_base);
  setup["plan"] = plan_is_file ? nlohmann::json{{"text", slurp(sweep.plan_base)}}
                               : nlohmann::json{{"preset", sweep.plan_base}};
  // Names this sweep on the workers (several sweeps may share one).
  std::string sweep_id = std::to_string(::getpid()) + "-" +
                         std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
  std::string setup_text = setup.dump();

  caf::actor_system_config cfg;
  configure(cfg);
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};

  std::vector<worker> workers;
  for (auto& address : addresses) {
    std::string host;
    std::uint16_t port = 0;
    actors::cluster::parse_host_port(address, host, port);
    auto handle = connect_to_worker(sys, host, port);
    if (!handle) {
      warn("worker " + address + " cannot be reached (" + sys.render(handle.error()) + "); going on without it");
      continue;
    }
    worker w;
    w.address = address;
    w.handle = *handle;
    self->monitor(w.handle);
    self->send(w.handle, hello_atom::value, build_identity());
    workers.push_back(std::move(w));
  }

  std::deque<std::size_t> queue(todo.begin(), todo.end());
  std::ifstream trace_in;
  if (!sweep.trace_path.empty()) trace_in.open(sweep.trace_path, std::ios::binary);
  std::vector<bool> answered(*std::max_element(todo.begin(), todo.end()) + 1, false);
  std::size_t left = todo.size();

  // What ends the sweep, set by a handler and thrown once receive() is back
  // (an exception does not cross CAF's message handling).
  std::string failure;
  auto dispatch = [&](worker& w) {
    while (w.at == worker::phase::ready && w.running.size() < w.jobs && !queue.empty()) {
      std::size_t i = queue.front();
      queue.pop_front();
      w.running.insert(i);
      nlohmann::json job = {{"spec", sweep.specs[i]}, {"settings", sweep.settings[i]}};
      self->send(w.handle, run_atom::value, sweep_id, static_cast<std::uint64_t>(i), job.dump());
    }
  };
  // Leaves a worker out; what it was running goes first to the others.
  auto lose = [&](worker& w, const std::string& why) {
    if (w.at == worker::phase::gone) return;
    warn("worker " + w.address + " " + why +
         (w.running.empty() ? "" : "; its " + std::to_string(w.running.size()) + " running variant" +
                                       (w.running.size() == 1 ? "" : "s") + " go to the others"));
    w.at = worker::phase::gone;
    self->demonitor(w.handle);
    for (auto it = w.running.rbegin(); it != w.running.rend(); ++it) queue.push_front(*it);
    w.running.clear();
    for (auto& other : workers) dispatch(other);
  };
  auto send_chunk = [&](worker& w, std::uint64_t offset) {
    std::string bytes(std::min<std::uint64_t>(chunk_bytes, trace_bytes - offset), '\0');
    trace_in.clear();
    trace_in.seekg(static_cast<std::streamoff>(offset));
    trace_in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!trace_in) {
      failure = "cannot read " + sweep.trace_path + " to send it to a worker";
      return;
    }
    self->send(w.handle, chunk_atom::value, trace_sha, offset, std::move(bytes));
  };
  auto from = [&]() -> worker* {
    auto sender = caf::actor_cast<caf::actor_addr>(self->current_sender());
    for (auto& w : workers)
      if (w.handle.address() == sender) return &w;
    return nullptr;
  };
  // A worker's answer, with every field the handlers read of the type they
  // read it as: bytes from the network never throw inside a handler.
  auto answer_of = [](const std::string& text) {
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (!j.is_object()) return nlohmann::json{{"error", "an answer that is not JSON"}};
    if (j.contains("error") && !j["error"].is_string()) j["error"] = j["error"].dump();
    for (auto* key : {"jobs", "next"})
      if (j.contains(key) && !j[key].is_number_unsigned()) j = {{"error", std::string("a bad '") + key + "'"}};
    if (j.contains("version") && !j["version"].is_string()) j.erase("version");
    for (auto* key : {"need_trace", "unprepared"})
      if (j.contains(key) && !j[key].is_boolean()) j.erase(key);
    return j;
  };

  auto last_draw = std::chrono::steady_clock::now();
  while (left > 0) {
    bool any = false;
    for (auto& w : workers) any = any || w.at != worker::phase::gone;
    if (!any)
      throw std::runtime_error(
          "no worker left to run the sweep's " + std::to_string(left) + " remaining variant" +
          (left == 1 ? "" : "s") + " (the finished ones are kept: run again with --resume)");
    self->receive(
        [&](hello_atom, const std::string& text) {
          auto* w = from();
          if (!w || w->at != worker::phase::greeting) return;
          auto a = answer_of(text);
          auto version = a.value("version", std::string("an unknown version"));
          if (version != build_identity())
            return lose(*w, "runs usher " + version + ", this sweep usher " + build_identity() +
                                ": refused (start the workers from the same build)");
          w->jobs = std::max<std::size_t>(1, a.value("jobs", std::size_t{1}));
          w->at = worker::phase::preparing;
          self->send(w->handle, prepare_atom::value, sweep_id, setup_text);
        },
        [&](prepare_atom, const std::string&, const std::string& text) {
          auto* w = from();
          if (!w || w->at == worker::phase::gone) return;
          auto a = answer_of(text);
          if (a.contains("error")) return lose(*w, "cannot take the sweep: " + a["error"].get<std::string>());
          if (a.value("need_trace", false)) {
            w->at = worker::phase::shipping;
            return send_chunk(*w, 0);
          }
          w->at = worker::phase::ready;
          dispatch(*w);
        },
        [&](chunk_atom, const std::string& text) {
          auto* w = from();
          if (!w || w->at != worker::phase::shipping) return;
          auto a = answer_of(text);
          if (a.contains("error")) return lose(*w, "cannot store the trace: " + a["error"].get<std::string>());
          auto next = a.value("next", std::uint64_t{0});
          if (next >= trace_bytes) {
            w->at = worker::phase::preparing;
            self->send(w->handle, prepare_atom::value, sweep_id, setup_text);
          } else {
            send_chunk(*w, next);
          }
        },
        [&](run_atom, std::uint64_t index, const std::string& text) {
          // Answered by the worker's runner, not the worker: found by index.
          worker* w = nullptr;
          for (auto& x : workers)
            if (x.running.erase(index) > 0) w = &x;
          if (index >= answered.size() || answered[index]) return;
          auto a = answer_of(text);
          if (a.value("unprepared", false) && w) {
            // The worker forgot this sweep (it keeps the last few): set it up again.
            queue.push_front(index);
            if (w->at == worker::phase::ready) {
              w->at = worker::phase::preparing;
              self->send(w->handle, prepare_atom::value, sweep_id, setup_text);
            }
            return;
          }
          if (a.contains("error")) {
            failure = "variant " + std::to_string(index + 1) + " failed on worker " +
                      (w ? w->address : std::string("?")) + ": " + a["error"].get<std::string>();
            return;
          }
          variant_result result;
          try {
            result = variant_result::from_json(a);
          } catch (const nlohmann::json::exception&) {
            failure = "variant " + std::to_string(index + 1) + ": worker " +
                      (w ? w->address : std::string("?")) + " answered numbers that cannot be read";
            return;
          }
          answered[index] = true;
          --left;
          done(index, result);
          if (w) dispatch(*w);
        },
        [&](caf::down_msg& down) {
          for (auto& w : workers)
            if (w.handle.address() == down.source)
              lose(w, "went away (" + sys.render(down.reason) + ")");
        },
        caf::after(std::chrono::milliseconds(250)) >> [] {});
    if (!failure.empty()) throw std::runtime_error(failure);
    if (progress && std::chrono::steady_clock::now() - last_draw > std::chrono::milliseconds(250)) {
      progress->draw(finished + (todo.size() - left));
      last_draw = std::chrono::steady_clock::now();
    }
  }
}

}  // namespace usher::tools

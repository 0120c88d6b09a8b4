// Sweeps across machines (issue #14, docs/WHATIF.md "Sweeps across
// machines"): real `usher worker` processes on loopback, and `usher sweep
// --workers` writing the bytes a local sweep writes, whatever the workers
// do: read the trace at its path or have it sent, run another build, or die
// mid-sweep (kill -9).
#include <signal.h>
#include <stdlib.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <thread>

#include "support/live_node.hpp"
#include "support/usher_cli.hpp"

using usher::testing::child_process;
using usher::testing::run_usher;
using usher::testing::scratch;
using usher::testing::slurp;
namespace fs = std::filesystem;

namespace {

// A real `usher worker` on 127.0.0.1 with an ephemeral port.
class worker_process {
 public:
  /// `args` go after `usher worker --listen 127.0.0.1:0`; `claims`, when
  /// set, is the build it says it is.
  explicit worker_process(const std::vector<std::string>& args = {}, const char* claims = nullptr) {
    static int n = 0;
    log_ = scratch("worker-log-" + std::to_string(n++));
    std::vector<std::string> all = {"worker", "--listen", "127.0.0.1:0"};
    all.insert(all.end(), args.begin(), args.end());
    if (claims) ::setenv("USHER_WORKER_CLAIMS_VERSION", claims, 1);
    auto line = child_.start(all, log_);
    ::unsetenv("USHER_WORKER_CLAIMS_VERSION");
    INFO("usher worker said: " << line << " / stderr: " << log());
    REQUIRE(line.rfind("listening on 127.0.0.1:", 0) == 0);
    address = "127.0.0.1:" + std::to_string(std::stoi(line.substr(23)));
  }
  worker_process(const worker_process&) = delete;
  worker_process& operator=(const worker_process&) = delete;
  ~worker_process() {
    if (child_.alive()) CHECK(child_.stop() == 0);  // SIGTERM: a clean exit
    else child_.stop();
  }

  std::string log() const { return slurp(log_); }
  void kill_hard() { child_.kill_hard(); }

  std::string address;

 private:
  fs::path log_;
  child_process child_;
};

// Waits (bounded) until `ready` holds.
bool eventually(const std::function<bool()>& ready, std::chrono::seconds limit = std::chrono::seconds(120)) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (!ready()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

std::string make_trace(const std::string& name, int rate) {
  auto path = scratch(name).string();
  REQUIRE(run_usher("trace gen --out " + path + " --pattern diurnal --span 7200 --rate " +
                    std::to_string(rate) + " --accounts 20 --mean-duration 10 --seed 3")
              .code == 0);
  return path;
}

void same_files(const fs::path& a, const fs::path& b) {
  for (auto* f : {"sweep.csv", "sweep_accounts.csv"}) {
    INFO(f);
    REQUIRE(fs::exists(a / f));
    CHECK(slurp(a / f) == slurp(b / f));
  }
}

}  // namespace

TEST_CASE("a sweep on workers writes the bytes of a local sweep, its trace read at its path or sent") {
  auto trace = make_trace("workers-day.csv", 12);
  REQUIRE(std::system(("gzip -kf '" + trace + "'").c_str()) == 0);
  auto plan = scratch("workers-plan.ini");
  std::ofstream(plan) << "preset = streams:team\nlimit = 4\n";
  auto workload = scratch("workers-workload.ini");
  std::ofstream(workload) << "seed = 5\nstop = 1h\ntrace = " << trace << ".gz\n"
                          << "[clients.bots]\naccounts = 3\nbehaviour = conversations\n"
                             "conversations = 2\nduration = exp:3s\nthink = exp:10s\n";
  worker_process shared({"--jobs", "1"});
  worker_process sent({"--jobs", "2", "--no-shared-paths"});
  auto workers = " --workers " + shared.address + "," + sent.address;

  SECTION("a preset, a trace and --set") {
    std::string sweep = "sweep --trace " + trace + " --plan streams:team --set queue.max_depth=5 "
                        "--vary limit=1..12 --vary queue.max_wait=30,60 -q --out ";
    auto local = scratch("workers-local"), remote = scratch("workers-remote");
    REQUIRE(run_usher(sweep + local.string() + " --jobs 1").code == 0);
    auto r = run_usher(sweep + remote.string() + workers);
    INFO(r.err);
    REQUIRE(r.code == 0);
    same_files(local, remote);
    // The first worker read the trace where the sweep named it; the second had it sent.
    CHECK(shared.log().find("receiving trace") == std::string::npos);
    CHECK(sent.log().find("receiving trace") != std::string::npos);
    CHECK(shared.log().find("variant") != std::string::npos);
    CHECK(sent.log().find("variant") != std::string::npos);
  }
  SECTION("a plan file with overrides and a workload whose trace is gzip") {
    std::string sweep = "sweep --workload " + workload.string() + " --plan " + plan.string() +
                        "@queue.max_depth=3 --vary limit=1..8 -q --out ";
    auto local = scratch("workers-local-w"), remote = scratch("workers-remote-w");
    REQUIRE(run_usher(sweep + local.string() + " --jobs 1").code == 0);
    auto r = run_usher(sweep + remote.string() + workers);
    INFO(r.err);
    REQUIRE(r.code == 0);
    same_files(local, remote);
  }
}

TEST_CASE("a worker killed mid-sweep has its variants run by the others, and the files do not change") {
  auto trace = make_trace("workers-kill.csv", 25);
  std::string sweep = "sweep --trace " + trace + " --plan streams:team --vary limit=1..10 "
                      "--vary queue.max_wait=30,60 -q --out ";
  auto local = scratch("workers-kill-local");
  REQUIRE(run_usher(sweep + local.string() + " --jobs 2").code == 0);

  worker_process a({"--jobs", "1"}), b({"--jobs", "1"}), c({"--jobs", "1"});
  auto remote = scratch("workers-kill-remote");
  auto err = scratch("workers-kill-err"), rc = scratch("workers-kill-rc");
  std::string cmd = "cd '" + std::string(USHER_SOURCE_DIR) + "' && { '" + USHER_BINARY + "' " + sweep +
                    remote.string() + " --workers " + a.address + "," + b.address + "," + c.address +
                    " 2>'" + err.string() + "'; echo $? >'" + rc.string() + "'; } &";
  REQUIRE(std::system(cmd.c_str()) == 0);
  // Killed while it runs its second variant: it has finished one, so it
  // took part, and holds another that must be run elsewhere.
  auto second_started = [&] {
    auto log = b.log();
    auto done = log.find(" done in ");
    return done != std::string::npos && log.find(" started", done) != std::string::npos;
  };
  REQUIRE(eventually(second_started));
  b.kill_hard();
  REQUIRE(eventually([&] { return slurp(rc).find('\n') != std::string::npos; }));
  INFO(slurp(err));
  CHECK(slurp(rc) == "0\n");
  CHECK(slurp(err).find("worker " + b.address + " went away") != std::string::npos);
  CHECK(slurp(err).find("go to the others") != std::string::npos);
  same_files(local, remote);
  CHECK_FALSE(fs::exists(remote / ".usher-sweep-journal.jsonl"));
}

TEST_CASE("a worker of another build is refused, one that cannot be reached is left out") {
  auto trace = make_trace("workers-refuse.csv", 2);
  std::string sweep = "sweep --trace " + trace + " --plan streams:team --vary limit=1..4 -q --out ";
  worker_process other({}, "0.0.1 (abcdef0)");
  worker_process good({"--jobs", "1"});
  auto dead = "127.0.0.1:" + std::to_string([] {
                boost::asio::io_context io;
                boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
                return a.local_endpoint().port();
              }());  // free now: nothing listens there

  auto alone = run_usher(sweep + scratch("refused").string() + " --workers " + other.address);
  CHECK(alone.code == 1);
  CHECK(alone.err.find("worker " + other.address + " runs usher 0.0.1 (abcdef0), this sweep usher ") !=
        std::string::npos);
  CHECK(alone.err.find("refused") != std::string::npos);
  CHECK(alone.err.find("no worker left to run the sweep's 4 remaining variants") != std::string::npos);
  CHECK_FALSE(fs::exists(scratch("refused") / "sweep.csv"));

  auto local = scratch("refuse-local"), remote = scratch("refuse-remote");
  REQUIRE(run_usher(sweep + local.string() + " --jobs 1").code == 0);
  auto mixed = run_usher(sweep + remote.string() + " --workers " + other.address + "," + dead + "," + good.address);
  INFO(mixed.err);
  CHECK(mixed.code == 0);
  CHECK(mixed.err.find("worker " + dead + " cannot be reached") != std::string::npos);
  same_files(local, remote);
}

TEST_CASE("sweep --workers refuses what it cannot do, before anything runs") {
  auto trace = make_trace("workers-cli.csv", 2);
  std::string sweep = "sweep --trace " + trace + " --plan streams:team --vary limit=1..4 --out " +
                      scratch("workers-cli").string();
  auto jobs = run_usher(sweep + " --workers 127.0.0.1:7600 --jobs 2");
  CHECK(jobs.code == 2);
  CHECK(jobs.err.find("--jobs is for variants run here") != std::string::npos);
  auto bad = run_usher(sweep + " --workers 127.0.0.1:7600,nowhere");
  CHECK(bad.code == 2);
  CHECK(bad.err.find("--workers") != std::string::npos);
  CHECK(bad.err.find("nowhere") != std::string::npos);
  auto stdin_trace = run_usher("sweep --trace - --plan streams:team --vary limit=1..4 --workers 127.0.0.1:7600 --out " +
                               scratch("workers-cli").string() + " < " + trace);
  CHECK(stdin_trace.code == 2);
  CHECK(stdin_trace.err.find("not standard input") != std::string::npos);
  auto listen = run_usher("worker --listen nowhere");
  CHECK(listen.code == 2);
  CHECK(listen.err.find("--listen expects HOST:PORT") != std::string::npos);
}

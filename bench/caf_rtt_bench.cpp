// usher_caf_rtt_bench (issue #10): the floor under a forwarded admission.
// One request and its answer between two processes over CAF 0.17's
// middleman (BASP over TCP on loopback), with nothing of usher's around it:
// the echo side answers at once, the asking side sends the next request when
// the answer comes. Both processes run the scheduler as `usher serve` does
// (work sharing, two threads). A forward of `usher serve` makes exactly one
// such round trip, plus the edge and the two cluster actors' turns
// (docs/PERFORMANCE.md, "Cluster").
//
//   usher_caf_rtt_bench echo PORT          publishes the echo actor on PORT
//   usher_caf_rtt_bench ask PORT [N=20000] N round trips, then p50/p90/p99
//
// Run bench/caf_rtt_bench.sh, which starts both.

#include <algorithm>
#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

using steady = std::chrono::steady_clock;

// CAF_RTT_POLICY=stealing: CAF's default scheduler instead (workers that
// poll, then sleep), to compare.
void configure(caf::actor_system_config& cfg) {
  cfg.load<caf::io::middleman>();
  cfg.set("scheduler.max-threads", std::size_t{2});
  auto policy = std::getenv("CAF_RTT_POLICY");
  bool stealing = policy && std::string(policy) == "stealing";
  if (stealing)
    cfg.set("scheduler.policy", caf::atom("stealing"));
  else
    cfg.set("scheduler.policy", caf::atom("sharing"));  // as usher serve
  cfg.set("logger.verbosity", caf::atom("quiet"));
}

int echo(std::uint16_t port) {
  caf::actor_system_config cfg;
  configure(cfg);
  caf::actor_system sys{cfg};
  auto echo = sys.spawn([](caf::event_based_actor*, int) -> caf::behavior {
    return {[](std::uint64_t x) { return x; }};
  }, 0);  // an argument: CAF 0.17 binds a null tuple for a function actor without one
  auto published = sys.middleman().publish(echo, port, "127.0.0.1");
  if (!published) {
    std::fprintf(stderr, "cannot publish on %u: %s\n", port, sys.render(published.error()).c_str());
    return 1;
  }
  std::printf("listening on 127.0.0.1:%u\n", *published);
  std::fflush(stdout);
  std::getchar();  // until stdin closes
  caf::anon_send_exit(echo, caf::exit_reason::user_shutdown);
  return 0;
}

int ask(std::uint16_t port, std::size_t n) {
  caf::actor_system_config cfg;
  configure(cfg);
  caf::actor_system sys{cfg};
  auto peer = sys.middleman().remote_actor("127.0.0.1", port);
  if (!peer) {
    std::fprintf(stderr, "cannot reach 127.0.0.1:%u: %s\n", port, sys.render(peer.error()).c_str());
    return 1;
  }
  std::vector<double> us;
  us.reserve(n);
  // An event-based asker, as the cluster actor is: the next request goes
  // from the answer's handler. 1,000 round trips of warm-up first.
  const std::size_t warmup = 1000;
  sys.spawn([&](caf::event_based_actor* self, caf::actor to) {
    auto next = std::make_shared<std::function<void(std::uint64_t)>>();
    *next = [=, &us](std::uint64_t i) {
      if (i == warmup + n) return self->quit();
      auto sent = steady::now();
      self->request(to, caf::infinite, i).then([=, &us](std::uint64_t) {
        if (i >= warmup)
          us.push_back(std::chrono::duration<double, std::micro>(steady::now() - sent).count());
        (*next)(i + 1);
      });
    };
    (*next)(0);
  }, *peer);
  sys.await_all_actors_done();
  std::sort(us.begin(), us.end());
  auto at = [&](double q) { return us[std::min(us.size() - 1, static_cast<std::size_t>(q * us.size()))]; };
  std::printf("round trips %zu  p50 %.0f us  p90 %.0f us  p99 %.0f us\n", us.size(), at(0.5), at(0.9),
              at(0.99));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s echo PORT | ask PORT [N]\n", argv[0]);
    return 2;
  }
  std::string mode = argv[1];
  auto port = static_cast<std::uint16_t>(std::atoi(argv[2]));
  if (mode == "echo") return echo(port);
  if (mode == "ask") return ask(port, argc > 3 ? std::strtoul(argv[3], nullptr, 10) : 20000);
  std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
  return 2;
}

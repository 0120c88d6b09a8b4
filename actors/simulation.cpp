#include "actors/simulation.hpp"

#include <caf/detail/test_actor_clock.hpp>
#include <caf/scheduler/test_coordinator.hpp>

namespace usher::actors {

namespace {

// Wraps cfg.io.done so the driver gets the result too.
void capture_result(client_actor_config& cfg, replay_result& out) {
  auto user_done = cfg.io.done;
  cfg.io.done = [user_done, &out](replay_result r) {
    out = r;
    if (user_done) user_done(std::move(r));
  };
}

}  // namespace

replay_result run_replay(client_actor_config cfg, clock_kind clock, std::size_t threads) {
  replay_result result;
  result.ok = false;
  result.error = "replay ended without a result";
  capture_result(cfg, result);
  caf::actor_system_config sys_cfg;
  add_message_types(sys_cfg);
  if (clock == clock_kind::virtual_clock) {
    sys_cfg.set("scheduler.policy", caf::atom("testing"));
    caf::actor_system sys{sys_cfg};
    auto& sched = dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
    cfg.pace.epoch = sched.clock().now();
    auto client = spawn_client_actor(sys, std::move(cfg));
    caf::anon_send(client, start_atom::value);
    // The driver loop: run every job; when idle, jump to the next timer.
    auto& clk = sched.clock();
    for (;;) {
      sched.run();
      if (!clk.has_pending_timeout()) break;
      auto next = clk.schedule().begin()->first;
      clk.advance_time(next - clk.now());
    }
  } else {
    sys_cfg.set("scheduler.max-threads", threads == 0 ? std::size_t{1} : threads);
    sys_cfg.set("work-stealing.moderate-poll-attempts", 0);
    caf::actor_system sys{sys_cfg};
    cfg.pace.epoch = sys.clock().now();
    auto client = spawn_client_actor(sys, std::move(cfg));
    caf::anon_send(client, start_atom::value);
    sys.await_all_actors_done();
  }
  return result;
}

}  // namespace usher::actors

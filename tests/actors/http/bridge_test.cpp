// The edge's bridge to the actors, on an io_context that several I/O threads
// run, as `[node] io_threads = 2` does. Each thread may run a batch of actor
// turns at the same time as another; the answers a batch's actors give to
// handlers on the io_context's own executor (a drain's round, for one) run
// right after that batch, on its thread. The TSan build (scripts/test) runs
// this too: it caught two threads sharing one list of such answers.
#include "actors/http/bridge.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <condition_variable>
#include <mutex>
#include <thread>

using namespace usher::actors::http;

TEST_CASE("bridge: every answer runs once when two I/O threads run batches at once") {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  io_unit unit(sys, io);
  std::atomic<std::int64_t> answered{0};
  std::atomic<std::int64_t> wrong{0};
  constexpr std::int64_t asks = 20'000;
  std::mutex m;
  std::condition_variable all_in;
  {
    bridge to_actors(sys, unit);
    // Many actors, so that one thread's batch runs some while another
    // thread's ask wakes others and starts a batch of its own.
    // (With an argument: CAF 0.17 binds a null tuple for a function actor
    // spawned with none, which UBSan reports.)
    std::vector<caf::actor> echoes;
    for (int i = 0; i < 16; ++i)
      echoes.push_back(sys.spawn(
          [](std::int64_t factor) -> caf::behavior {
            return {[factor](std::int64_t x) { return x * factor; }};
          },
          std::int64_t{2}));
    std::thread second([&] { io.run(); });
    std::thread first([&] { io.run(); });
    for (std::int64_t i = 0; i < asks; ++i)
      boost::asio::post(io, [&, i] {
        to_actors.ask<std::int64_t>(echoes[static_cast<std::size_t>(i) % echoes.size()], i,
                                    io.get_executor(), [&, i](std::optional<std::int64_t> r) {
                                      if (!r || *r != 2 * i) ++wrong;
                                      if (++answered == asks) {
                                        std::lock_guard<std::mutex> g(m);
                                        all_in.notify_all();
                                      }
                                    });
      });
    {
      std::unique_lock<std::mutex> g(m);
      all_in.wait(g, [&] { return answered.load() == asks; });
    }
    work.reset();
    io.stop();
    first.join();
    second.join();
    unit.stop();
    for (auto& e : echoes) caf::anon_send_exit(e, caf::exit_reason::user_shutdown);
  }
  CHECK(answered.load() == asks);
  CHECK(wrong.load() == 0);
}

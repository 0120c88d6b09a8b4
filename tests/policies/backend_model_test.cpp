// Model servers that slow down under load (issue #13, part 3): the backend
// model alone, on cases small enough to work out by hand, and its plan keys.
// The statistical check against processor-sharing theory runs the whole
// simulator: tests/actors/queueing_theory_test.cpp.
#include <catch2/catch.hpp>

#include <map>

#include "policies/backend_model.hpp"
#include "policies/input_error.hpp"

using namespace usher::policies;

namespace {

std::shared_ptr<const plan> servers(std::vector<plan::setting> extra) {
  std::vector<plan::setting> s = {{"backend.replicas", "1", "test"},
                                  {"backend.throughput", "1:100", "test"},
                                  {"backend.prefill", "1000", "test"}};
  s.insert(s.end(), extra.begin(), extra.end());
  return plan::build("streams", s);
}

// Runs the model until nothing is left: tag -> when it was done.
std::map<std::uint64_t, usec> run_out(backend_model& b) {
  std::map<std::uint64_t, usec> done;
  std::vector<std::uint64_t> now;
  for (usec t = b.next_completion(); t != never; t = b.next_completion()) {
    now.clear();
    b.complete(t, now);
    for (auto tag : now) done[tag] = t;
  }
  return done;
}

}  // namespace

TEST_CASE("backend model: a request alone takes its tokens at the one-stream speed") {
  backend_model b(servers({}));
  b.start(7, no_id, 0, 250, seconds(3));
  CHECK(b.next_completion() == seconds(3) + 2'500'000);
  auto done = run_out(b);
  CHECK(done == std::map<std::uint64_t, usec>{{7, seconds(3) + 2'500'000}});
  CHECK(b.active() == 0);
}

TEST_CASE("backend model: requests running together share the replica's throughput") {
  // Flat at 100 tokens/s: two streams decode at 50 each.
  backend_model b(servers({}));
  b.start(1, no_id, 0, 100, 0);
  b.start(2, no_id, 0, 100, 0);
  CHECK(run_out(b) == std::map<std::uint64_t, usec>{{1, seconds(2)}, {2, seconds(2)}});

  // Staggered: 1 alone for 0.5 s (50 tokens), then both at 50/s: 1 needs
  // 1 s more (done at 1.5 s), 2 has 50 by then and runs alone for 0.5 s.
  b.start(1, no_id, 0, 100, seconds(10));
  b.start(2, no_id, 0, 100, seconds(10) + 500'000);
  CHECK(run_out(b) ==
        std::map<std::uint64_t, usec>{{1, seconds(10) + 1'500'000}, {2, seconds(12)}});
}

TEST_CASE("backend model: the throughput curve sets each stream's speed by the load") {
  // 1 stream: 100/s; 2 streams: 150/s in all (75 each); 4 and more: 200 (flat).
  auto p = servers({{"backend.throughput", "1:100, 2:150, 4:200", "test"}});
  const auto& params = *p->backend(no_id);
  CHECK(params.throughput_at(1) == 100);
  CHECK(params.throughput_at(2) == 150);
  CHECK(params.throughput_at(3) == 175);
  CHECK(params.throughput_at(4) == 200);
  CHECK(params.throughput_at(1000) == 200);
  backend_model b(p);
  b.start(1, no_id, 0, 150, 0);
  b.start(2, no_id, 0, 150, 0);
  CHECK(run_out(b) == std::map<std::uint64_t, usec>{{1, seconds(2)}, {2, seconds(2)}});
}

TEST_CASE("backend model: a prompt is read first, and holds its place on the replica") {
  // 500 prompt tokens at 1000/s: 0.5 s, then 100 tokens. Meanwhile the other
  // stream decodes at half speed, the prompt counting as a running request.
  backend_model b(servers({}));
  b.start(1, no_id, 500, 100, 0);
  b.start(2, no_id, 0, 100, 0);
  // 2: 0.5 s at 50/s (25 tokens), then 75 at 50/s with 1 decoding (1.5 s):
  // done at 2 s; 1 decoded 75 by then, 25 more alone: 2.25 s.
  CHECK(run_out(b) == std::map<std::uint64_t, usec>{{1, 2'250'000}, {2, seconds(2)}});
}

TEST_CASE("backend model: over max_streams a request waits inside its replica, first come first served") {
  backend_model b(servers({{"backend.max_streams", "1", "test"}}));
  b.start(1, no_id, 0, 100, 0);
  b.start(2, no_id, 0, 100, 0);
  b.start(3, no_id, 0, 100, 0);
  CHECK(b.active() == 3);
  CHECK(run_out(b) ==
        std::map<std::uint64_t, usec>{{1, seconds(1)}, {2, seconds(2)}, {3, seconds(3)}});
}

TEST_CASE("backend model: replicas balance by load, and a model may have servers of its own") {
  auto p = servers({{"backend.replicas", "2", "test"},
                    {"backend.big.replicas", "1", "test"},
                    {"backend.big.throughput", "1:10", "test"},
                    {"backend.small.replicas", "none", "test"}});
  backend_model b(p);
  id big = 0, small = 1;
  REQUIRE(p->named_models() == std::vector<std::string>{"big", "small"});
  CHECK(b.runs(no_id));
  CHECK(b.runs(big));
  CHECK_FALSE(b.runs(small));
  CHECK(b.runs(7));  // a model the plan does not name: the plan-wide servers
  // Two requests: one on each replica, both at full speed; a third shares.
  b.start(1, no_id, 0, 100, 0);
  b.start(2, no_id, 0, 100, 0);
  b.start(3, no_id, 0, 200, 0);
  // Each model runs on servers of its own, with the plan-wide settings
  // unless it has its own.
  b.start(4, 7, 0, 100, 0);
  b.start(5, big, 0, 10, 0);
  auto done = run_out(b);
  CHECK(done.at(1) == seconds(2));  // shared its replica with 3 from the start
  CHECK(done.at(2) == seconds(1));
  CHECK(done.at(3) == seconds(3));  // 100 tokens by 2 s at half speed, then 100 alone
  CHECK(done.at(4) == seconds(1));
  CHECK(done.at(5) == seconds(1));
}

TEST_CASE("backend model: a stopped request frees its share at once") {
  backend_model b(servers({}));
  b.start(1, no_id, 0, 100, 0);
  b.start(2, no_id, 0, 100, 0);
  // At 0.5 s each has 25 tokens; 2 leaves, 1 decodes its 75 alone: 1.25 s.
  CHECK(b.stop(2, 500'000));
  CHECK_FALSE(b.stop(2, 500'000));
  CHECK(run_out(b) == std::map<std::uint64_t, usec>{{1, 1'250'000}});

  // A waiting request that leaves never runs; the one behind it moves up.
  backend_model w(servers({{"backend.max_streams", "1", "test"}}));
  w.start(1, no_id, 0, 100, 0);
  w.start(2, no_id, 0, 100, 0);
  w.start(3, no_id, 0, 100, 0);
  CHECK(w.stop(2, 100'000));
  CHECK(run_out(w) == std::map<std::uint64_t, usec>{{1, seconds(1)}, {3, seconds(2)}});
}

TEST_CASE("backend model: a request with nothing to do is done at its start") {
  backend_model b(servers({}));
  b.start(4, no_id, 0, 0, seconds(5));
  CHECK(b.next_completion() == seconds(5));
  CHECK(run_out(b) == std::map<std::uint64_t, usec>{{4, seconds(5)}});
  CHECK(b.solo_tokens(no_id, seconds(3)) == 300);
}

TEST_CASE("backend model: a request that would take forever still ends, at the longest time a replay has") {
  backend_model b(servers({{"backend.throughput", "1:0.000001", "test"},
                           {"backend.prefill", "0.000001", "test"}}));
  b.start(1, no_id, 0, 1e9, 0);
  CHECK(b.next_completion() == longest_time);
  // A wait is cut at longest_time from the replica's last change: both end then.
  b.start(2, no_id, 1'000'000'000, 0, 0);  // its prompt alone
  CHECK(run_out(b) == std::map<std::uint64_t, usec>{{1, longest_time}, {2, longest_time}});
}

TEST_CASE("backend keys: off by default, documented defaults once on, errors name the key") {
  auto none = plan::build("streams", {});
  CHECK_FALSE(none->has_backend());
  CHECK(none->backend(no_id) == nullptr);
  CHECK(none->effective().count("backend.replicas") == 0);

  auto on = plan::build("streams", {{"backend.replicas", "3", "plan.ini:4"}});
  REQUIRE(on->has_backend());
  const auto& b = *on->backend(no_id);
  CHECK(b.replicas == 3);
  CHECK(b.max_streams == 100);
  CHECK(b.throughput.front() == std::pair<std::int64_t, double>{1, 51.67});
  CHECK(b.throughput.back() == std::pair<std::int64_t, double>{100, 917.26});
  CHECK(b.prefill_tokens_per_s == 12300);
  CHECK(on->effective().at("backend.replicas") == "3");

  // A model name with dots: the key is matched from the end.
  auto dotted = plan::build("streams", {{"backend.llama-3.1-70b.replicas", "2", "--set"}});
  CHECK(dotted->named_models() == std::vector<std::string>{"llama-3.1-70b"});
  CHECK(dotted->backend(0)->replicas == 2);
  CHECK(dotted->backend(no_id) == nullptr);

  // Points by commas or spaces (PLAN@KEY=VALUE,... values have no commas).
  auto spaced = plan::build("streams", {{"backend.replicas", "1", "--set"},
                                        {"backend.throughput", "1:10 4:40\t8:50", "--set"}});
  CHECK(spaced->backend(no_id)->throughput.size() == 3);
  CHECK(spaced->backend(no_id)->throughput_at(6) == 45);

  auto message = [](std::vector<plan::setting> s) -> std::string {
    try {
      plan::build("streams", s);
    } catch (const input_error& e) {
      return e.what();
    }
    return "no error";
  };
  CHECK(message({{"backend.replica", "2", "--set"}}) ==
        "--set: backend.replica: unknown key (backend.KEY and backend.MODEL.KEY take one of "
        "replicas, max_streams, throughput, prefill); did you mean \"backend.replicas\"?");
  CHECK(message({{"backend.m.throughput", "2:100", "plan.ini:9"}}).rfind(
            "plan.ini:9: backend.m.throughput: expected points STREAMS:TOKENS_PER_S", 0) == 0);
  CHECK(message({{"backend.throughput", "1:100, 1:200", "--set"}}).find("rising from 1") !=
        std::string::npos);
  CHECK(message({{"backend.throughput", "1:0", "--set"}}).find("above 0") != std::string::npos);
  CHECK(message({{"backend.throughput", " ", "--set"}}).find("expected points") != std::string::npos);
  CHECK(message({{"backend.throughput", "1:5 x", "--set"}}).find("expected points") != std::string::npos);
  CHECK(message({{"backend.prefill", "fast", "--set"}}) ==
        "--set: backend.prefill: expected a number above 0 and at most 1000000000, got \"fast\"");
  CHECK(message({{"backend.replicas", "0", "--set"}}).find("backend.replicas: expected an integer from 1") !=
        std::string::npos);
}

#pragma once
/// Test support: runs in-memory arrivals through the real actors (any clock,
/// any pacing) and collects every outcome, series row and the result; and a
/// tiny builder for arrivals, so a test reads like the trace it replays.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "actors/simulation.hpp"
#include "policies/plan.hpp"
#include "policies/records.hpp"

namespace usher::testing {

struct replay_run {
  std::vector<policies::outcome> outcomes;  ///< in trace order
  std::vector<policies::interval_row> series;
  actors::replay_result result;
};

struct replay_options {
  actors::clock_kind clock = actors::clock_kind::virtual_clock;
  bool clocked = false;          ///< clocked pacing (one timer per event)
  double time_scale = 1.0;       ///< trace seconds per clock second (real clock)
  std::uint32_t shards = 1;
  std::size_t threads = 1;
  std::size_t chunk_rows = 4096;
  policies::usec interval = policies::seconds(60);
  std::vector<actors::generated_account> generated;  ///< client models
  policies::usec generate_until = policies::seconds(3600);
  policies::usec slice = policies::seconds(60);
};

/// Replays `rows` (sorted by at; seq 0..n-1 in order) under `p`.
replay_run replay(std::shared_ptr<const policies::plan> p, const std::vector<policies::arrival>& rows,
                  const replay_options& opt = {});

/// Builds arrivals: names become ids in order of first use; profile and cost
/// are resolved through the plan, as the trace reader does.
class trace_builder {
 public:
  explicit trace_builder(std::shared_ptr<const policies::plan> p) : plan_(std::move(p)) {
    for (auto& m : plan_->named_models()) model_id(m);
  }

  /// Adds a row arriving at `at_s` seconds holding its slot `duration_s`.
  trace_builder& add(double at_s, const std::string& account, double duration_s,
                     policies::kind what = policies::kind::request, const std::string& model = "",
                     std::int64_t cost = -1, const std::string& conn = "", bool fail = false,
                     const std::string& product = "");

  const std::vector<policies::arrival>& rows() const { return rows_; }
  policies::id account_id(const std::string& name);
  policies::id model_id(const std::string& name);

 private:
  std::shared_ptr<const policies::plan> plan_;
  std::vector<policies::arrival> rows_;
  std::map<std::string, policies::id> accounts_, models_, products_, conns_;
};

/// Seconds as microseconds, for expectations: us(1.5) == 1'500'000.
inline policies::usec us(double seconds) {
  return static_cast<policies::usec>(seconds * 1e6 + (seconds >= 0 ? 0.5 : -0.5));
}

}  // namespace usher::testing

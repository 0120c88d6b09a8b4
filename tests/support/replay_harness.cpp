#include "support/replay_harness.hpp"

namespace usher::testing {

using namespace policies;

replay_run replay(std::shared_ptr<const plan> p, const std::vector<arrival>& rows,
                  const replay_options& opt) {
  replay_run run;
  std::size_t next = 0;
  actors::client_actor_config cfg;
  cfg.plan = p;
  cfg.interval = opt.interval;
  cfg.shards = opt.shards;
  cfg.chunk_rows = opt.chunk_rows;
  cfg.pace.clocked = opt.clocked;
  cfg.pace.time_scale = opt.time_scale;
  cfg.generated = opt.generated;
  cfg.generate_until = opt.generate_until;
  cfg.slice = opt.slice;
  cfg.io.read = [&](std::vector<arrival>& out, std::size_t max, std::string&) {
    for (std::size_t n = 0; n < max && next < rows.size(); ++n) out.push_back(rows[next++]);
    return true;
  };
  cfg.io.write_outcome = [&](const outcome& o) { run.outcomes.push_back(o); };
  cfg.io.write_series = [&](const interval_row& r) { run.series.push_back(r); };
  run.result = actors::run_replay(std::move(cfg), opt.clock, opt.threads);
  return run;
}

trace_builder& trace_builder::add(double at_s, const std::string& account, double duration_s,
                                  kind what, const std::string& model, std::int64_t cost,
                                  const std::string& conn, bool fail, const std::string& product) {
  arrival a;
  a.req.seq = rows_.size();
  a.req.account = account_id(account);
  a.req.what = what;
  a.req.model = model.empty() ? no_id : model_id(model);
  if (!product.empty()) {
    auto i = products_.emplace(product, static_cast<id>(products_.size())).first;
    a.req.product = i->second;
  }
  if (!conn.empty()) {
    auto i = conns_.emplace(conn, static_cast<id>(conns_.size())).first;
    a.req.conn = i->second;
  }
  a.profile = plan_->profile_of(account);
  a.req.cost = plan_->cost_of(a.profile, a.req.model, cost);
  a.at = us(at_s);
  a.duration = us(duration_s);
  a.fail = fail;
  rows_.push_back(a);
  return *this;
}

id trace_builder::account_id(const std::string& name) {
  return accounts_.emplace(name, static_cast<id>(accounts_.size())).first->second;
}

id trace_builder::model_id(const std::string& name) {
  return models_.emplace(name, static_cast<id>(models_.size())).first->second;
}

}  // namespace usher::testing

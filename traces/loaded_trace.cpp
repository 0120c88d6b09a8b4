#include "traces/loaded_trace.hpp"

#include "policies/input_error.hpp"
#include "traces/trace_reader.hpp"

namespace usher::traces {

using namespace policies;

loaded_trace::loaded_trace(const std::string& path) : path_(path) {
  // A plan that names no model: the reader then interns models in order of
  // first appearance, and each plan_view maps them to its plan's ids.
  auto neutral = plan::build("streams", {});
  trace_reader reader(path, neutral);
  std::vector<arrival> chunk;
  std::vector<std::int64_t> costs;
  std::string error;
  for (;;) {
    chunk.clear();
    costs.clear();
    if (!reader.read(chunk, 65536, error, &costs)) throw input_error::in("", error);
    if (chunk.empty()) break;
    for (std::size_t i = 0; i < chunk.size(); ++i) {
      const arrival& a = chunk[i];
      reader.take_label();  // labels are not kept; memory stays at the rows
      row r;
      r.at = a.at;
      r.duration = a.duration;
      r.own_cost = costs[i];
      r.account = a.req.account;
      r.model = a.req.model;
      r.product = a.req.product;
      r.conn = static_cast<std::uint32_t>(a.req.conn);
      r.what = a.req.what;
      r.fail = a.fail;
      rows_.push_back(r);
    }
  }
  for (std::uint32_t i = 0; i < reader.accounts().size(); ++i) accounts_.intern(reader.accounts().name(i));
  for (std::uint32_t i = 0; i < reader.models().size(); ++i) models_.intern(reader.models().name(i));
}

loaded_trace::plan_view::plan_view(const loaded_trace& trace, std::shared_ptr<const plan> p)
    : trace_(trace), plan_(std::move(p)) {
  profile_by_account_.reserve(trace.accounts_.size());
  for (std::uint32_t i = 0; i < trace.accounts_.size(); ++i)
    profile_by_account_.push_back(plan_->profile_of(trace.accounts_.name(i)));
  // The ids trace_reader would give under this plan: the plan's models
  // first, then the trace's in order of first appearance.
  interner ids;
  for (auto& m : plan_->named_models()) ids.intern(m);
  model_id_.reserve(trace.models_.size());
  for (std::uint32_t i = 0; i < trace.models_.size(); ++i)
    model_id_.push_back(ids.intern(trace.models_.name(i)));
}

void loaded_trace::plan_view::read(std::vector<arrival>& out, std::size_t max) {
  const auto& rows = trace_.rows_;
  std::size_t end = std::min(rows.size(), next_ + max);
  for (; next_ < end; ++next_) {
    const row& r = rows[next_];
    arrival a;
    a.req.seq = next_;
    a.req.account = r.account;
    a.req.model = r.model == no_id ? no_id : model_id_[r.model];
    a.req.product = r.product;
    a.req.conn = r.conn;
    a.req.what = r.what;
    a.at = r.at;
    a.duration = r.duration;
    a.fail = r.fail;
    a.profile = profile_by_account_[r.account];
    a.req.cost = plan_->cost_of(a.profile, a.req.model, r.own_cost);
    reached_ = r.at;
    out.push_back(a);
  }
}

}  // namespace usher::traces

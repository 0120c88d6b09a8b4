/// Gate type `key_cap`: each API key of an account may hold at most `limit`
/// units (the pool's units: streams, slots or cost) of its account's pool at
/// once. It answers "what if each key of an account had its own cap inside
/// the account's pool?": one runaway script (one key) can then no longer
/// take every stream its team pays for. The key is the trace's `key`
/// column, or live the API key the request came with (its place among its
/// account's `key` lines). A request without a key is not capped by key.
///
/// `limit` may differ per account (`account.NAME.gate.G.limit`).
/// `on_full = refuse` (the default) answers a key at its cap 429 at once, as
/// providers' per-key concurrency limits do; `wait` lets it wait in the
/// account's queue, where (FIFO) it holds back the account's other keys.

#include <unordered_map>
#include <utility>
#include <vector>

#include "policies/gate.hpp"
#include "policies/plan.hpp"

namespace usher::policies {

namespace {

class key_cap final : public gate {
 public:
  key_cap(std::vector<std::int64_t> limits, bool waits) : limits_(std::move(limits)), waits_(waits) {}

  phase when() const override { return phase::while_running; }
  bool refusal_waits() const override { return waits_; }

  bool fits(const request& r, std::uint16_t profile, usec) override {
    if (r.key == no_id) return true;
    auto i = held_.find(slot(r));
    return (i == held_.end() ? 0 : i->second) + r.cost <= limits_[profile];
  }
  bool could_ever_fit(const request& r, std::uint16_t profile) const override {
    return r.key == no_id || r.cost <= limits_[profile];
  }
  void charge(const request& r, std::uint16_t, usec) override {
    if (r.key != no_id) held_[slot(r)] += r.cost;
  }
  void release(const request& r, std::uint16_t, usec, usec) override {
    if (r.key == no_id) return;
    auto i = held_.find(slot(r));
    if ((i->second -= r.cost) == 0) held_.erase(i);
  }
  void report(id account, std::uint16_t profile,
              std::vector<std::pair<std::string, double>>& out) const override {
    const auto limit = limits_[profile];
    // How many of the account's keys hold units now, and how many are at their cap.
    double holding = 0, at_cap = 0;
    for (const auto& [k, units] : held_)
      if (static_cast<id>(k >> 32) == account) {
        ++holding;
        at_cap += units >= limit;
      }
    out.emplace_back("keys_holding", holding);
    out.emplace_back("keys_at_cap", at_cap);
    out.emplace_back("limit", static_cast<double>(limit));
  }

 private:
  static std::uint64_t slot(const request& r) { return (std::uint64_t{r.account} << 32) | r.key; }

  std::vector<std::int64_t> limits_;  ///< by profile
  bool waits_;
  std::unordered_map<std::uint64_t, std::int64_t> held_;  ///< units by (account, key)
};

}  // namespace

std::unique_ptr<gate> make_key_cap(gate_params& p, const plan&) {
  if (!p.has("limit")) p.reject("limit", "missing: a key_cap gate needs its limit (units per key)");
  auto limits = p.count_by_profile("limit", 0, 1, max_cost);
  return std::make_unique<key_cap>(std::move(limits), p.choice("on_full", "refuse", {"refuse", "wait"}) == "wait");
}

}  // namespace usher::policies

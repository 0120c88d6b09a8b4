/// Gate type `tokens_in_flight`: an account may have at most `limit` tokens
/// (input plus output, the trace's columns or the admit's `tokens`) in its
/// running requests. It answers "what if we sold tokens in flight instead of
/// streams?": a long-context request takes more of the account's room than a
/// short one, as it takes more of the servers' memory (its KV cache).
/// A request of 0 tokens (a trace without token columns) always fits.
/// `limit` may differ per account (`account.NAME.gate.G.limit`).

#include <utility>
#include <vector>

#include "policies/gate.hpp"
#include "policies/plan.hpp"

namespace usher::policies {

namespace {

class tokens_in_flight final : public gate {
 public:
  explicit tokens_in_flight(std::vector<std::int64_t> limits) : limits_(std::move(limits)) {}

  phase when() const override { return phase::while_running; }

  bool fits(const request& r, std::uint16_t profile, usec) override {
    return held(r.account) + r.tokens <= limits_[profile];
  }
  bool could_ever_fit(const request& r, std::uint16_t profile) const override {
    return r.tokens <= limits_[profile];
  }
  void charge(const request& r, std::uint16_t, usec) override {
    if (r.account >= in_flight_.size()) in_flight_.resize(static_cast<std::size_t>(r.account) + 1, 0);
    in_flight_[r.account] += r.tokens;
  }
  void release(const request& r, std::uint16_t, usec, usec) override { in_flight_[r.account] -= r.tokens; }
  void report(id account, std::uint16_t profile,
              std::vector<std::pair<std::string, double>>& out) const override {
    out.emplace_back("tokens_in_flight", static_cast<double>(held(account)));
    out.emplace_back("tokens_in_flight_limit", static_cast<double>(limits_[profile]));
  }

 private:
  std::int64_t held(id account) const { return account < in_flight_.size() ? in_flight_[account] : 0; }

  std::vector<std::int64_t> limits_;     ///< by profile
  std::vector<std::int64_t> in_flight_;  ///< by account id
};

}  // namespace

std::unique_ptr<gate> make_tokens_in_flight(gate_params& p, const plan&) {
  if (!p.has("limit")) p.reject("limit", "missing: a tokens_in_flight gate needs its limit (tokens)");
  return std::make_unique<tokens_in_flight>(p.count_by_profile("limit", 0, 1, max_request_tokens));
}

}  // namespace usher::policies

/// An out-of-tree gate type, `peak_hours`: during the peak hours of each day
/// an account may run at most `peak_limit` requests at once (its plan's own
/// limit still applies); off-peak only the plan's limit does. It answers a
/// pricing team's "what if we sold more concurrency off-peak?" and shows
/// every part of a gate (policies/gate.hpp, docs/GATES.md): a while_running
/// gate, a window that turns by time alone (next_change), the time of day
/// from set_time_origin, a report, and a state of its own that save/restore
/// carries (how many requests each account had refused, for the report),
/// and a key an account may set apart (`account.NAME.gate.peak.peak_limit`).
///
/// Built as its own shared library against usher's headers; a plan names it:
///   [gate.peak]
///   type = peak_hours
///   library = libpeak_hours_gate.so   # beside the plan file, or absolute
///   peak_limit = 2
///   hours = 9-17                       # UTC; in a simulation trace time 0 is 00:00

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "policies/gate.hpp"

namespace {

using namespace usher::policies;

constexpr usec hour = seconds(3600);
constexpr usec day = 24 * hour;

class peak_hours final : public gate {
 public:
  peak_hours(std::vector<std::int64_t> peak_limits, int start_hour, int end_hour)
      : peak_limits_(std::move(peak_limits)), start_(start_hour * hour), end_(end_hour * hour) {}

  phase when() const override { return phase::while_running; }

  void set_time_origin(std::int64_t unix_us) override { origin_ = unix_us; }

  bool fits(const request& r, std::uint16_t profile, usec now) override {
    if (!in_peak(now) || running(r.account) < peak_limits_[profile]) return true;
    ++grow(refused_, r.account);  // counted when asked: a waiting head asks again (see report)
    return false;
  }

  void charge(const request& r, std::uint16_t, usec) override { ++grow(running_, r.account); }
  void release(const request& r, std::uint16_t, usec, usec) override { --running_[r.account]; }

  usec next_change(usec now) const override {
    usec t = time_of_day(now);
    usec base = now - t;
    if (t < start_) return base + start_;
    if (t < end_) return base + end_;
    return base + day + start_;
  }

  void report(id account, std::uint16_t profile,
              std::vector<std::pair<std::string, double>>& out) const override {
    out.emplace_back("running", static_cast<double>(running(account)));
    out.emplace_back("peak_limit", static_cast<double>(peak_limits_[profile]));
    out.emplace_back("refusals", static_cast<double>(at(refused_, account)));
  }

  // The running count comes back from the account's leases; the refusals
  // counter is this gate's own state.
  std::string save(id account) const override {
    auto n = at(refused_, account);
    return n ? std::to_string(n) : std::string();
  }
  void restore(id account, std::uint16_t, const std::string& bytes) override {
    long long n = 0;
    if (std::sscanf(bytes.c_str(), "%lld", &n) == 1 && n >= 0) grow(refused_, account) = n;
  }

 private:
  usec time_of_day(usec now) const {
    usec t = (origin_ + now) % day;
    return t < 0 ? t + day : t;
  }
  bool in_peak(usec now) const {
    usec t = time_of_day(now);
    return t >= start_ && t < end_;
  }
  static std::int64_t& grow(std::vector<std::int64_t>& v, id account) {
    if (account >= v.size()) v.resize(static_cast<std::size_t>(account) + 1, 0);
    return v[account];
  }
  static std::int64_t at(const std::vector<std::int64_t>& v, id account) {
    return account < v.size() ? v[account] : 0;
  }
  std::int64_t running(id account) const { return at(running_, account); }

  std::vector<std::int64_t> peak_limits_;  ///< by profile (plan::profile)
  usec start_, end_;
  std::int64_t origin_ = 0;
  std::vector<std::int64_t> running_, refused_;  ///< by account id
};

std::unique_ptr<gate> make_peak_hours(gate_params& p, const plan&) {
  // Per account too: the value of each profile (gate_params::count_by_profile).
  auto limits = p.count_by_profile("peak_limit", 1, 0, 1'000'000);
  // hours = START-END, whole hours of the day (UTC), START < END.
  auto hours = p.text("hours", "9-17");
  int start = -1, end = -1, used = 0;
  if (std::sscanf(hours.c_str(), "%d-%d%n", &start, &end, &used) != 2 ||
      used != static_cast<int>(hours.size()) || start < 0 || end > 24 || start >= end)
    p.reject("hours", "expected whole hours START-END within 0-24, such as 9-17, got \"" + hours + "\"");
  return std::make_unique<peak_hours>(std::move(limits), start, end);
}

}  // namespace

USHER_GATE_LIBRARY(registry) {
  registry.add("peak_hours", make_peak_hours, "a lower concurrency cap in the peak hours of each day");
}

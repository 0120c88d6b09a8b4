#include "traces/trace_generator.hpp"

#include <cmath>
#include <cstdlib>
#include <memory>

#include "policies/input_error.hpp"
#include "traces/csv_out.hpp"
#include "traces/random.hpp"

namespace usher::traces {

using policies::input_error;
using policies::usec;

namespace {

constexpr double day_s = 86400;

// The piecewise-constant rate: the rate at `t` and when it next may change.
class rate_schedule {
 public:
  explicit rate_schedule(const generator_options& o)
      : o_(o), periods_(substream_seed(o.seed, stable_hash("on-off"))) {}

  void at(double t, double& rate, double& until) {
    if (o_.pattern == "diurnal") {
      double day = std::floor(t / day_s) * day_s, h = t - day;
      double open = o_.business_start_hour * 3600.0, close = o_.business_end_hour * 3600.0;
      if (h >= open && h < close) {
        rate = o_.rate;
        until = day + close;
      } else {
        rate = o_.rate * o_.off_hours_factor;
        until = h < open ? day + open : day + day_s + open;
      }
    } else if (o_.pattern == "onoff") {
      while (t >= switch_at_) {
        on_ = !on_;
        switch_at_ +=
            exponential(periods_, static_cast<double>(on_ ? o_.on_mean : o_.off_mean) / 1e6);
      }
      rate = on_ ? o_.rate : 0.0;
      until = switch_at_;
    } else {
      rate = o_.rate;
      until = 1e300;
    }
  }

 private:
  const generator_options& o_;
  rng periods_;
  bool on_ = false;  // flipped to ON at t = 0
  double switch_at_ = 0;
};

std::string account_name(std::uint32_t k, std::uint32_t n) {
  auto digits = std::to_string(k + 1);
  return "acct-" + std::string(std::to_string(n).size() - digits.size(), '0') + digits;
}

}  // namespace

std::vector<generator_options::model_share> parse_model_mix(const std::string& text,
                                                            const std::string& where) {
  std::vector<generator_options::model_share> mix;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto comma = text.find(',', start);
    std::string item =
        text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    auto bad = [&](const std::string& why) {
      return input_error::at(
          where, 0, "",
          why + " in " + policies::quoted(item) + " (expected NAME:WEIGHT[:MEAN_S],...)");
    };
    generator_options::model_share share;
    auto c1 = item.find(':');
    share.name = item.substr(0, c1);
    if (share.name.empty()) throw bad("a model name is empty");
    if (c1 != std::string::npos) {
      auto c2 = item.find(':', c1 + 1);
      std::string w =
          item.substr(c1 + 1, c2 == std::string::npos ? std::string::npos : c2 - c1 - 1);
      char* end = nullptr;
      share.weight = std::strtod(w.c_str(), &end);
      if (w.empty() || *end != '\0' || !(share.weight > 0) || !std::isfinite(share.weight))
        throw bad("the weight must be a positive number");
      if (c2 != std::string::npos &&
          (!policies::parse_seconds(item.substr(c2 + 1), share.mean_duration) ||
           share.mean_duration <= 0))
        throw bad("the mean duration must be a positive number of seconds");
    }
    mix.push_back(share);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return mix;
}

void validate(const generator_options& o) {
  auto bad = [](const char* option, const std::string& why) {
    return input_error::at(option, 0, "", why);
  };
  if (o.span <= 0) throw bad("--span", "expected a positive number of seconds");
  if (!(o.rate > 0) || !std::isfinite(o.rate)) throw bad("--rate", "expected a positive number");
  if (o.pattern != "poisson" && o.pattern != "diurnal" && o.pattern != "onoff")
    throw bad("--pattern",
              "expected poisson, diurnal or onoff, got " + policies::quoted(o.pattern));
  if (o.business_start_hour < 0 || o.business_end_hour > 24 ||
      o.business_start_hour >= o.business_end_hour)
    throw bad("--business-hours", "expected START-END with 0 <= START < END <= 24");
  if (!(o.off_hours_factor >= 0)) throw bad("--off-hours-factor", "expected a number >= 0");
  if (o.on_mean <= 0 || o.off_mean <= 0) throw bad("--on-s/--off-s", "expected positive seconds");
  if (o.accounts == 0) throw bad("--accounts", "expected at least 1");
  if (!(o.zipf >= 0)) throw bad("--zipf", "expected a number >= 0");
  if (o.models.empty()) throw bad("--models", "expected at least one model");
  if (o.duration_dist != "exp" && o.duration_dist != "lognormal")
    throw bad("--duration-dist",
              "expected exp or lognormal, got " + policies::quoted(o.duration_dist));
  if (o.mean_duration <= 0) throw bad("--mean-duration", "expected a positive number of seconds");
  if (!(o.cv >= 0) || !std::isfinite(o.cv)) throw bad("--cv", "expected a number >= 0");
}

std::uint64_t generate_trace(const generator_options& o, const std::string& path) {
  validate(o);
  std::vector<std::string> accounts;
  for (std::uint32_t k = 0; k < o.accounts; ++k) accounts.push_back(account_name(k, o.accounts));
  zipf_table zipf(o.accounts, o.zipf);
  std::vector<double> model_cdf;
  double total = 0;
  for (auto& m : o.models) model_cdf.push_back(total += m.weight);

  rng arrivals(substream_seed(o.seed, stable_hash("arrivals")));
  rng marks(substream_seed(o.seed, stable_hash("requests")));
  rate_schedule schedule(o);
  const double sigma = std::sqrt(std::log1p(o.cv * o.cv));  // the log-normal's, from its CV
  csv_out out(path);
  out.field("id").field("arrival_s").field("account").field("model").field("duration_s").end_row();

  const double span = static_cast<double>(o.span) / 1e6;
  std::uint64_t rows = 0;
  double t = 0;
  while (t < span) {
    double rate = 0, until = 0;
    schedule.at(t, rate, until);
    double next = rate > 0 ? t + exponential(arrivals, 1.0 / rate) : until;
    if (next >= until) {  // the rate changes first: restart there (memoryless)
      t = until;
      continue;
    }
    t = next;
    if (t >= span) break;
    auto account = zipf(marks);
    double u = uniform01(marks) * total;
    std::size_t m = 0;
    while (m + 1 < model_cdf.size() && u >= model_cdf[m]) ++m;
    double mean = static_cast<double>(o.models[m].mean_duration > 0 ? o.models[m].mean_duration
                                                                    : o.mean_duration) /
                  1e6;
    double d = o.duration_dist == "exp" ? exponential(marks, mean) : lognormal(marks, mean, sigma);
    ++rows;
    out.field(static_cast<std::int64_t>(rows))
        .seconds(static_cast<usec>(t * 1e6))  // truncated: stays below span
        .field(accounts[account])
        .field(o.models[m].name)
        .seconds(static_cast<usec>(std::llround(d * 1e6)))
        .end_row();
  }
  out.close();
  return rows;
}

}  // namespace usher::traces

#pragma once
/// `usher trace gen`: synthetic request traces in usher's trace CSV
/// (id,arrival_s,account,model,duration_s), for tests, demos and what-if
/// runs with no real trace at hand. docs/TRACES.md shows each pattern.
///
/// Arrivals are a Poisson process whose rate is piecewise constant:
///  - poisson: `rate` requests/s throughout;
///  - diurnal: `rate` during business hours [start, end) of every day (time 0
///    is 00:00 of day 0, as in plan signals), `rate x off_hours_factor`
///    outside them;
///  - onoff: ON periods at `rate` and silent OFF periods, their lengths
///    exponential with means `on_mean` and `off_mean`, starting ON.
/// Each request draws its account from a Zipf over `accounts` (acct-01 is
/// the busiest), its model from the weighted mix, and its duration from an
/// exponential or log-normal with the model's mean (the log-normal's
/// spread given as a coefficient of variation, as docs/WORKLOADS.md does). Arrivals, on/off
/// periods and per-request draws use separate substreams of the seed, so
/// changing the model mix leaves arrival times alone. Rows are written as
/// they are drawn: memory does not grow with the trace.

#include <cstdint>
#include <string>
#include <vector>

#include "policies/time.hpp"

namespace usher::traces {

struct generator_options {
  policies::usec span = policies::seconds(3600);  ///< arrivals in [0, span)
  double rate = 1.0;                              ///< requests/s while active
  std::string pattern = "poisson";                ///< poisson | diurnal | onoff
  int business_start_hour = 9, business_end_hour = 17;
  double off_hours_factor = 0.2;
  policies::usec on_mean = policies::seconds(60), off_mean = policies::seconds(240);
  std::uint32_t accounts = 10;
  double zipf = 1.0;
  struct model_share {
    std::string name;
    double weight = 1.0;
    policies::usec mean_duration = 0;  ///< 0: the default mean
  };
  std::vector<model_share> models{{"llama-3.1-70b-instruct", 1.0, 0}};
  std::string duration_dist = "exp";  ///< exp | lognormal
  policies::usec mean_duration = policies::seconds(10);
  double cv = 1.0;  ///< lognormal: coefficient of variation (standard deviation / mean)
  std::uint64_t seed = 1;
};

/// Parses a model mix "NAME:WEIGHT[:MEAN_S],..." (weights need not sum to
/// 1). Throws input_error naming `where` on bad text.
std::vector<generator_options::model_share> parse_model_mix(const std::string& text,
                                                            const std::string& where);

/// Checks `o` (positive rate and span, known pattern, hours in order, ...).
/// Throws input_error naming the option at fault.
void validate(const generator_options& o);

/// Writes the trace to `path`; returns the number of rows. Throws
/// input_error on bad options or when `path` cannot be written.
std::uint64_t generate_trace(const generator_options& o, const std::string& path);

}  // namespace usher::traces

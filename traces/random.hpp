#pragma once
/// The seeded draws of policies/random.hpp, by their names in traces/.

#include "policies/random.hpp"

namespace usher::traces {

using policies::rng;
using policies::mix64;
using policies::substream_seed;
using policies::stable_hash;
using policies::uniform01;
using policies::uniform_below;
using policies::exponential;
using policies::standard_normal;
using policies::gamma;
using policies::weibull;
using policies::lognormal;
using policies::zipf_table;
using policies::piecewise_linear_quantile;

}  // namespace usher::traces

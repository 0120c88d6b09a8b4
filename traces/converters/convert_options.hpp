#pragma once
/// What `usher trace convert` was asked to do, shared by every converter,
/// and what it reports back. Plain data; the command line fills it
/// (tools/trace_command.cpp) and docs/TRACES.md documents each field.
///
/// Times are integer microseconds (policies/time.hpp). "Source time" is the
/// time since the start of the source trace: its first row for timestamped
/// traces (Azure LLM, GenTD26), its own zero for the others (Mooncake's
/// `timestamp`, ServeGen's `window_start_s`, Azure Functions' minute 1).

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "policies/time.hpp"

namespace usher::traces {

/// Service time of an LLM request from its token counts:
///   duration = overhead + prefill_per_token x input + decode_per_token x output.
/// Integer microseconds throughout, so a duration is exact and the same on
/// every machine. The defaults describe a ~70B model on a shared endpoint:
/// 0.2 s of fixed cost (network, scheduling, first-token setup), prefill at
/// 5,000 tokens/s (0.0002 s/token), decode at ~33 tokens/s per stream
/// (0.03 s/token), the speed public 70B endpoints stream at.
struct service_time_model {
  policies::usec overhead = 200'000;
  policies::usec prefill_per_token = 200;
  policies::usec decode_per_token = 30'000;

  [[nodiscard]] policies::usec of(std::int64_t input, std::int64_t output) const {
    return overhead + prefill_per_token * input + decode_per_token * output;
  }
};

struct convert_options {
  std::string input;   ///< the source file (gzip or plain)
  std::string output;  ///< the usher trace CSV to write

  // -- time --
  double time_scale = 1.0;  ///< output arrival = (source time - from) x time_scale
  policies::usec from = 0;  ///< keep source times in [from, to)
  policies::usec to = policies::never;

  // -- accounts --
  /// Sources with accounts: 0 keeps them, N > 0 maps each to one of N
  /// synthetic accounts (Zipf, by a hash of its name and the seed). Sources
  /// without: each request draws one of N (0 means default_accounts).
  std::uint32_t accounts = 0;
  double zipf = 1.0;       ///< Zipf exponent of those draws (0: uniform)
  std::uint64_t seed = 1;  ///< every random draw of a conversion derives from it
  std::string account;     ///< non-empty: every row gets this account

  // -- models --
  std::string model;  ///< non-empty: every row gets this model
  std::vector<std::pair<std::string, std::string>> model_map;  ///< FROM=TO renames

  // -- durations and cost --
  service_time_model service;  ///< for token-only sources
  std::string cost = "none";   ///< none | tokens (input+output) | images-steps (GenTD26)

  // -- format-specific --
  bool succeed_only = false;        ///< gentd26: keep only SUCCEED rows
  std::string durations_file;       ///< azure-functions: the *_run.csv percentiles
  double rate_scale = 0.001;        ///< servegen: multiplies the published rates
  std::vector<std::string> models;  ///< servegen: keep these models (empty: all)
  std::string token_stats;          ///< servegen: servegen_client_token_stats.csv(.gz)
  double mean_input_tokens = 1000;  ///< servegen without token stats (exponential)
  double mean_output_tokens = 250;
  std::string log_format;  ///< access-log: combined, envoy, json, logfmt, nginx:P, envoy:P
  std::vector<std::pair<std::string, std::string>> field_map;  ///< access-log: --map KEY=FIELD
  std::string time_format = "auto";  ///< access-log: auto, clf, iso8601, epoch, epoch-ms
  std::string duration_unit;         ///< access-log: s, ms, us ("": the format's own)
  std::string log_time;              ///< access-log: start or end ("": the format's own)
  /// access-log --log-format usher: a lease never released in the log ends
  /// this long after its last renew (usher serve's lease_ttl)
  policies::usec lease_ttl = 30'000'000;

  static constexpr std::uint32_t default_accounts = 10;
};

/// What a conversion did, for the user and for tests.
struct convert_result {
  /// Records read from the source: rows or lines for per-request traces,
  /// invocations for azure-functions, active client windows for servegen.
  std::uint64_t source_records = 0;
  std::uint64_t rows = 0;              ///< rows written
  policies::usec first = 0, last = 0;  ///< output arrival range (0, 0 when empty)
  /// Defaults the user should know were applied ("say so"), one line each.
  std::vector<std::string> notes;
  /// Input left out that the user must see even with -q (access-log's bad
  /// lines), one line each.
  std::vector<std::string> warnings;
};

}  // namespace usher::traces

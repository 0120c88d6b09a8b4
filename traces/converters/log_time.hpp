#pragma once
/// Timestamps and durations as access logs write them, into integer
/// microseconds. Times are since 1970-01-01 00:00:00 UTC when the log states
/// a zone (an offset is subtracted, so a log that crosses a daylight-saving
/// change stays in order), else of the log's own zone; converters only
/// subtract two of them. Used by the access-log converter; docs/TRACES.md
/// lists the forms.

#include <string_view>

#include "policies/time.hpp"

namespace usher::traces {

enum class log_time_format {
  automatic,  ///< clf if it holds a '/', iso8601 if a '-', else epoch
  clf,        ///< nginx $time_local, Apache %t: 10/Oct/2000:13:55:36 -0700 (brackets allowed)
  iso8601,    ///< 2000-10-10T13:55:36.310Z, +02:00 or +0200, space for T, zone optional
  epoch,      ///< seconds since 1970 with a fraction: nginx $msec, 1700000000.123
  epoch_ms,   ///< milliseconds since 1970: 1700000000123
};

/// Parses a time of the given form. Returns false for anything else.
[[nodiscard]] bool parse_log_time(std::string_view text, log_time_format format,
                                  policies::usec& out);

/// Parses a duration: a non-negative decimal number in `unit` (1 for
/// seconds, 1000 for milliseconds, 1000000 for microseconds), or a number
/// with its own unit as policies::parse_duration reads it ("250ms", "1.5s").
/// Returns false for anything else.
[[nodiscard]] bool parse_log_duration(std::string_view text, long unit_per_second,
                                      policies::usec& out);

}  // namespace usher::traces

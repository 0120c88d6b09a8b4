#pragma once
/// Writes outcomes.csv (one row per trace row, in trace order) and
/// timeseries.csv (one row per account per interval with activity). Formats
/// in docs/FORMATS.md. Takes each row's label from the trace reader, so the
/// two advance together and memory stays bounded.

#include <string>

#include "policies/records.hpp"
#include "policies/usage_meter.hpp"
#include "traces/csv_out.hpp"
#include "traces/trace_reader.hpp"

namespace usher::traces {

class outcome_writer {
 public:
  /// Opens `path` and writes the header. Throws input_error.
  outcome_writer(const std::string& path, trace_reader& reader);

  /// REQUIRES: outcomes come in trace order.
  void write(const policies::outcome& o);
  void close() { out_.close(); }

  /// Arrival time of the first row (0 before any row).
  policies::usec first_arrival() const { return first_arrival_; }

 private:
  csv_out out_;
  trace_reader& reader_;
  policies::usec first_arrival_ = 0;
  bool any_ = false;
};

class series_writer {
 public:
  series_writer(const std::string& path, const interner& accounts, policies::usec interval);
  void write(const policies::interval_row& r);
  void close() { out_.close(); }

 private:
  csv_out out_;
  const interner& accounts_;
  policies::usec interval_;
};

}  // namespace usher::traces

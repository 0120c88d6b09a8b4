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
  /// Opens `path` and writes the header. Throws input_error. With
  /// `client_names` (one per generated client, by index), four columns more
  /// describe generated attempts: client, request, attempt, final.
  outcome_writer(const std::string& path, trace_reader& reader,
                 std::vector<std::string> client_names = {});

  /// REQUIRES: outcomes come ordered by (arrival, seq).
  void write(const policies::outcome& o);
  void close() { out_.close(); }

  /// Arrival time of the first row (0 before any row).
  policies::usec first_arrival() const { return first_arrival_; }

 private:
  csv_out out_;
  trace_reader& reader_;
  std::vector<std::string> client_names_;
  std::string id_;  ///< scratch
  policies::usec first_arrival_ = 0;
  bool any_ = false;
};

/// The fields of an outcomes.csv row after id, account and key (the last
/// four only with `client_names`), then `priority` when `with_priority`
/// (the trace has that column). `gates`: the plan's plug-in gates, whose
/// names a refusal by one gives as its reason (`gate:NAME`).
void outcome_fields(csv_out& out, const policies::outcome& o, const interner& models,
                    const std::vector<policies::gate_spec>& gates,
                    const std::vector<std::string>& client_names, bool with_priority);

/// The fields of one timeseries.csv row.
void series_fields(csv_out& out, const policies::interval_row& r, const interner& accounts,
                   policies::usec interval);

/// outcomes.csv's `priority` field: the level a row asked for, empty for
/// none (-1).
void priority_field(csv_out& out, std::int16_t asked);

/// The header rows of the two files.
void outcome_header(csv_out& out, bool with_clients, bool with_priority);
void series_header(csv_out& out);

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

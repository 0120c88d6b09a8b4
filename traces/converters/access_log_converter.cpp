// A provider's own traffic as a trace: nginx, Envoy, JSON-lines and logfmt
// access logs (traces/converters/log_line_format.hpp), one request per
// line. `--map KEY=FIELD` names the log field behind each of arrival,
// account, duration, model and status; nginx and Envoy formats have
// defaults. arrival = the line's time, less its duration when the log's
// time is the request's end (nginx's); duration as logged (seconds for
// nginx's $request_time, milliseconds for Envoy's %DURATION%); 5xx rows get
// fail = 1.
//
// Logs are written as requests end, so lines come out of arrival order:
// the rows are kept in memory (about 40 bytes each plus the distinct
// accounts and models) and sorted by arrival, ties in line order. A line
// that cannot be read is left out, counted and listed (the first
// `listed_bad_lines`) as a warning; a file where no line can be read is an
// error naming it.

#include <algorithm>
#include <cstdint>

#include "policies/closest_match.hpp"
#include "policies/input_error.hpp"
#include "traces/converters/converters.hpp"
#include "traces/converters/log_line_format.hpp"
#include "traces/converters/log_time.hpp"
#include "traces/converters/trace_sink.hpp"
#include "traces/gzip_source.hpp"
#include "traces/interner.hpp"

namespace usher::traces {

using policies::input_error;
using policies::quoted;
using policies::usec;

namespace {

constexpr std::size_t listed_bad_lines = 10;

// The keys of --map, in the order lines are read.
enum key : std::size_t { arrival, duration, account, model, status, key_count };
const std::vector<std::string> key_names = {"arrival", "duration", "account", "model", "status"};

input_error map_error(const std::string& message) {
  return input_error::at("--map", 0, "", message);
}

std::string joined(const std::vector<std::string>& names) {
  std::string s;
  for (auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

// The log field behind each key: --map, else the format's default, else "".
std::vector<std::string> field_names(const convert_options& options,
                                     const log_line_format& format) {
  std::vector<std::string> fields(key_count);
  auto has = [&](const char* name) {
    auto& f = format.fields();
    return std::find(f.begin(), f.end(), name) != f.end();
  };
  if (format.which() == log_line_format::kind::nginx) {
    for (const char* t : {"time_local", "time_iso8601", "msec"})
      if (has(t)) fields[arrival] = t;
    if (has("request_time")) fields[duration] = "request_time";
    if (has("status")) fields[status] = "status";
  } else if (format.which() == log_line_format::kind::envoy) {
    if (has("START_TIME")) fields[arrival] = "START_TIME";
    if (has("DURATION")) fields[duration] = "DURATION";
    if (has("RESPONSE_CODE")) fields[status] = "RESPONSE_CODE";
  }
  for (auto& [k, field] : options.field_map) {
    auto it = std::find(key_names.begin(), key_names.end(), k);
    if (it == key_names.end())
      throw map_error("unknown key " + quoted(k) + policies::did_you_mean(k, key_names) +
                      " (keys: " + joined(key_names) + ")");
    if (field.empty()) throw map_error(k + ": expected KEY=FIELD, got an empty field");
    auto& f = format.fields();
    if (!f.empty() && std::find(f.begin(), f.end(), field) == f.end())
      throw map_error(k + "=" + field + ": the log format has no field " + quoted(field) +
                      policies::did_you_mean(field, f) + " (fields: " + joined(f) + ")");
    fields[static_cast<std::size_t>(it - key_names.begin())] = field;
  }
  for (key k : {arrival, duration})
    if (fields[k].empty())
      throw map_error("access-log needs " + key_names[k] +
                      "=FIELD: this log format has no default");
  return fields;
}

log_time_format time_format_of(const std::string& name) {
  if (name == "auto") return log_time_format::automatic;
  if (name == "clf") return log_time_format::clf;
  if (name == "iso8601") return log_time_format::iso8601;
  if (name == "epoch") return log_time_format::epoch;
  if (name == "epoch-ms") return log_time_format::epoch_ms;
  throw input_error::at("--time-format", 0, "",
                        "expected auto, clf, iso8601, epoch or epoch-ms, got " + quoted(name));
}

long units_per_second(const std::string& unit, const log_line_format& format) {
  if (unit.empty()) return format.which() == log_line_format::kind::envoy ? 1000 : 1;
  if (unit == "s") return 1;
  if (unit == "ms") return 1000;
  if (unit == "us") return 1000000;
  throw input_error::at("--duration-unit", 0, "", "expected s, ms or us, got " + quoted(unit));
}

bool time_is_end(const std::string& when, const log_line_format& format) {
  if (when.empty()) return format.which() == log_line_format::kind::nginx;
  if (when == "start" || when == "end") return when == "end";
  throw input_error::at("--log-time", 0, "", "expected start or end, got " + quoted(when));
}

struct log_row {
  usec at = 0, duration = 0;
  std::uint32_t account = 0, model = 0;
  bool fail = false;
};

}  // namespace

convert_result convert_access_log(const convert_options& options) {
  check_cost_mode(options, {}, "access-log");
  if (options.log_format.empty())
    throw input_error::at("--log-format", 0, "",
                          "access-log needs one: combined, envoy, json, logfmt, nginx:PATTERN or "
                          "envoy:PATTERN");
  log_line_format format(options.log_format);
  auto fields = field_names(options, format);
  auto time_format = time_format_of(options.time_format);
  long unit = units_per_second(options.duration_unit, format);
  bool end_time = time_is_end(options.log_time, format);

  // Only the mapped fields are read; values[i] belongs to wanted_key[i].
  std::vector<std::string> wanted;
  std::vector<key> wanted_key;
  for (std::size_t k = 0; k < key_count; ++k)
    if (!fields[k].empty()) {
      wanted.push_back(fields[k]);
      wanted_key.push_back(static_cast<key>(k));
    }
  bool with_account = !fields[account].empty(), with_status = !fields[status].empty();
  if (options.succeed_only && !with_status)
    throw input_error::at("--status", 0, "", "succeed needs a status field (--map status=FIELD)");

  convert_result result;
  gzip_source in(options.input);
  interner accounts, models;
  models.intern("");
  std::vector<log_row> rows;
  std::vector<std::string> values;
  std::vector<std::string> bad;
  std::uint64_t bad_count = 0, refused = 0, failed = 0;
  std::string_view line;
  while (in.next(line)) {
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    ++result.source_records;
    auto why = format.read(line, wanted, values);
    log_row row;
    usec time = 0;
    int code = 0;
    for (std::size_t i = 0; i < wanted.size() && why.empty(); ++i) {
      const std::string& v = values[i];
      std::string field = "field '" + wanted[i] + "' (" + key_names[wanted_key[i]] + "): ";
      switch (wanted_key[i]) {
        case arrival:
          if (!parse_log_time(v, time_format, time))
            why = field + "expected a time (--time-format " + options.time_format + "), got " +
                  quoted(v);
          break;
        case duration:
          if (!parse_log_duration(v, unit, row.duration))
            why = field + "expected a non-negative duration in " +
                  (unit == 1      ? "s"
                   : unit == 1000 ? "ms"
                                  : "us") +
                  ", got " + quoted(v);
          break;
        case account:
          row.account = accounts.intern(v);
          break;
        case model:
          row.model = models.intern(v);
          break;
        case status:
          if (v.size() != 3 || v < "100" || v > "599" ||
              v.find_first_not_of("0123456789") != std::string::npos)
            why = field + "expected an HTTP status from 100 to 599, got " + quoted(v);
          else
            code = std::stoi(v);
          break;
        case key_count:
          break;
      }
    }
    if (why.empty() && end_time && time - row.duration < 0)
      why = "the request would have started before 1970 (its duration exceeds its end time)";
    if (!why.empty()) {
      if (bad.size() < listed_bad_lines)
        bad.push_back(in.path() + ":" + std::to_string(in.line_number()) + ": " + why);
      ++bad_count;
      continue;
    }
    row.at = end_time ? time - row.duration : time;
    if (with_status && options.succeed_only && code >= 400) {
      ++refused;
      continue;
    }
    row.fail = code >= 500;
    failed += row.fail;
    rows.push_back(row);
  }
  if (result.source_records == 0) throw input_error::in(in.path(), "no log lines");
  if (rows.empty() && refused == 0)
    throw input_error::in(in.path(), "no line could be read (" + std::to_string(bad_count) +
                                         " lines; first, line " +
                                         bad.front().substr(in.path().size() + 1) + ")");
  if (bad_count > 0) {
    result.warnings.push_back(
        in.path() + ": left out " + std::to_string(bad_count) + " of " +
        std::to_string(result.source_records) + " lines that could not be read" +
        (bad_count > bad.size() ? "; the first " + std::to_string(bad.size()) + ":" : ":"));
    for (auto& b : bad) result.warnings.push_back("  " + b);
  }
  if (end_time)
    result.notes.push_back(
        "arrival: the log's time is when a request ended (nginx writes its line then), so "
        "arrival = time - duration; --log-time start if the time is the request's start");
  if (with_status && !options.succeed_only)
    result.notes.push_back("status: kept rows of every status (" + std::to_string(failed) +
                           " with 5xx have fail=1); --status succeed keeps only those below 400");
  if (refused > 0)
    result.notes.push_back("status: left out " + std::to_string(refused) +
                           " rows with status 400 or more (--status succeed)");

  std::stable_sort(rows.begin(), rows.end(),
                   [](const log_row& a, const log_row& b) { return a.at < b.at; });
  trace_sink sink(options, {false, with_status && !options.succeed_only, false}, with_account,
                  result);
  usec first = rows.empty() ? 0 : rows.front().at;
  for (auto& r : rows) {
    if (sink.past(r.at - first)) break;
    trace_row out;
    out.at = r.at - first;
    out.duration = r.duration;
    out.account = with_account ? std::string_view(accounts.name(r.account)) : std::string_view();
    out.model = models.name(r.model);
    out.fail = r.fail;
    sink.write(out);
  }
  sink.close();
  return result;
}

}  // namespace usher::traces

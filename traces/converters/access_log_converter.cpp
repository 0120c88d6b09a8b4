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
#include <map>
#include <unordered_map>

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

// The lines that could not be read: counted, the first `listed_bad_lines`
// kept with their line numbers.
struct bad_lines {
  std::vector<std::string> listed;
  std::uint64_t count = 0;

  void add(const gzip_source& in, const std::string& why) {
    if (listed.size() < listed_bad_lines)
      listed.push_back(in.path() + ":" + std::to_string(in.line_number()) + ": " + why);
    ++count;
  }

  // An error when no line was read at all, or none could be (and nothing
  // was left out on purpose); else warnings listing the bad lines.
  void report(const std::string& path, bool nothing_read, convert_result& result) const {
    if (result.source_records == 0) throw input_error::in(path, "no log lines");
    if (nothing_read && count > 0)
      throw input_error::in(path, "no line could be read (" + std::to_string(count) +
                                      " lines; first, line " +
                                      listed.front().substr(path.size() + 1) + ")");
    if (count == 0) return;
    result.warnings.push_back(
        path + ": left out " + std::to_string(count) + " of " +
        std::to_string(result.source_records) + " lines that could not be read" +
        (count > listed.size() ? "; the first " + std::to_string(listed.size()) + ":" : ":"));
    for (auto& b : listed) result.warnings.push_back("  " + b);
  }
};

// Sorts `rows` by arrival (ties in line order) and writes them from the
// earliest arrival, which maps to 0.
void write_rows(const convert_options& options, std::vector<log_row>& rows,
                const interner& accounts, const interner& models, bool with_account,
                bool with_fail, convert_result& result) {
  std::stable_sort(rows.begin(), rows.end(),
                   [](const log_row& a, const log_row& b) { return a.at < b.at; });
  trace_sink sink(options, {false, with_fail, false}, with_account, result);
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
}

}  // namespace

convert_result convert_usher_access_log(const convert_options& options);

convert_result convert_access_log(const convert_options& options) {
  check_cost_mode(options, {}, "access-log");
  if (options.log_format.empty())
    throw input_error::at("--log-format", 0, "",
                          "access-log needs one: combined, envoy, json, logfmt, usher, "
                          "nginx:PATTERN or envoy:PATTERN");
  if (options.log_format == "usher") return convert_usher_access_log(options);
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
  bad_lines bad;
  std::uint64_t refused = 0, failed = 0;
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
      bad.add(in, why);
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
  bad.report(in.path(), rows.empty() && refused == 0, result);
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

  write_rows(options, rows, accounts, models, with_account, with_status && !options.succeed_only,
             result);
  return result;
}

// `--log-format usher`: usher serve's own access log (actors/http/
// access_log.cpp), whose lines are HTTP requests, not leases. A line is
// written when its request is answered: `time` is the answer's instant,
// `duration_ms` how long the request took, `wait_ms` how long an admission
// queued (from its arrival to its grant). So
//   arrival = time - duration_ms of the admission (route admit);
//   grant   = arrival + wait_ms (of the admission's 200, or of the ticket
//             poll that got the lease for a 202's ticket);
//   end     = time of the 200 release (route lease_release) of that lease,
//             else (never released in the log) the lease's last renew
//             (or grant) + --lease-ttl, as the node would expire it;
//   duration_s = end - grant.
// Refused admissions (408, 429, 5xx) are requests of the trace too: rows
// with duration 0 (the simulator decides their fate under the candidate
// plan). Other routes, unauthenticated and malformed requests are skipped
// and counted; the log names no model and no cost.
convert_result convert_usher_access_log(const convert_options& options) {
  for (auto& [k, field] : options.field_map)
    throw map_error(k + "=" + field + ": --log-format usher knows its fields; --map is for the "
                                      "other formats");
  if (!options.duration_unit.empty())
    throw input_error::at("--duration-unit", 0, "", "--log-format usher knows its units");
  if (!options.log_time.empty())
    throw input_error::at("--log-time", 0, "",
                          "--log-format usher knows its times (each line is written when its "
                          "request is answered)");
  if (options.lease_ttl <= 0)
    throw input_error::at("--lease-ttl", 0, "", "expected a positive duration");
  log_line_format format("logfmt");
  auto time_format = time_format_of(options.time_format);
  // The first three are required on every line; the rest may be `-`.
  enum field : std::size_t { f_time, f_status, f_duration, f_route, f_account, f_wait, f_lease,
                             f_ticket };
  const std::vector<std::string> wanted = {"time",    "status",  "duration_ms", "route",
                                           "account", "wait_ms", "lease",       "ticket"};

  struct held {
    std::size_t row;
    usec grant, last;  // last: the grant or the latest renew
  };
  convert_result result;
  gzip_source in(options.input);
  interner accounts, models;
  models.intern("");
  std::vector<log_row> rows;
  std::vector<bool> keep;  // rows[i] is written (a cancelled ticket's is not)
  std::unordered_map<std::string, held> leases;
  std::unordered_map<std::string, std::size_t> tickets;  // waiting: its row
  std::map<std::string, std::uint64_t> skipped;           // route -> lines
  std::uint64_t refused = 0, dropped_refused = 0, unknown_releases = 0, cancelled = 0;
  std::vector<std::string> values;
  bad_lines bad;
  std::string_view line;
  while (in.next(line)) {
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    ++result.source_records;
    auto why = format.read(line, wanted, values, 3);
    usec time = 0, took = 0, wait = -1;
    int code = 0;
    if (why.empty() && !parse_log_time(values[f_time], time_format, time))
      why = "field 'time': expected a time, got " + quoted(values[f_time]);
    const std::string& st = values[f_status];
    if (why.empty()) {
      if (st.size() != 3 || st < "100" || st > "599" ||
          st.find_first_not_of("0123456789") != std::string::npos)
        why = "field 'status': expected an HTTP status from 100 to 599, got " + quoted(st);
      else
        code = std::stoi(st);
    }
    if (why.empty() && !parse_log_duration(values[f_duration], 1000, took))
      why = "field 'duration_ms': expected a non-negative number of milliseconds, got " +
            quoted(values[f_duration]);
    if (why.empty() && !values[f_wait].empty() && !parse_log_duration(values[f_wait], 1000, wait))
      why = "field 'wait_ms': expected a non-negative number of milliseconds, got " +
            quoted(values[f_wait]);
    if (why.empty() && time - took < 0)
      why = "the request would have started before 1970 (its duration exceeds its time)";
    if (!why.empty()) {
      bad.add(in, why);
      continue;
    }
    const std::string& route = values[f_route];
    const std::string& lease = values[f_lease];
    const std::string& ticket = values[f_ticket];
    auto skip = [&](const std::string& what) { ++skipped[what]; };
    auto granted = [&](std::size_t row, usec grant) {
      leases[lease] = held{row, grant, grant};
    };
    if (route == "admit") {
      if (values[f_account].empty()) {
        skip("admit, not authenticated");
        continue;
      }
      bool lease_granted = code == 200 && !lease.empty();
      bool queued = code == 202 && !ticket.empty();
      bool refusal = code == 408 || code == 429 || code >= 500;
      if (!lease_granted && !queued && !refusal) {
        skip("admit, status " + st);
        continue;
      }
      if (refusal && options.succeed_only) {
        ++dropped_refused;
        continue;
      }
      log_row row;
      row.at = time - took;
      row.account = accounts.intern(values[f_account]);
      rows.push_back(row);
      keep.push_back(true);
      if (lease_granted) granted(rows.size() - 1, wait >= 0 ? row.at + wait : time);
      if (queued) tickets[ticket] = rows.size() - 1;
      refused += refusal;
    } else if (route == "ticket_poll" || route == "ticket_cancel") {
      auto t = tickets.find(ticket);
      if (t == tickets.end()) {
        skip(route);  // still waiting, or queued before the log began
        continue;
      }
      std::size_t r = t->second;
      if (route == "ticket_poll" && code == 200 && !lease.empty()) {
        granted(r, wait >= 0 ? rows[r].at + wait : time);
        tickets.erase(t);
      } else if (route == "ticket_poll" && code == 408) {
        ++refused;  // waited out its queue place: refused, duration 0
        if (options.succeed_only) {
          keep[r] = false;
          ++dropped_refused;
        }
        tickets.erase(t);
      } else if (route == "ticket_cancel" && code == 200) {
        keep[r] = false;
        ++cancelled;
        tickets.erase(t);
      } else {
        skip(route);
      }
    } else if (route == "lease_renew" && code == 200) {
      auto l = leases.find(lease);
      if (l != leases.end()) l->second.last = std::max(l->second.last, time);
      else skip(route);
    } else if (route == "lease_release" && code == 200) {
      auto l = leases.find(lease);
      if (l == leases.end()) {
        ++unknown_releases;
        continue;
      }
      rows[l->second.row].duration = std::max<usec>(0, time - l->second.grant);
      leases.erase(l);
    } else {
      skip(route.empty() ? "(no route)" : route);
    }
  }
  bad.report(in.path(), bad.count == result.source_records, result);
  for (auto& waiting : tickets) keep[waiting.second] = false;
  std::uint64_t written = 0;
  for (bool k : keep) written += k;
  result.notes.push_back(
      "usher: arrival = an admission's time - its duration_ms; a lease is held from its grant "
      "(arrival + wait_ms) to the 200 of its release (DELETE /v1/leases/ID); refused admissions "
      "(408, 429, 5xx) have duration 0");
  if (!leases.empty())
    result.notes.push_back("usher: " + std::to_string(leases.size()) +
                           " leases never released in the log end at their last renew + the "
                           "lease TTL (--lease-ttl " +
                           policies::format_seconds(options.lease_ttl) + " s)");
  for (auto& unreleased : leases) {
    const held& h = unreleased.second;
    rows[h.row].duration = h.last + options.lease_ttl - h.grant;
  }
  if (refused > 0 && !options.succeed_only)
    result.notes.push_back("usher: " + std::to_string(refused) +
                           " refused admissions kept as rows of duration 0; --status succeed "
                           "leaves them out");
  if (dropped_refused > 0)
    result.notes.push_back("usher: left out " + std::to_string(dropped_refused) +
                           " refused admissions (--status succeed)");
  if (cancelled > 0 || !tickets.empty())
    result.notes.push_back("usher: left out " + std::to_string(cancelled + tickets.size()) +
                           " queued admissions whose ticket was cancelled or had no answer in "
                           "the log");
  if (unknown_releases > 0)
    result.notes.push_back("usher: skipped " + std::to_string(unknown_releases) +
                           " releases of leases granted before the log begins");
  if (!skipped.empty()) {
    std::uint64_t n = 0;
    std::string by;
    for (auto& [what, count] : skipped) {
      n += count;
      by += (by.empty() ? "" : ", ") + what + " " + std::to_string(count);
    }
    result.notes.push_back("usher: skipped " + std::to_string(n) +
                           " lines that admit nothing (" + by + ")");
  }
  std::vector<log_row> kept;
  kept.reserve(written);
  for (std::size_t i = 0; i < rows.size(); ++i)
    if (keep[i]) kept.push_back(rows[i]);
  write_rows(options, kept, accounts, models, true, false, result);
  return result;
}

}  // namespace usher::traces

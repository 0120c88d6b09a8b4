// Mooncake / Kimi traces (FAST '25, kvcache-ai/Mooncake): JSON lines with
// timestamp (ms since the trace start), input_length, output_length and
// hash_ids (prefix blocks, unused here). arrival = timestamp / 1000; no
// accounts (synthetic ones are drawn); model = "mooncake"; duration = the
// service-time model on the token counts.

#include <nlohmann/json.hpp>

#include "policies/input_error.hpp"
#include "traces/converters/converters.hpp"
#include "traces/converters/trace_sink.hpp"
#include "traces/gzip_source.hpp"

namespace usher::traces {

using policies::input_error;
using policies::quoted;

namespace {

// nlohmann's "[json.exception.parse_error.101] parse error at line 1, column 37:
// syntax error ..." as "syntax error ... (column 37)": the line is ours to name.
std::string parse_message(const nlohmann::json::parse_error& e) {
  std::string what = e.what();
  auto column = what.find("column ");
  auto colon = what.find(": ", column == std::string::npos ? 0 : column);
  if (column == std::string::npos || colon == std::string::npos) return what;
  return what.substr(colon + 2) + " (" + what.substr(column, colon - column) + ")";
}

// A non-negative integer field of one JSON line, named in errors.
std::int64_t whole(const nlohmann::json& j, const char* name, const gzip_source& in) {
  auto it = j.find(name);
  std::string field = std::string("field '") + name + "'";
  if (it == j.end()) throw input_error::at(in.path(), in.line_number(), field, "missing");
  if (it->is_number_unsigned()) return static_cast<std::int64_t>(it->get<std::uint64_t>());
  if (it->is_number_float() && it->get<double>() >= 0 && it->get<double>() < 9e15)
    return static_cast<std::int64_t>(it->get<double>() + 0.5);
  throw input_error::at(in.path(), in.line_number(), field,
                        "expected a non-negative number, got " + quoted(it->dump()));
}

}  // namespace

convert_result convert_mooncake(const convert_options& options) {
  check_cost_mode(options, {"tokens"}, "mooncake");
  convert_result result;
  gzip_source in(options.input);
  trace_sink sink(options, {options.cost == "tokens", false, true}, false, result);
  std::string_view line;
  policies::usec previous = 0;
  while (in.next(line)) {
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      throw input_error::at(in.path(), in.line_number(), "",
                            "expected one JSON object per line: " + parse_message(e));
    }
    if (!j.is_object())
      throw input_error::at(in.path(), in.line_number(), "",
                            std::string("expected one JSON object per line, got ") + j.type_name());
    policies::usec at = whole(j, "timestamp", in) * 1000;
    if (at < previous)
      throw input_error::at(in.path(), in.line_number(), "field 'timestamp'",
                            "lines must be sorted by timestamp: " + std::to_string(at / 1000) +
                                " comes after " + std::to_string(previous / 1000));
    previous = at;
    ++result.source_records;
    if (sink.past(at)) break;
    trace_row row;
    row.at = at;
    row.input_tokens = whole(j, "input_length", in);
    row.output_tokens = whole(j, "output_length", in);
    row.duration = options.service.of(row.input_tokens, row.output_tokens);
    row.cost = row.input_tokens + row.output_tokens;
    row.model = "mooncake";
    sink.write(row);
  }
  sink.close();
  return result;
}

}  // namespace usher::traces

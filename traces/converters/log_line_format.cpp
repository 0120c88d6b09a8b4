#include "traces/converters/log_line_format.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "policies/input_error.hpp"

namespace usher::traces {

using policies::input_error;
using policies::quoted;

namespace {

// nginx's default log_format, "combined".
const char* combined_pattern =
    "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent "
    "\"$http_referer\" \"$http_user_agent\"";

// Envoy's default access-log format (its docs, "Default format string").
const char* envoy_pattern =
    "[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%\" "
    "%RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% "
    "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% \"%REQ(X-FORWARDED-FOR)%\" \"%REQ(USER-AGENT)%\" "
    "\"%REQ(X-REQUEST-ID)%\" \"%REQ(:AUTHORITY)%\" \"%UPSTREAM_HOST%\"";

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

input_error bad_pattern(const std::string& message) {
  return input_error::at("--log-format", 0, "", message);
}

// Splits an nginx or Envoy pattern into literals and field names.
void split_pattern(const std::string& p, bool nginx, std::vector<std::string>& fields,
                   std::vector<std::string>& literals) {
  std::string literal;
  for (std::size_t i = 0; i < p.size();) {
    std::string name;
    if (nginx && p[i] == '$') {
      std::size_t end = i + 1;
      if (end < p.size() && p[end] == '{') {
        end = p.find('}', i);
        if (end == std::string::npos)
          throw bad_pattern("unterminated ${ at offset " + std::to_string(i));
        name = p.substr(i + 2, end - i - 2);
        ++end;
      } else {
        while (end < p.size() && is_name_char(p[end])) ++end;
        name = p.substr(i + 1, end - i - 1);
      }
      if (name.empty())
        throw bad_pattern("a $ without a variable name at offset " + std::to_string(i));
      i = end;
    } else if (!nginx && p[i] == '%') {
      if (i + 1 < p.size() && p[i + 1] == '%') {
        literal += '%';
        i += 2;
        continue;
      }
      auto end = p.find('%', i + 1);
      if (end == std::string::npos)
        throw bad_pattern("unterminated % at offset " + std::to_string(i));
      name = p.substr(i + 1, end - i - 1);
      // %REQ(USER-AGENT):10% truncates the value; the field is the same.
      auto close = name.rfind(')');
      auto colon = name.rfind(':');
      if (colon != std::string::npos && (close == std::string::npos || colon > close))
        name = name.substr(0, colon);
      if (name.empty()) throw bad_pattern("an empty %% command at offset " + std::to_string(i));
      i = end + 1;
    } else {
      literal += p[i++];
      continue;
    }
    if (!fields.empty() && literal.empty())
      throw bad_pattern("fields '" + fields.back() + "' and '" + name +
                        "' have no text between them, so a line cannot be split");
    literals.push_back(literal);
    literal.clear();
    fields.push_back(name);
  }
  literals.push_back(literal);
  if (fields.empty()) throw bad_pattern("the pattern has no fields: " + quoted(p));
}

// The value of `name` in a JSON object: a key, else a dotted path.
const nlohmann::json* json_field(const nlohmann::json& j, const std::string& name) {
  auto it = j.find(name);
  if (it != j.end()) return &*it;
  const nlohmann::json* at = &j;
  std::size_t start = 0;
  while (true) {
    auto dot = name.find('.', start);
    auto key = name.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!at->is_object()) return nullptr;
    auto next = at->find(key);
    if (next == at->end()) return nullptr;
    at = &*next;
    if (dot == std::string::npos) return at;
    start = dot + 1;
  }
}

// Reads `key=value key="quoted \"value\"" ...` into (key, value) pairs.
std::string split_logfmt(std::string_view line,
                         std::vector<std::pair<std::string, std::string>>& pairs) {
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i == line.size()) break;
    std::size_t start = i;
    while (i < line.size() && line[i] != '=' && line[i] != ' ' && line[i] != '\t') ++i;
    std::string key(line.substr(start, i - start));
    if (key.empty()) return "expected key=value at column " + std::to_string(start + 1);
    std::string value;
    if (i < line.size() && line[i] == '=') {
      ++i;
      if (i < line.size() && line[i] == '"') {
        ++i;
        bool closed = false;
        while (i < line.size()) {
          char c = line[i++];
          if (c == '"') {
            closed = true;
            break;
          }
          if (c == '\\' && i < line.size()) {
            char e = line[i++];
            value += e == 'n' ? '\n' : e == 't' ? '\t' : e;
          } else {
            value += c;
          }
        }
        if (!closed) return "field '" + key + "': unterminated quoted value";
      } else {
        std::size_t vstart = i;
        while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
        value = std::string(line.substr(vstart, i - vstart));
      }
    }
    pairs.emplace_back(std::move(key), std::move(value));
  }
  return "";
}

}  // namespace

log_line_format::log_line_format(const std::string& spec) {
  if (spec == "json") {
    kind_ = kind::json;
  } else if (spec == "logfmt") {
    kind_ = kind::logfmt;
  } else if (spec == "combined" || spec.rfind("nginx:", 0) == 0) {
    kind_ = kind::nginx;
    split_pattern(spec == "combined" ? combined_pattern : spec.substr(6), true, fields_, literals_);
  } else if (spec == "envoy" || spec.rfind("envoy:", 0) == 0) {
    kind_ = kind::envoy;
    split_pattern(spec == "envoy" ? envoy_pattern : spec.substr(6), false, fields_, literals_);
  } else {
    throw input_error::at("--log-format", 0, "",
                          "expected combined, envoy, json, logfmt, nginx:PATTERN or "
                          "envoy:PATTERN, got " +
                              quoted(spec));
  }
}

std::string log_line_format::read(std::string_view line, const std::vector<std::string>& wanted,
                                  std::vector<std::string>& values, std::size_t required) const {
  values.assign(wanted.size(), std::string());
  if (kind_ == kind::nginx || kind_ == kind::envoy)
    return read_pattern(line, wanted, values, required);
  if (kind_ == kind::logfmt) {
    std::vector<std::pair<std::string, std::string>> pairs;
    if (auto why = split_logfmt(line, pairs); !why.empty()) return why;
    for (std::size_t w = 0; w < wanted.size(); ++w) {
      bool found = false;
      for (auto& [key, value] : pairs)
        if (key == wanted[w]) {
          values[w] = value;
          found = true;
        }
      if (!found || values[w].empty() || values[w] == "-") {
        if (w < required) return "field '" + wanted[w] + "': missing";
        values[w].clear();
      }
    }
    return "";
  }
  nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return "expected one JSON object per line";
  for (std::size_t w = 0; w < wanted.size(); ++w) {
    auto* v = json_field(j, wanted[w]);
    if (v == nullptr || v->is_null()) {
      if (w < required) return "field '" + wanted[w] + "': missing";
      continue;
    }
    if (v->is_string())
      values[w] = v->get<std::string>();
    else if (v->is_number() || v->is_boolean())
      values[w] = v->dump();
    else
      return "field '" + wanted[w] + "': expected a value, got an " + v->type_name();
    if (values[w].empty() && w < required) return "field '" + wanted[w] + "': missing";
  }
  return "";
}

std::string log_line_format::read_pattern(std::string_view line,
                                          const std::vector<std::string>& wanted,
                                          std::vector<std::string>& values,
                                          std::size_t required) const {
  while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
  if (line.substr(0, literals_[0].size()) != literals_[0])
    return "does not match the format: expected " + quoted(literals_[0]) + " at the start";
  std::size_t pos = literals_[0].size();
  for (std::size_t f = 0; f < fields_.size(); ++f) {
    const std::string& next = literals_[f + 1];
    bool last = f + 1 == fields_.size();
    std::size_t at = last ? line.size() - std::min(line.size(), next.size()) : line.find(next, pos);
    if (at == std::string_view::npos || at < pos || line.substr(at, next.size()) != next)
      return "does not match the format: expected " + quoted(last && next.empty() ? "end" : next) +
             " after field '" + fields_[f] + "'";
    auto value = line.substr(pos, at - pos);
    for (std::size_t w = 0; w < wanted.size(); ++w)
      if (wanted[w] == fields_[f]) {
        if (value.empty() || value == "-") {
          if (w < required) return "field '" + fields_[f] + "': missing";
        } else {
          values[w] = std::string(value);
        }
      }
    pos = at + next.size();
  }
  return "";
}

}  // namespace usher::traces

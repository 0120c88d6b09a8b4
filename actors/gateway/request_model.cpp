#include "actors/gateway/request_model.hpp"

#include <algorithm>
#include <cctype>

#include "actors/http/request_fields.hpp"
#include "policies/rate_limit_gate.hpp"

namespace usher::actors::gateway {

namespace {

bool iequals_prefix(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The value of parameter `name` (lower case) in a header value such as
// `form-data; name="model"` or `multipart/form-data; boundary=xyz`.
std::string parameter(std::string_view header, std::string_view name) {
  std::size_t at = header.find(';');
  while (at != std::string_view::npos) {
    auto rest = header.substr(at + 1);
    auto next = rest.find(';');
    auto item = trim(rest.substr(0, next));
    at = next == std::string_view::npos ? next : at + 1 + next;
    auto eq = item.find('=');
    if (eq == std::string_view::npos) continue;
    auto key = trim(item.substr(0, eq));
    if (key.size() != name.size() || !iequals_prefix(key, name)) continue;
    auto value = trim(item.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"') {
      // A quoted string: up to the closing quote (a ';' inside it is part
      // of the value, so take it from the header itself).
      auto start = static_cast<std::size_t>(value.data() - header.data()) + 1;
      auto close = header.find('"', start);
      if (close == std::string_view::npos) return "";
      return std::string(header.substr(start, close - start));
    }
    return std::string(value);
  }
  return "";
}

}  // namespace

std::string multipart_boundary(std::string_view content_type) {
  if (!iequals_prefix(trim(content_type), "multipart/form-data")) return "";
  auto b = parameter(content_type, "boundary");
  return b.size() <= 70 ? b : "";  // RFC 2046: 1 to 70 characters
}

bool multipart_field(std::string_view body, std::string_view boundary, std::string_view name,
                     std::string& value) {
  if (boundary.empty()) return false;
  std::string delimiter = "--" + std::string(boundary);
  // The first delimiter may open the body; every later one follows a CRLF.
  auto at = body.find(delimiter);
  while (at != std::string_view::npos) {
    auto part = body.substr(at + delimiter.size());
    if (part.substr(0, 2) == "--") return false;  // the closing delimiter
    auto line_end = part.find("\r\n");
    if (line_end == std::string_view::npos) return false;
    part.remove_prefix(line_end + 2);
    auto head_end = part.find("\r\n\r\n");
    if (head_end == std::string_view::npos) return false;
    auto head = part.substr(0, head_end + 2);  // each header line ends with CRLF
    auto content = part.substr(head_end + 4);
    auto next = content.find("\r\n" + delimiter);
    if (next == std::string_view::npos) return false;
    bool wanted = false;
    while (!head.empty()) {
      auto eol = head.find("\r\n");
      auto line = head.substr(0, eol);
      head.remove_prefix(std::min(head.size(), eol + 2));
      if (iequals_prefix(line, "content-disposition:"))
        wanted = parameter(line, "name") == name;
    }
    if (wanted) {
      value.assign(content.substr(0, next));
      return true;
    }
    at = static_cast<std::size_t>(content.data() - body.data()) + next + 2;
  }
  return false;
}

model_read read_model(std::string_view content_type, std::string_view body, std::string& model,
                     std::string* service_tier) {
  if (iequals_prefix(trim(content_type), "multipart/form-data")) {
    auto boundary = multipart_boundary(content_type);
    if (boundary.empty()) return model_read::bad_multipart;
    if (!multipart_field(body, boundary, "model", model)) return model_read::missing;
    if (model.empty()) return model_read::missing;
    return model.size() <= http::max_name ? model_read::ok : model_read::not_string;
  }
  static constexpr std::string_view names[] = {"model", "service_tier"};
  http::json_member m[2];
  switch (http::read_members(body, names, m, service_tier ? 2 : 1)) {
    case http::json_read::malformed:
    case http::json_read::not_object: return model_read::malformed_json;
    case http::json_read::ok: break;
  }
  if (m[0].is == http::json_member::type::absent || m[0].is == http::json_member::type::null)
    return model_read::missing;
  if (m[0].is != http::json_member::type::string || m[0].text.size() > http::max_name ||
      m[0].text.empty())
    return model_read::not_string;
  model = std::move(m[0].text);
  if (service_tier && m[1].is == http::json_member::type::string && m[1].text.size() <= http::max_name)
    *service_tier = std::move(m[1].text);
  return model_read::ok;
}

std::uint32_t estimate_tokens(std::string_view content_type, std::string_view body,
                              std::int64_t chars_per_token) {
  std::int64_t tokens = 0;
  if (!iequals_prefix(trim(content_type), "multipart/form-data")) {
    tokens = (static_cast<std::int64_t>(body.size()) + chars_per_token - 1) / chars_per_token;
    static constexpr std::string_view names[] = {"max_tokens", "max_completion_tokens",
                                                  "max_output_tokens"};
    http::json_member m[3];
    if (http::read_members(body, names, m, 3) == http::json_read::ok) {
      std::int64_t reserved = 0;
      for (auto& x : m)
        if (x.is == http::json_member::type::integer && x.number > reserved) reserved = x.number;
      tokens += std::min(reserved, policies::max_request_tokens);
    }
  }
  return static_cast<std::uint32_t>(std::min(tokens, policies::max_request_tokens));
}

}  // namespace usher::actors::gateway

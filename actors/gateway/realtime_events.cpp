#include "actors/gateway/realtime_events.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace usher::actors::gateway {

namespace {

// SAX events of one realtime event: keeps type, event_id, response_id at the
// top, response.id and error.event_id one level down; skips the rest (audio
// deltas are long strings, no document is built for them).
class event_reader {
 public:
  explicit event_reader(realtime_event& out) : out_(out) {}
  bool object() const { return object_; }

  bool null() { return true; }
  bool boolean(bool) { return true; }
  bool number_integer(std::int64_t) { return true; }
  bool number_unsigned(std::uint64_t) { return true; }
  bool number_float(double, const std::string&) { return true; }
  bool binary(nlohmann::json::binary_t&) { return true; }
  bool string(std::string& v) {
    if (target_) *target_ = std::move(v);
    target_ = nullptr;
    return true;
  }
  bool start_object(std::size_t) {
    if (depth_ == 0) object_ = true;
    ++depth_;
    target_ = nullptr;
    return true;
  }
  bool start_array(std::size_t) {
    ++depth_;
    target_ = nullptr;
    return true;
  }
  bool end_object() { return end(); }
  bool end_array() { return end(); }
  bool key(std::string& k) {
    target_ = nullptr;
    if (depth_ == 1) {
      // A name given twice counts as its last value, as in a document: what
      // an earlier one set is cleared.
      key_ = k;
      if (k == "type") target_ = &out_.type;
      if (k == "event_id") target_ = &out_.event_id;
      if (k == "response_id" || k == "response") out_.response_id.clear();
      if (k == "response_id") target_ = &out_.response_id;
      if (k == "error") out_.error_event_id.clear();
      if (target_) target_->clear();
    } else if (depth_ == 2 && k == "id" && key_ == "response") {
      // A key at depth 2 is in the object that is the value of the last
      // top-level key (one inside an array would be deeper).
      target_ = &out_.response_id;
    } else if (depth_ == 2 && k == "event_id" && key_ == "error") {
      target_ = &out_.error_event_id;
    }
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) {
    return false;
  }

 private:
  bool end() {
    --depth_;
    target_ = nullptr;
    return true;
  }

  realtime_event& out_;
  std::string* target_ = nullptr;  ///< where the next string value goes
  std::string key_;                ///< the last top-level key
  int depth_ = 0;
  bool object_ = false;
};

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool read_realtime_event(std::string_view text, realtime_event& out) {
  out = {};
  event_reader reader(out);
  // Strict JSON (no comments, nothing after the object), as a model
  // server reads it: a frame read otherwise here than there could pass a
  // response.create without its slot.
  bool ok = nlohmann::json::sax_parse(text.begin(), text.end(), &reader,
                                      nlohmann::json::input_format_t::json, true, false);
  if (ok && reader.object()) return true;
  out = {};
  return false;
}

std::string with_event_id(std::string_view frame, std::string_view id) {
  auto brace = frame.find('{');
  std::string out;
  out.reserve(frame.size() + id.size() + 16);
  out.append(frame.substr(0, brace + 1));
  out += "\"event_id\":";
  // Never throws: bytes that are not UTF-8 are replaced (the ids given
  // here came through a JSON reader or are the node's own).
  out += nlohmann::json(std::string(id)).dump(-1, ' ', false,
                                              nlohmann::json::error_handler_t::replace);
  // An object with members gets a comma after the new one.
  auto rest = frame.substr(brace + 1);
  auto next = rest.find_first_not_of(" \t\r\n");
  if (next != std::string_view::npos && rest[next] != '}') out += ',';
  out.append(rest);
  return out;
}

std::optional<std::string> query_parameter(std::string_view target, std::string_view name) {
  auto q = target.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  auto query = target.substr(q + 1);
  query = query.substr(0, query.find('#'));
  while (!query.empty()) {
    auto amp = query.find('&');
    auto pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) != name) continue;
    auto raw = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    std::string value;
    value.reserve(raw.size());
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '+') {
        value += ' ';
      } else if (raw[i] == '%' && i + 2 < raw.size() && hex_value(raw[i + 1]) >= 0 &&
                 hex_value(raw[i + 2]) >= 0) {
        value += static_cast<char>(hex_value(raw[i + 1]) * 16 + hex_value(raw[i + 2]));
        i += 2;
      } else {
        value += raw[i];
      }
    }
    return value;
  }
  return std::nullopt;
}

// -- response_slots ----------------------------------------------------------

void response_slots::asked(std::string lease, std::string event_id) {
  pending_.push_back({std::move(lease), std::move(event_id)});
}

bool response_slots::created(const std::string& response_id) {
  if (pending_.empty()) {
    running_.push_back({response_id, {}});
    return false;
  }
  running_.push_back({response_id, std::move(pending_.front().lease)});
  pending_.erase(pending_.begin());
  return true;
}

bool response_slots::adopt(const std::string& response_id, std::string lease) {
  for (auto& r : running_)
    if (r.response_id == response_id && r.lease.empty()) {
      r.lease = std::move(lease);
      return true;
    }
  return false;
}

void response_slots::forget(const std::string& response_id) {
  running_.erase(std::remove_if(running_.begin(), running_.end(),
                                [&](const running& r) {
                                  return r.response_id == response_id && r.lease.empty();
                                }),
                 running_.end());
}

std::string response_slots::done(const std::string& response_id) {
  for (auto r = running_.begin(); r != running_.end(); ++r)
    if (r->response_id == response_id) {
      auto lease = std::move(r->lease);
      running_.erase(r);
      return lease;
    }
  return {};
}

std::string response_slots::refused(const std::string& event_id) {
  if (event_id.empty()) return {};
  for (auto p = pending_.begin(); p != pending_.end(); ++p)
    if (p->event_id == event_id) {
      auto lease = std::move(p->lease);
      pending_.erase(p);
      return lease;
    }
  return {};
}

std::vector<std::string> response_slots::take_all() {
  std::vector<std::string> all;
  for (auto& p : pending_) all.push_back(std::move(p.lease));
  for (auto& r : running_)
    if (!r.lease.empty()) all.push_back(std::move(r.lease));
  pending_.clear();
  running_.clear();
  return all;
}

bool response_slots::unadmitted(const std::string& response_id) const {
  return std::any_of(running_.begin(), running_.end(), [&](const running& r) {
    return r.response_id == response_id && r.lease.empty();
  });
}

}  // namespace usher::actors::gateway

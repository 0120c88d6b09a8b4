#include "actors/http/request_fields.hpp"

#include "policies/rate_limit_gate.hpp"

#include <nlohmann/json.hpp>

namespace usher::actors::http {

namespace {

// The SAX events of nlohmann::json::sax_parse: records the asked-for
// members of the outermost object.
class member_reader {
 public:
  member_reader(const std::string_view* names, json_member* out, std::size_t n)
      : names_(names), out_(out), n_(n) {}

  json_read result() const {
    if (malformed_) return json_read::malformed;
    return object_ ? json_read::ok : json_read::not_object;
  }

  bool null() {
    return set([](json_member& m) { m.is = json_member::type::null; });
  }
  bool boolean(bool) { return other(); }
  bool number_integer(std::int64_t v) {
    return set([v](json_member& m) {
      m.is = json_member::type::integer;
      m.number = v;
    });
  }
  bool number_unsigned(std::uint64_t v) {
    if (v > static_cast<std::uint64_t>(INT64_MAX)) return other();
    return number_integer(static_cast<std::int64_t>(v));
  }
  bool number_float(double, const std::string&) { return other(); }
  bool string(std::string& v) {
    return set([&v](json_member& m) {
      m.is = json_member::type::string;
      m.text = std::move(v);
    });
  }
  bool binary(nlohmann::json::binary_t&) { return other(); }
  bool start_object(std::size_t) {
    if (depth_ == 0)
      object_ = true;
    else
      other();
    ++depth_;
    return true;
  }
  bool start_array(std::size_t) {
    if (depth_ > 0) other();
    ++depth_;
    return true;
  }
  bool end_object() { return end(); }
  bool end_array() { return end(); }
  bool key(std::string& k) {
    if (depth_ != 1) return true;
    current_ = nullptr;
    for (std::size_t i = 0; i < n_; ++i)
      if (names_[i] == k) current_ = &out_[i];
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) {
    malformed_ = true;
    return false;
  }

 private:
  // A value: kept when it is a member asked for, directly in the outermost object.
  template <class F>
  bool set(F assign) {
    if (depth_ == 1 && current_) assign(*current_);
    if (depth_ == 1) current_ = nullptr;
    return true;
  }
  bool other() {
    return set([](json_member& m) { m.is = json_member::type::other; });
  }
  bool end() {
    --depth_;
    if (depth_ == 1) current_ = nullptr;
    return true;
  }

  const std::string_view* names_;
  json_member* out_;
  std::size_t n_;
  json_member* current_ = nullptr;  ///< the member whose value comes next
  int depth_ = 0;
  bool object_ = false;
  bool malformed_ = false;
};

// An optional integer member from `lo` to `hi` into `out` (absent or null:
// `out` stays as it is). Returns the error message, or "".
template <class T>
std::string take_integer(const json_member& m, const char* name, std::int64_t lo, std::int64_t hi,
                         T& out) {
  if (m.is == json_member::type::absent || m.is == json_member::type::null) return "";
  if (m.is != json_member::type::integer || m.number < lo || m.number > hi)
    return std::string("'") + name + "' must be an integer from " + std::to_string(lo) + " to " +
           std::to_string(hi);
  out = static_cast<T>(m.number);
  return "";
}

}  // namespace

json_read read_members(std::string_view text, const std::string_view* names, json_member* out,
                       std::size_t n) {
  member_reader reader(names, out, n);
  nlohmann::json::sax_parse(text, &reader);
  return reader.result();
}

std::string take_admit_fields(json_member& model, json_member& product, const json_member& cost,
                              admit_request& msg, const char** field) {
  auto at_fault = [field](const char* name) {
    if (field) *field = name;
  };
  auto text = [&](json_member& m, const char* name, std::string& out) -> std::string {
    if (m.is == json_member::type::absent || m.is == json_member::type::null) return "";
    if (m.is != json_member::type::string || m.text.size() > max_name) {
      at_fault(name);
      return std::string("'") + name + "' must be a string of at most " + std::to_string(max_name) +
             " bytes";
    }
    out = std::move(m.text);
    return "";
  };
  if (auto e = text(model, "model", msg.model); !e.empty()) return e;
  if (auto e = text(product, "product", msg.product); !e.empty()) return e;
  if (auto e = take_integer(cost, "cost", 1, max_cost, msg.cost); !e.empty()) {
    at_fault("cost");
    return e;
  }
  return "";
}

std::string take_priority(const json_member& priority, admit_request& msg) {
  return take_integer(priority, "priority", 0, policies::max_priority, msg.priority);
}

std::string take_tokens(const json_member& tokens, admit_request& msg) {
  return take_integer(tokens, "tokens", 0, policies::max_request_tokens, msg.tokens);
}

std::string take_output_tokens(const json_member& output_tokens, lease_request& msg) {
  return take_integer(output_tokens, "output_tokens", 0, policies::max_request_tokens, msg.output_tokens);
}

}  // namespace usher::actors::http

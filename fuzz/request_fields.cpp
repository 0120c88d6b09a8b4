/// Fuzz target: the JSON field reader of POST /v1/admit bodies and WebSocket
/// request frames (actors/http/request_fields.hpp: read_members, a SAX
/// reader, then take_admit_fields), on the input as the JSON text.
///
/// Oracles beyond "no crash, no leak, no UB":
///  - read_members agrees with a full nlohmann DOM parse of the same text:
///    malformed exactly when the DOM refuses it, not_object exactly when the
///    DOM is not an object, and otherwise every asked-for member has the
///    DOM's type and value (the last of a repeated name);
///  - take_admit_fields accepts exactly the fields docs/SERVE.md allows
///    (strings of at most max_name bytes or null; cost an integer
///    1..max_cost or null), moves them into the message unchanged, and its
///    error message makes a valid JSON error object.

#include <nlohmann/json.hpp>

#include "actors/http/request_fields.hpp"
#include "actors/http/responses.hpp"
#include "fuzz/fuzz_support.hpp"

using namespace usher;
using namespace usher::actors::http;
using type = json_member::type;

namespace {

constexpr std::string_view names[] = {"type", "model", "product", "cost", "lease", "kind"};
constexpr std::size_t n_names = sizeof(names) / sizeof(names[0]);

// What read_members should have made of a DOM member.
json_member expected(const nlohmann::json& object, std::string_view name) {
  json_member m;
  auto i = object.find(std::string(name));
  if (i == object.end()) return m;
  if (i->is_null()) m.is = type::null;
  else if (i->is_string()) m.is = type::string, m.text = i->get<std::string>();
  else if (i->is_number_unsigned()) {
    auto v = i->get<std::uint64_t>();
    if (v > static_cast<std::uint64_t>(INT64_MAX)) m.is = type::other;
    else m.is = type::integer, m.number = static_cast<std::int64_t>(v);
  } else if (i->is_number_integer()) m.is = type::integer, m.number = i->get<std::int64_t>();
  else m.is = type::other;
  return m;
}

bool same(const json_member& a, const json_member& b) {
  if (a.is != b.is) return false;
  if (a.is == type::string) return a.text == b.text;
  if (a.is == type::integer) return a.number == b.number;
  return true;
}

bool good_name(const json_member& m) {
  return m.is == type::absent || m.is == type::null ||
         (m.is == type::string && m.text.size() <= max_name);
}

bool good_cost(const json_member& m) {
  return m.is == type::absent || m.is == type::null ||
         (m.is == type::integer && m.number >= 1 && m.number <= max_cost);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  json_member got[n_names];
  auto status = read_members(text, names, got, n_names);

  auto dom = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (dom.is_discarded()) {
    if (status != json_read::malformed) fuzz::fail("the DOM refuses what read_members accepts");
    return 0;
  }
  if (!dom.is_object()) {
    if (status != json_read::not_object) fuzz::fail("a non-object not reported as such");
    return 0;
  }
  if (status != json_read::ok) fuzz::fail("an object the DOM accepts is refused");
  for (std::size_t i = 0; i < n_names; ++i)
    if (!same(got[i], expected(dom, names[i])))
      fuzz::fail("member differs from the DOM", std::string(names[i]));

  // names: type, model, product, cost, ...
  json_member model = got[1], product = got[2], cost = got[3];
  actors::admit_request msg;
  auto error = take_admit_fields(model, product, cost, msg);
  bool good = good_name(got[1]) && good_name(got[2]) && good_cost(got[3]);
  if (good != error.empty()) fuzz::fail("take_admit_fields disagrees with the rules", error);
  if (good) {
    auto text_of = [](const json_member& m) { return m.is == type::string ? m.text : ""; };
    if (msg.model != text_of(got[1]) || msg.product != text_of(got[2]))
      fuzz::fail("a name changed on its way into the message");
    if (msg.cost != (got[3].is == type::integer ? got[3].number : -1))
      fuzz::fail("the cost changed on its way into the message");
  } else if (!nlohmann::json::accept(error_object("invalid_request", "invalid_field", error))) {
    fuzz::fail("the error object is not JSON", error);
  }
  return 0;
}

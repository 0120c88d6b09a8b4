/// Fuzz target: every JSON the edge builds from bytes a client chose
/// (actors/http/responses.hpp): append_json_string (paths, lease ids,
/// names), error_object / error_response (a 404 that repeats the path),
/// append_admitted_json, admission_response for a ticket, snapshot_json
/// (model names). The bug this guards against: a 404 repeated an invalid
/// UTF-8 path, nlohmann's dump threw on the I/O thread, and the node died.
///
/// Oracles beyond "no crash, no leak, no UB, no exception":
///  - every output parses as JSON (nlohmann, strict);
///  - a string that is valid UTF-8 comes back byte for byte;
///  - one that is not comes back as valid UTF-8 all the same.

#include <fuzzer/FuzzedDataProvider.h>

#include <nlohmann/json.hpp>

#include "actors/http/responses.hpp"
#include "fuzz/fuzz_support.hpp"

using namespace usher;
using namespace usher::actors::http;

namespace {

// RFC 3629 UTF-8, written apart from responses.cpp's own check on purpose.
bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) n = 1, cp = c;
    else if ((c & 0xE0) == 0xC0) n = 2, cp = c & 0x1F;
    else if ((c & 0xF0) == 0xE0) n = 3, cp = c & 0x0F;
    else if ((c & 0xF8) == 0xF0) n = 4, cp = c & 0x07;
    else return false;
    if (i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k) {
      auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    static const std::uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < least[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n;
  }
  return true;
}

nlohmann::json parse(const std::string& json, const char* what) {
  auto j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) fuzz::fail(std::string(what) + ": not JSON", json);
  return j;
}

// The string `json` holds came from `original`: equal when that was valid
// UTF-8, valid UTF-8 in any case.
void check_string(const nlohmann::json& j, const std::string& original, const char* what) {
  if (!j.is_string()) fuzz::fail(std::string(what) + ": not a string");
  auto back = j.get<std::string>();
  if (!valid_utf8(back)) fuzz::fail(std::string(what) + ": invalid UTF-8 out");
  if (valid_utf8(original) && back != original)
    fuzz::fail(std::string(what) + ": valid UTF-8 changed on the way");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string whole(reinterpret_cast<const char*>(data), size);
  {
    std::string out;
    append_json_string(whole, out);
    check_string(parse(out, "append_json_string"), whole, "append_json_string");
  }
  FuzzedDataProvider in(data, size);
  auto a = in.ConsumeRandomLengthString(256);
  auto b = in.ConsumeRandomLengthString(256);
  auto c = in.ConsumeRemainingBytesAsString();
  try {
    auto e = parse(error_object(a, b, c), "error_object");
    check_string(e["type"], a, "error type");
    check_string(e["code"], b, "error code");
    check_string(e["message"], c, "error message");

    auto res = error_response(404, "not_found", "not_found", "No route for " + whole, 11, true);
    parse(res.body(), "error_response")["error"]["message"];

    actors::admit_reply r;
    r.lease = a;
    r.waited_us = static_cast<std::int64_t>(b.size()) * 1000;
    std::string admitted;
    append_admitted_json(r, admitted);
    check_string(parse(admitted, "append_admitted_json")["lease"], a, "lease");

    r.code = 202;
    r.ticket = b;
    check_string(parse(admission_response(r, 11, true).body(), "ticket")["ticket"], b, "ticket");

    actors::concurrency_snapshot s;
    s.limit = static_cast<std::int64_t>(size) - 3;
    s.requests.push_back({a, 1, b, 0, 0});
    s.requests.push_back({c, 2, whole, 1, 1});
    auto snap = parse(snapshot_json(s), "snapshot_json");
    check_string(snap["requests"][0]["id"], a, "snapshot id");
    check_string(snap["requests"][1]["model"], whole, "snapshot model");
  } catch (const std::exception& e) {
    fuzz::fail("an exception building JSON", e.what());
  }
  return 0;
}

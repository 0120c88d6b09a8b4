/// Fuzz target: what the gateway reads from realtime frames
/// (actors/gateway/realtime_events.hpp), on the input as one frame, and the
/// slot bookkeeping of a session driven by the input's bytes.
///
/// Oracles beyond "no crash, no leak, no UB":
///  - read_realtime_event agrees with a full nlohmann DOM parse: it reads
///    exactly the JSON objects, and type, event_id and error.event_id are
///    the DOM's strings (the last of a repeated name), response_id is
///    response.id or response_id when only one of them is there;
///  - with_event_id on an object makes a valid object whose event_id is the
///    one given and whose other members are unchanged;
///  - response_slots never returns a slot twice, nor one it was not given,
///    and take_all returns exactly the slots given and not yet returned;
///  - output_token_count (the tokens of an answer the gateway relays) reads
///    the same count whatever pieces the bytes come in (whole, byte by byte,
///    cut where the input's own bytes say), and, as an SSE stream with no
///    usage key in it, the count of a line-by-line reference: lines starting
///    `data:`, less those whose value (after spaces) starts `[DONE]`.

#include <nlohmann/json.hpp>
#include <set>

#include "actors/gateway/output_tokens.hpp"
#include "actors/gateway/realtime_events.hpp"
#include "fuzz/fuzz_support.hpp"

using namespace usher;
using namespace usher::actors::gateway;
using nlohmann::json;

namespace {

std::string string_at(const json& object, const char* name) {
  auto i = object.find(name);
  return i != object.end() && i->is_string() ? i->get<std::string>() : std::string();
}

void check_reader(std::string_view text) {
  realtime_event e;
  bool read = read_realtime_event(text, e);
  auto dom = json::parse(text.begin(), text.end(), nullptr, false);
  if (read != (!dom.is_discarded() && dom.is_object()))
    fuzz::fail("read_realtime_event and the DOM disagree on what is an object");
  if (!read) return;
  if (e.type != string_at(dom, "type")) fuzz::fail("type differs from the DOM", e.type);
  if (e.event_id != string_at(dom, "event_id")) fuzz::fail("event_id differs", e.event_id);
  auto error = dom.find("error");
  auto error_event = error != dom.end() && error->is_object() ? string_at(*error, "event_id") : "";
  if (e.error_event_id != error_event) fuzz::fail("error.event_id differs", e.error_event_id);
  auto response = dom.find("response");
  bool nested = response != dom.end();
  bool top = dom.contains("response_id");
  if (nested != top) {
    auto expected = nested ? (response->is_object() ? string_at(*response, "id") : "")
                           : string_at(dom, "response_id");
    if (e.response_id != expected) fuzz::fail("response_id differs", e.response_id);
  }

  auto with = with_event_id(text, "usher_\"7");
  auto stamped = json::parse(with, nullptr, false);
  if (stamped.is_discarded() || !stamped.is_object())
    fuzz::fail("with_event_id broke the frame", with);
  // The new member comes first: a repeated event_id of the client's, later
  // in the text, wins, exactly as the model server will read it.
  auto expected = dom;
  if (!dom.contains("event_id")) expected["event_id"] = "usher_\"7";
  if (stamped != expected) fuzz::fail("with_event_id changed other members", with);
}

// Bytes as operations on one session's slots, checked against a model.
void check_slots(const std::uint8_t* data, std::size_t size) {
  response_slots slots;
  std::set<std::string> out;  // given, not returned
  int next = 0;
  auto returned = [&](const std::string& lease) {
    if (lease.empty()) return;
    if (!out.erase(lease)) fuzz::fail("a slot returned twice or never given", lease);
  };
  for (std::size_t i = 0; i + 1 < size; i += 2) {
    auto id = std::to_string(data[i + 1] % 4);
    switch (data[i] % 6) {
      case 0: {
        auto lease = "L" + std::to_string(next++);
        out.insert(lease);
        slots.asked(lease, "e" + id);
        break;
      }
      case 1: slots.created("r" + id); break;
      case 2: returned(slots.done("r" + id)); break;
      case 3: returned(slots.refused("e" + id)); break;
      case 4: {
        auto lease = "L" + std::to_string(next++);
        if (slots.adopt("r" + id, lease)) out.insert(lease);  // else the caller frees it
        break;
      }
      case 5: slots.forget("r" + id); break;
    }
  }
  // forget() drops a running response's slot from the bookkeeping only when
  // it had none (a refused server response); a held one is never forgotten
  // by the session, so every slot given comes back from take_all.
  auto all = slots.take_all();
  std::set<std::string> back(all.begin(), all.end());
  if (back.size() != all.size()) fuzz::fail("take_all returned a slot twice");
  if (back != out) fuzz::fail("take_all lost or invented a slot");
  if (slots.size() != 0) fuzz::fail("slots left after take_all");
}

void check_token_count(std::string_view text, bool event_stream) {
  output_token_count whole(event_stream), bytes(event_stream), cut(event_stream);
  whole.feed(text.data(), text.size());
  for (char c : text) bytes.feed(&c, 1);
  for (std::size_t at = 0; at < text.size();) {
    std::size_t n = std::min<std::size_t>(text.size() - at, 1 + static_cast<unsigned char>(text[at]) % 13);
    cut.feed(text.data() + at, n);
    at += n;
  }
  if (whole.tokens() != bytes.tokens() || whole.tokens() != cut.tokens())
    fuzz::fail("output_token_count depends on the pieces", std::to_string(whole.tokens()) + " " +
                                                              std::to_string(bytes.tokens()) + " " +
                                                              std::to_string(cut.tokens()));
  if (!event_stream || text.find("\"completion_tokens\"") != std::string_view::npos ||
      text.find("\"output_tokens\"") != std::string_view::npos)
    return;
  std::uint32_t events = 0;
  for (std::size_t at = 0; at <= text.size();) {
    auto end = std::min(text.find('\n', at), text.size());
    auto line = text.substr(at, end - at);
    if (line.substr(0, 5) == "data:") {
      auto value = line.substr(5);
      value.remove_prefix(std::min(value.find_first_not_of(' '), value.size()));
      if (value.substr(0, 6) != "[DONE]") ++events;
    }
    at = end + 1;
  }
  if (whole.tokens() != events)
    fuzz::fail("output_token_count differs from the line-by-line count",
               std::to_string(whole.tokens()) + " != " + std::to_string(events));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  check_reader(std::string_view(reinterpret_cast<const char*>(data), size));
  check_slots(data, size);
  check_token_count(std::string_view(reinterpret_cast<const char*>(data), size), true);
  check_token_count(std::string_view(reinterpret_cast<const char*>(data), size), false);
  return 0;
}

/// `usher mock-model`: an OpenAI-compatible model server stand-in, the
/// upstream that the gateway proxies to in tests, in the docs' quick start and
/// in benchmarks (docs/GATEWAY.md). It answers the OpenAI routes with made-up
/// tokens at a set pace, injects faults on demand (a `mock` object in the
/// body, or X-Mock-* headers) and counts what it saw (GET /_stats).
///
/// One io_context; each connection keeps a read open on its socket for its
/// whole life, so a client that leaves is seen at once, even mid-stall, and
/// its answer stops and frees everything.

#include <poll.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/program_options.hpp>
#include <charconv>
#include <chrono>
#include <cmath>
#include <ctime>
#include <deque>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "actors/gateway/realtime_events.hpp"
#include "tools/command_line.hpp"
#include "tools/commands.hpp"

namespace usher::tools {

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace po = boost::program_options;
using tcp = net::ip::tcp;
using json = nlohmann::json;
using steady = std::chrono::steady_clock;

constexpr std::size_t max_body_bytes = 32u << 20;
// A client may send its next request while one is answered; more than a
// whole request's worth buffered meanwhile is abuse, not pipelining.
constexpr std::size_t max_buffered_while_answering = max_body_bytes + (1u << 20);
constexpr long max_tokens_per_answer = 100000;
constexpr long max_delay_ms = 3600 * 1000;
constexpr std::size_t audio_bytes_per_token = 4096;
constexpr std::size_t max_authorizations_kept = 100;
constexpr std::size_t max_paths_kept = 1000;
constexpr std::size_t max_users_kept = 10000;

struct mock_options {
  std::string host = "127.0.0.1";
  unsigned short port = 8000;
  long tokens = 16;
  double tokens_per_s = 50;
  std::vector<std::string> models{"mock-model"};
  int threads = 1;
};

// Client text (models, users, Authorization values) may be any bytes: never
// let a dump throw inside a handler.
std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// A boolean field of `object`; false when absent or of another type (where
// json::value would throw).
bool flag(const json& object, const char* name) {
  auto it = object.find(name);
  return it != object.end() && it->is_boolean() && it->get<bool>();
}

// ---------------------------------------------------------------- stats

enum class outcome { completed, client_gone, dropped, cancelled };

struct counters {
  long in_flight = 0, max_in_flight = 0, requests = 0, completed = 0, client_gone = 0, dropped = 0;
  long cancelled = 0;  ///< realtime responses only: put() leaves it out

  void begin() {
    ++requests;
    max_in_flight = std::max(max_in_flight, ++in_flight);
  }
  void count(outcome o) {
    if (o == outcome::completed) ++completed;
    if (o == outcome::client_gone) ++client_gone;
    if (o == outcome::dropped) ++dropped;
    if (o == outcome::cancelled) ++cancelled;
  }
  void keep_only_in_flight() { *this = counters{in_flight, in_flight}; }
  void put(json& j) const {
    j["in_flight"] = in_flight;
    j["max_in_flight"] = max_in_flight;
    j["requests"] = requests;
    j["completed"] = completed;
    j["client_gone"] = client_gone;
    j["dropped"] = dropped;
  }
};

/// What GET /_stats shows. A mutex because --threads may be > 1; uncontended
/// it costs nothing next to a syscall.
///
/// A request is in flight from its begin() until its end, or until its
/// client is seen to have hung up, whichever comes first: each begin() first
/// asks the kernel (one poll()) which of the user's open requests' clients
/// have closed their connection. The event loop alone would see those
/// hang-ups in no fixed order with new requests on other connections (epoll
/// promises none), so a client that cancelled one request and then sent
/// another could be counted with both in flight at once, a moment that
/// never was. The outcome is still counted at the request's end.
class mock_stats {
 public:
  struct ticket {
    std::string user;
    unsigned epoch = 0;
    bool realtime_response = false;  ///< one response of a realtime session, not a request
    std::uint64_t id = 0;            ///< of a request: its entry among the open ones
  };

  /// `socket`: the request's connection (its hang-up ends it in flight);
  /// it stays open until the request's end().
  ticket begin(const std::string& user, const std::string& authorization, const std::string& path,
               int socket) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto key = users_.count(user) || users_.size() < max_users_kept ? user : "(other)";
    auto& open = open_[key];
    forget_hung_up(key, open);
    auto id = ++last_id_;
    open.emplace(id, socket);
    total_.begin();
    users_[key].begin();
    if (auto a = authorizations_.find(authorization); a != authorizations_.end())
      ++a->second;
    else if (authorizations_.size() < max_authorizations_kept)
      authorizations_[authorization] = 1;
    if (auto p = paths_.find(path); p != paths_.end())
      ++p->second;
    else if (paths_.size() < max_paths_kept)
      paths_[path] = 1;
    return {key, epoch_, false, id};
  }

  /// A response.create of a realtime session: counted apart, the session
  /// itself being the request.
  ticket begin_realtime_response() {
    std::lock_guard<std::mutex> lock(mutex_);
    realtime_.begin();
    return {"", epoch_, true};
  }

  void end(const ticket& t, outcome o) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (t.realtime_response) {
      --realtime_.in_flight;
      if (t.epoch == epoch_) realtime_.count(o);
      return;
    }
    auto open = open_.find(t.user);
    bool in_flight = open != open_.end() && open->second.erase(t.id) > 0;
    if (in_flight) {
      if (open->second.empty()) open_.erase(open);
      --total_.in_flight;
      --users_[t.user].in_flight;
    }
    // A request begun before a reset is still open, but its end belongs
    // to the counts that were zeroed.
    if (t.epoch != epoch_) return;
    total_.count(o);
    users_[t.user].count(o);
  }

  /// Zeroes the counts; in_flight stays what is open now.
  void reset() {
    std::lock_guard<std::mutex> lock(mutex_);
    ++epoch_;
    total_.keep_only_in_flight();
    realtime_.keep_only_in_flight();
    for (auto u = users_.begin(); u != users_.end();) {
      u->second.keep_only_in_flight();
      u = u->second.in_flight == 0 ? users_.erase(u) : std::next(u);
    }
    authorizations_.clear();
    paths_.clear();
  }

  std::string to_json() {
    std::lock_guard<std::mutex> lock(mutex_);
    json j = json::object();
    total_.put(j);
    j["authorizations"] = authorizations_;
    j["paths"] = paths_;
    json users = json::object();
    for (auto& [name, c] : users_) c.put(users[name]);
    j["users"] = std::move(users);
    json realtime = json::object();
    realtime_.put(realtime);
    realtime["cancelled"] = realtime_.cancelled;
    j["realtime_responses"] = std::move(realtime);
    return dump(j);
  }

 private:
  /// Takes the requests of `user` whose client closed its connection out of
  /// those in flight.
  void forget_hung_up(const std::string& user, std::unordered_map<std::uint64_t, int>& open) {
    if (open.empty()) return;
    std::vector<pollfd> sockets;
    std::vector<std::uint64_t> ids;
    sockets.reserve(open.size());
    ids.reserve(open.size());
    for (auto& [id, socket] : open) {
      sockets.push_back({socket, POLLRDHUP, 0});
      ids.push_back(id);
    }
    if (::poll(sockets.data(), sockets.size(), 0) <= 0) return;
    for (std::size_t i = 0; i < sockets.size(); ++i) {
      if ((sockets[i].revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) == 0) continue;
      open.erase(ids[i]);
      --total_.in_flight;
      --users_[user].in_flight;
    }
  }

  std::mutex mutex_;
  unsigned epoch_ = 0;
  std::uint64_t last_id_ = 0;
  /// The requests in flight of each user (key as in users_): id -> socket.
  std::unordered_map<std::string, std::unordered_map<std::uint64_t, int>> open_;
  counters total_, realtime_;
  std::unordered_map<std::string, counters> users_;
  std::map<std::string, long> authorizations_, paths_;
};

/// One request being answered: counted in flight from its creation until
/// finish(), or until destroyed unfinished (then the client is gone).
class in_flight_request {
 public:
  in_flight_request(mock_stats& stats, mock_stats::ticket t)
      : stats_(&stats), ticket_(std::move(t)) {}
  in_flight_request(in_flight_request&& o) noexcept
      : stats_(std::exchange(o.stats_, nullptr)), ticket_(std::move(o.ticket_)) {}
  in_flight_request& operator=(in_flight_request&&) = delete;
  ~in_flight_request() { finish(outcome::client_gone); }

  void finish(outcome o) {
    if (stats_) std::exchange(stats_, nullptr)->end(ticket_, o);
  }

 private:
  mock_stats* stats_;
  mock_stats::ticket ticket_;
};

struct shared_state {
  mock_options options;
  mock_stats stats;
  std::atomic<unsigned long> next_id{1};
};

// ---------------------------------------------------------------- faults

/// The `mock` object of a body, or X-Mock-* headers (the body wins).
struct fault_controls {
  int status = 0;
  std::optional<long> tokens;
  std::optional<double> tokens_per_s;
  long stall_after = -1, drop_after = -1, delay_ms = 0;
};

std::string check_pace(double per_s) {
  if (!(per_s == 0 || (per_s >= 0.001 && per_s <= 1e9)))
    return "tokens_per_s must be 0 (all at once) or between 0.001 and 1e9";
  return "";
}

// Sets one control from a JSON value; an error message, or "".
std::string set_fault(fault_controls& f, const std::string& name, const json& v) {
  auto integer = [&](long low, long high, long& out) -> std::string {
    if (!v.is_number_integer() || v.get<long long>() < low || v.get<long long>() > high)
      return "mock." + name + " must be an integer from " + std::to_string(low) + " to " +
             std::to_string(high);
    out = v.get<long>();
    return "";
  };
  long n = 0;
  std::string error;
  if (name == "status") {
    error = integer(400, 599, n);
    f.status = static_cast<int>(n);
  } else if (name == "tokens") {
    error = integer(0, max_tokens_per_answer, n);
    f.tokens = n;
  } else if (name == "tokens_per_s") {
    if (!v.is_number()) return "mock.tokens_per_s must be a number";
    error = check_pace(v.get<double>());
    f.tokens_per_s = v.get<double>();
  } else if (name == "stall_after") {
    error = integer(0, max_tokens_per_answer, f.stall_after);
  } else if (name == "drop_after") {
    error = integer(0, max_tokens_per_answer, f.drop_after);
  } else if (name == "delay_ms") {
    error = integer(0, max_delay_ms, f.delay_ms);
  } else {
    error = "unknown mock field " + dump(json(name)) +
            "; known: status, tokens, tokens_per_s, stall_after, drop_after, delay_ms";
  }
  return error;
}

template <class Fields>
std::string read_faults(const Fields& headers, const json* body, fault_controls& f) {
  static const std::pair<const char*, const char*> header_names[] = {
      {"X-Mock-Status", "status"},
      {"X-Mock-Tokens", "tokens"},
      {"X-Mock-Tokens-Per-S", "tokens_per_s"},
      {"X-Mock-Stall-After", "stall_after"},
      {"X-Mock-Drop-After", "drop_after"},
      {"X-Mock-Delay-Ms", "delay_ms"}};
  for (auto& [header, name] : header_names) {
    auto it = headers.find(header);
    if (it == headers.end()) continue;
    // A header is text: read it as the JSON number it stands for.
    auto value = json::parse(it->value().begin(), it->value().end(), nullptr, false);
    if (value.is_discarded() || !value.is_number())
      return std::string(header) + " must be a number";
    if (auto error = set_fault(f, name, value); !error.empty()) return error;
  }
  if (body != nullptr && body->is_object()) {
    auto mock = body->find("mock");
    if (mock != body->end()) {
      if (!mock->is_object()) return "mock must be an object";
      for (auto& [name, value] : mock->items())
        if (auto error = set_fault(f, name, value); !error.empty()) return error;
    }
  }
  return "";
}

// ---------------------------------------------------------------- answers

/// How an answer goes out: in the order head, opening, units (paced), tail.
/// A non-streamed answer is all tail (a whole HTTP response) after its
/// units' time; a stream's opening, units and tail are HTTP chunks.
struct answer {
  std::string head;
  std::string opening;
  std::size_t units = 0;
  std::function<void(std::size_t, std::string&)> unit;  ///< appends unit i; none: time only
  std::string tail;
  bool chunked = false;
  bool close_after = false;
  double per_s = 0;  ///< units per second; 0: all at once
  long stall_after = -1, drop_after = -1;

  // Progress.
  steady::time_point start;
  std::size_t sent = 0;
  bool head_sent = false;
  enum class state { going, stalled, dropping, finishing } now = state::going;

  steady::time_point due(std::size_t i) const {
    return start + std::chrono::nanoseconds(std::llround(static_cast<double>(i + 1) * 1e9 / per_s));
  }

  // Where a stall or drop fault cuts the answer short, and its state then;
  // {units + 1, going} when none does.
  std::pair<std::size_t, state> cut() const {
    std::size_t stop_at = units + 1;
    auto stop = state::going;
    if (stall_after >= 0 && static_cast<std::size_t>(stall_after) <= units)
      stop_at = static_cast<std::size_t>(stall_after), stop = state::stalled;
    if (drop_after >= 0 && static_cast<std::size_t>(drop_after) <= std::min(stop_at, units))
      stop_at = static_cast<std::size_t>(drop_after), stop = state::dropping;
    return {stop_at, stop};
  }

  // Appends the units due by `now`, up to the cut and `at_most` of them.
  void take_due(steady::time_point now, std::string& out,
                std::size_t at_most = static_cast<std::size_t>(-1)) {
    auto last = std::min(cut().first, units);
    for (; sent < last && at_most > 0 && (per_s == 0 || due(sent) <= now); ++sent, --at_most)
      if (unit) unit(sent, out);
  }
};

/// How the client's HTTP version and Connection header frame an answer.
struct framing {
  bool http11 = true;
  bool close = false;
};

std::string reason(int status) {
  auto r = http::obsolete_reason(http::int_to_status(static_cast<unsigned>(status)));
  return r == "<unknown-status>" ? "Status" : std::string(r);
}

// The status line and headers; `length` absent: a stream, chunked on
// HTTP/1.1, else ended by the close.
std::string response_head(int status, std::string_view content_type,
                          std::optional<std::size_t> length, framing f, unsigned long id,
                          std::string_view extra = "") {
  std::string h = "HTTP/1.1 " + std::to_string(status) + " " + reason(status) +
                  "\r\nServer: usher-mock-model\r\nContent-Type: ";
  h += content_type;
  h += "\r\nx-request-id: req_mock_" + std::to_string(id) + "\r\n";
  if (length)
    h += "Content-Length: " + std::to_string(*length) + "\r\n";
  else if (f.http11)
    h += "Transfer-Encoding: chunked\r\n";
  if (f.close || (!length && !f.http11)) h += "Connection: close\r\n";
  h += extra;
  h += "\r\n";
  return h;
}

std::string whole_response(int status, std::string_view content_type, const std::string& body,
                           framing f, unsigned long id) {
  return response_head(status, content_type, body.size(), f, id) + body;
}

std::string error_body(const std::string& message, const std::string& type, const json& code) {
  return dump(
      {{"error", {{"message", message}, {"type", type}, {"param", nullptr}, {"code", code}}}});
}

// The error OpenAI answers with `status`, roughly.
std::string status_error_body(int status) {
  std::string message = "mock failure: status " + std::to_string(status) + " on request";
  if (status == 429) return error_body(message, "requests", "rate_limit_exceeded");
  if (status == 401) return error_body(message, "invalid_request_error", "invalid_api_key");
  if (status >= 500) return error_body(message, "server_error", nullptr);
  return error_body(message, "invalid_request_error", nullptr);
}

answer immediate(std::string response, framing f) {
  answer a;
  a.tail = std::move(response);
  a.close_after = f.close;
  return a;
}

// The made-up text: token i of every answer.
const char* const words[] = {"mock",  "tokens", "flow", "from", "a",
                             "model", "that",   "is",   "not",  "there"};
constexpr std::size_t word_count = sizeof(words) / sizeof(words[0]);

std::string token_text(std::size_t i) {
  return (i == 0 ? "" : " ") + std::string(words[i % word_count]);
}

std::string answer_text(std::size_t n) {
  std::string text;
  for (std::size_t i = 0; i < n; ++i) text += token_text(i);
  return text;
}

// The token count of a prompt, roughly: its text's bytes over four.
long approx_tokens(const json& j) {
  std::size_t bytes = 0;
  std::function<void(const json&)> walk = [&](const json& v) {
    if (v.is_string())
      bytes += v.get_ref<const std::string&>().size();
    else if (v.is_number())
      bytes += 4;  // a token id
    else if (v.is_structured())
      for (auto& e : v) walk(e);
  };
  walk(j);
  return static_cast<long>((bytes + 3) / 4);
}

std::string chunk(const std::string& payload) {
  if (payload.empty()) return "";
  char size[20];
  auto r = std::to_chars(size, size + sizeof size, payload.size(), 16);
  std::string c(size, r.ptr);
  c += "\r\n";
  c += payload;
  c += "\r\n";
  return c;
}

std::string base64(std::string_view bytes) {
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) |
                 (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                 static_cast<unsigned char>(bytes[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += alphabet[(v >> s) & 63];
  }
  if (i < bytes.size()) {
    unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? alphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// A unit-length vector of 8 floats that depends only on `text`.
std::vector<float> embedding_of(const std::string& text) {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  std::vector<float> v(8);
  double norm = 0;
  for (auto& x : v) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    x = static_cast<float>(static_cast<double>(h % 20001) / 10000.0 - 1.0);
    norm += static_cast<double>(x) * x;
  }
  norm = norm > 0 ? std::sqrt(norm) : 1;
  for (auto& x : v) x = static_cast<float>(x / norm);
  return v;
}

/// The value of a multipart/form-data field, found leniently: the part whose
/// headers name it, up to the next boundary line. Empty when absent.
std::string form_field(std::string_view body, std::string_view name) {
  std::string marker = "name=\"" + std::string(name) + "\"";
  auto at = body.find(marker);
  if (at == std::string_view::npos) return "";
  auto start = body.find("\r\n\r\n", at);
  if (start == std::string_view::npos) return "";
  start += 4;
  auto end = body.find("\r\n--", start);
  return std::string(
      body.substr(start, end == std::string_view::npos ? body.size() - start : end - start));
}

// ---------------------------------------------------------------- requests

/// What every completion-like answer needs from its request.
struct completion_plan {
  unsigned long id = 0;
  long created = 0;
  std::string model_json;  ///< the model's name as a JSON string
  std::size_t tokens = 0;
  std::string finish_reason = "stop";
  long prompt_tokens = 0;
  bool stream = false;
  bool include_usage = false;
  double per_s = 0;
  framing frame;

  std::string usage_json(bool responses_api = false) const {
    auto n = static_cast<long>(tokens);
    if (responses_api)
      return dump({{"input_tokens", prompt_tokens},
                   {"output_tokens", n},
                   {"total_tokens", prompt_tokens + n}});
    return dump({{"prompt_tokens", prompt_tokens},
                 {"completion_tokens", n},
                 {"total_tokens", prompt_tokens + n}});
  }
};

std::string sse_head(const completion_plan& p) {
  return response_head(200, "text/event-stream", std::nullopt, p.frame, p.id,
                       "Cache-Control: no-cache\r\n");
}

answer paced_whole(const completion_plan& p, const std::string& body) {
  answer a = immediate(whole_response(200, "application/json", body, p.frame, p.id), p.frame);
  a.units = p.tokens;
  a.per_s = p.per_s;
  return a;
}

answer stream_answer(const completion_plan& p) {
  answer a;
  a.head = sse_head(p);
  a.units = p.tokens;
  a.per_s = p.per_s;
  a.chunked = p.frame.http11;
  a.close_after = p.frame.close || !p.frame.http11;
  return a;
}

answer chat_completion(const completion_plan& p) {
  auto common = "{\"id\":\"chatcmpl-mock-" + std::to_string(p.id) +
                "\",\"object\":\"chat.completion.chunk\",\"created\":" + std::to_string(p.created) +
                ",\"model\":" + p.model_json;
  if (!p.stream) {
    json body = {
        {"id", "chatcmpl-mock-" + std::to_string(p.id)},
        {"object", "chat.completion"},
        {"created", p.created},
        {"model", json::parse(p.model_json)},
        {"choices",
         {{{"index", 0},
           {"message",
            {{"role", "assistant"}, {"content", answer_text(p.tokens)}, {"refusal", nullptr}}},
           {"logprobs", nullptr},
           {"finish_reason", p.finish_reason}}}},
        {"usage", json::parse(p.usage_json())}};
    return paced_whole(p, dump(body));
  }
  answer a = stream_answer(p);
  auto prefix = "data: " + common + ",\"choices\":[{\"index\":0,\"delta\":{";
  a.unit = [prefix](std::size_t i, std::string& out) {
    out += prefix;
    if (i == 0) out += "\"role\":\"assistant\",";
    out += "\"content\":\"" + token_text(i) + "\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n";
  };
  a.tail = prefix + (p.tokens == 0 ? "\"role\":\"assistant\"" : "") +
           "},\"logprobs\":null,\"finish_reason\":\"" + p.finish_reason + "\"}]}\n\n";
  if (p.include_usage)
    a.tail += "data: " + common + ",\"choices\":[],\"usage\":" + p.usage_json() + "}\n\n";
  a.tail += "data: [DONE]\n\n";
  return a;
}

answer text_completion(const completion_plan& p) {
  auto common = "{\"id\":\"cmpl-mock-" + std::to_string(p.id) +
                "\",\"object\":\"text_completion\",\"created\":" + std::to_string(p.created) +
                ",\"model\":" + p.model_json;
  if (!p.stream) {
    auto body = common + ",\"choices\":[{\"text\":\"" + answer_text(p.tokens) +
                "\",\"index\":0,\"logprobs\":null,\"finish_reason\":\"" + p.finish_reason +
                "\"}],\"usage\":" + p.usage_json() + "}";
    return paced_whole(p, body);
  }
  answer a = stream_answer(p);
  auto prefix = "data: " + common + ",\"choices\":[{\"text\":\"";
  a.unit = [prefix](std::size_t i, std::string& out) {
    out +=
        prefix + token_text(i) + "\",\"index\":0,\"logprobs\":null,\"finish_reason\":null}]}\n\n";
  };
  a.tail = prefix + "\",\"index\":0,\"logprobs\":null,\"finish_reason\":\"" + p.finish_reason +
           "\"}]}\n\n";
  if (p.include_usage)
    a.tail += "data: " + common + ",\"choices\":[],\"usage\":" + p.usage_json() + "}\n\n";
  a.tail += "data: [DONE]\n\n";
  return a;
}

// The Responses API: the object, and its stream's events (the ones the SDKs'
// stream helpers need to assemble the text).
answer response_answer(const completion_plan& p) {
  auto id = std::to_string(p.id);
  bool cut = p.finish_reason == "length";
  auto response = [&](const std::string& status, const std::string& text, bool done) {
    json message = {{"type", "message"},
                    {"id", "msg_mock_" + id},
                    {"status", status},
                    {"role", "assistant"},
                    {"content", json::array()}};
    if (done)
      message["content"].push_back(
          {{"type", "output_text"}, {"text", text}, {"annotations", json::array()}});
    json r = {{"id", "resp_mock_" + id},
              {"object", "response"},
              {"created_at", p.created},
              {"status", status},
              {"model", json::parse(p.model_json)},
              {"output", done ? json::array({message}) : json::array()},
              {"usage", done ? json::parse(p.usage_json(true)) : json(nullptr)}};
    if (done && cut) r["incomplete_details"] = {{"reason", "max_output_tokens"}};
    return r;
  };
  auto final_status = cut ? "incomplete" : "completed";
  if (!p.stream) return paced_whole(p, dump(response(final_status, answer_text(p.tokens), true)));

  answer a = stream_answer(p);
  auto event = [](const std::string& name, json data) {
    return "event: " + name + "\ndata: " + dump(data) + "\n\n";
  };
  json item = {{"type", "message"},
               {"id", "msg_mock_" + id},
               {"status", "in_progress"},
               {"role", "assistant"},
               {"content", json::array()}};
  json part = {{"type", "output_text"}, {"text", ""}, {"annotations", json::array()}};
  a.opening = event("response.created", {{"type", "response.created"},
                                         {"sequence_number", 0},
                                         {"response", response("in_progress", "", false)}}) +
              event("response.output_item.added", {{"type", "response.output_item.added"},
                                                   {"sequence_number", 1},
                                                   {"output_index", 0},
                                                   {"item", item}}) +
              event("response.content_part.added", {{"type", "response.content_part.added"},
                                                    {"sequence_number", 2},
                                                    {"item_id", "msg_mock_" + id},
                                                    {"output_index", 0},
                                                    {"content_index", 0},
                                                    {"part", part}});
  a.unit = [id](std::size_t i, std::string& out) {
    out +=
        "event: response.output_text.delta\ndata: "
        "{\"type\":\"response.output_text.delta\",\"sequence_number\":" +
        std::to_string(i + 3) + ",\"item_id\":\"msg_mock_" + id +
        "\",\"output_index\":0,\"content_index\":0,\"delta\":\"" + token_text(i) +
        "\",\"logprobs\":[]}\n\n";
  };
  auto text = answer_text(p.tokens);
  auto done = response(final_status, text, true);
  part["text"] = text;
  item["status"] = "completed";
  item["content"] = json::array({part});
  long seq = static_cast<long>(p.tokens) + 3;
  a.tail = event("response.output_text.done", {{"type", "response.output_text.done"},
                                               {"sequence_number", seq++},
                                               {"item_id", "msg_mock_" + id},
                                               {"output_index", 0},
                                               {"content_index", 0},
                                               {"text", text},
                                               {"logprobs", json::array()}}) +
           event("response.content_part.done", {{"type", "response.content_part.done"},
                                                {"sequence_number", seq++},
                                                {"item_id", "msg_mock_" + id},
                                                {"output_index", 0},
                                                {"content_index", 0},
                                                {"part", part}}) +
           event("response.output_item.done", {{"type", "response.output_item.done"},
                                               {"sequence_number", seq++},
                                               {"output_index", 0},
                                               {"item", item}}) +
           event(cut ? "response.incomplete" : "response.completed",
                 {{"type", cut ? "response.incomplete" : "response.completed"},
                  {"sequence_number", seq++},
                  {"response", done}});
  return a;
}

// ---------------------------------------------------------------- WebSocket


// Deltas due at once (all at once, or a late timer) are queued this many at
// a time: a client that reads slowly does not get a whole answer buffered.
constexpr std::size_t max_deltas_queued = 64;

/// GET /v1/realtime: a subset of the OpenAI Realtime API. session.created on
/// accept (its model: the upgrade's ?model=); response.create streams
/// response.created, one response.output_text.delta per token at the pace
/// of the HTTP answers, then response.done; response.cancel ends it early;
/// session.update answers session.updated (a turn_detection of type
/// server_vad turns voice activity detection on); input_audio_buffer.append
/// is taken silently; input_audio_buffer.commit answers
/// input_audio_buffer.committed and, with server_vad on, begins a response
/// of the server's own (no response.create), as the end of a spoken turn
/// does on OpenAI's; any other text frame is echoed as {"type":"echo"}, a
/// binary one as the same bytes. One response at a time per session.
///
/// It reads all along (to see response.cancel and the client leave) while a
/// queue serializes its writes. Faults (X-Mock-* of the upgrade; a
/// response.create's `mock` object sets tokens, tokens_per_s, stall_after of
/// that response): delay_ms before the accept; stall_after = N: a response
/// stops after N deltas, never sends response.done, and the session sends
/// nothing more (it still reads, to see the client leave); drop_after = N:
/// the TCP connection closes once N frames after session.created are out (0:
/// right after it), whatever they were.
class realtime_session : public std::enable_shared_from_this<realtime_session> {
 public:
  realtime_session(tcp::socket&& socket, http::request<http::string_body>&& upgrade,
                   fault_controls faults, in_flight_request&& request, shared_state& state)
      : ws_(std::move(socket)),
        timer_(ws_.get_executor()),
        upgrade_(std::move(upgrade)),
        faults_(faults),
        request_(std::move(request)),
        state_(state) {
    auto target = std::string_view(upgrade_.target().data(), upgrade_.target().size());
    model_ = actors::gateway::query_parameter(target, "model")
                 .value_or(state_.options.models.front());
    session_id_ = "sess_" + std::to_string(next_id());
  }

  void run() {
    ws_.read_message_max(max_body_bytes);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "usher-mock-model"); }));
    if (faults_.delay_ms == 0) return accept();
    timer_.expires_after(std::chrono::milliseconds(faults_.delay_ms));
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->accept();
    });
  }

 private:
  struct frame {
    std::string bytes;
    bool binary = false;
  };

  /// The response being streamed: its deltas are an answer's units.
  struct response {
    response(unsigned long n, in_flight_request&& r)
        : id("resp_" + std::to_string(n)),
          item_id("item_" + std::to_string(n)),
          counted(std::move(r)) {}
    std::string id, item_id;
    answer pace;
    in_flight_request counted;
  };

  unsigned long next_id() { return state_.next_id.fetch_add(1, std::memory_order_relaxed); }
  std::string event_id() { return "event_" + std::to_string(next_id()); }

  json session_json() const {
    return {{"id", session_id_}, {"object", "realtime.session"}, {"model", model_}};
  }

  void accept() {
    ws_.async_accept(upgrade_, [self = shared_from_this()](beast::error_code ec) {
      if (ec) return self->request_.finish(outcome::client_gone);
      self->send(dump({{"type", "session.created"},
                       {"event_id", self->event_id()},
                       {"session", self->session_json()}}));
      self->read();
    });
  }

  // -- reading

  void read() {
    reading_ = true;
    ws_.async_read(in_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->reading_ = false;
      self->on_read(ec);
    });
  }

  void on_read(beast::error_code ec) {
    if (closed_) return;
    // The client's close frame ends the session well; any other end is a
    // client gone.
    if (ec) return end(ec == websocket::error::closed ? outcome::completed : outcome::client_gone);
    auto text = beast::buffers_to_string(in_.data());
    in_.clear();
    if (!silent_) {
      if (ws_.got_binary())
        send(std::move(text), true);
      else
        on_event(text);
    }
    // A client that sends faster than it reads waits until its answers
    // drain (on_written reads again).
    if (outbox_bytes_ <= max_buffered_while_answering) read();
  }

  void on_event(const std::string& text) {
    auto event = json::parse(text, nullptr, false);
    std::string type;
    if (event.is_object())
      if (auto t = event.find("type"); t != event.end() && t->is_string()) type = *t;
    if (type == "response.create") return create_response(event);
    if (type == "response.cancel") return cancel_response(event);
    if (type == "input_audio_buffer.append") return;
    if (type == "input_audio_buffer.commit") {
      // Stands for the end of the user's turn: with server voice activity
      // detection on, the server begins a response on its own (no
      // response.create), as OpenAI's does.
      send(dump({{"type", "input_audio_buffer.committed"}, {"event_id", event_id()}}));
      if (server_vad_ && !response_) create_response(json::object());
      return;
    }
    if (type == "session.update") {
      auto asked = event.find("session");
      json session = asked != event.end() && asked->is_object() ? *asked : json::object();
      if (auto t = session.find("turn_detection"); t != session.end())
        server_vad_ = t->is_object() && t->value("type", "") == "server_vad";
      session.update(session_json());
      return send(dump({{"type", "session.updated"},
                        {"event_id", event_id()},
                        {"session", std::move(session)}}));
    }
    send(dump({{"type", "echo"}, {"data", text}}));
  }

  // An error event answering the client's `event`.
  void send_error(const json& event, const std::string& code, const std::string& message) {
    auto client_id = event.find("event_id");
    send(dump({{"type", "error"},
               {"event_id", event_id()},
               {"error",
                {{"type", "invalid_request_error"},
                 {"code", code},
                 {"message", message},
                 {"param", nullptr},
                 {"event_id", client_id != event.end() ? *client_id : json(nullptr)}}}}));
  }

  // -- responses

  void create_response(const json& event) {
    if (response_)
      return send_error(
          event, "conversation_already_has_active_response",
          "Conversation already has an active response in progress: " + response_->id +
              ". Wait until the response is finished before creating a new one.");
    fault_controls f;
    // The upgrade's X-Mock-* headers, then the event's own mock object.
    if (auto error = read_faults(upgrade_, &event, f); !error.empty())
      return send_error(event, "invalid_mock", error);
    if (auto mock = event.find("mock"); mock != event.end())
      for (auto name : {"status", "drop_after", "delay_ms"})
        if (mock->contains(name))
          return send_error(event, "invalid_mock",
                            std::string("mock.") + name +
                                " is the session's: send it as an X-Mock-* header of the upgrade");

    response_.emplace(next_id(),
                      in_flight_request(state_.stats, state_.stats.begin_realtime_response()));
    auto& a = response_->pace;
    a.units = static_cast<std::size_t>(f.tokens.value_or(state_.options.tokens));
    a.per_s = f.tokens_per_s.value_or(state_.options.tokens_per_s);
    a.stall_after = f.stall_after;
    a.start = steady::now();
    // Each delta is a frame of its own: straight to the queue.
    a.unit = [this, id = response_->id, item = response_->item_id](std::size_t i, std::string&) {
      send(dump({{"type", "response.output_text.delta"},
                 {"event_id", event_id()},
                 {"response_id", id},
                 {"item_id", item},
                 {"output_index", 0},
                 {"content_index", 0},
                 {"delta", token_text(i)}}));
    };
    send(dump(
        {{"type", "response.created"},
         {"event_id", event_id()},
         {"response",
          {{"id", response_->id}, {"object", "realtime.response"}, {"status", "in_progress"}}}}));
    tick();
  }

  void cancel_response(const json& event) {
    auto asked = event.find("response_id");
    bool other = asked != event.end() && !asked->is_null() && response_ && *asked != response_->id;
    if (!response_ || other)
      return send_error(event, "response_cancel_not_active",
                        "Cancellation failed: no active response found");
    timer_.cancel();
    tick_when_written_ = false;
    finish_response("cancelled", outcome::cancelled);
  }

  // Sends the deltas now due, then response.done, or waits for the next.
  void tick() {
    if (closed_ || silent_ || !response_) return;
    if (writing_) {
      tick_when_written_ = true;  // the client reads slowly: catch up after
      return;
    }
    auto& a = response_->pace;
    std::string unused;
    auto now = steady::now();
    a.take_due(now, unused, max_deltas_queued);
    if (a.sent == a.cut().first) {
      silent_ = true;  // stalled (drop_after is the session's: never set on the pace)
      return;
    }
    if (a.sent == a.units) return finish_response("completed", outcome::completed);
    if (a.per_s == 0 || a.due(a.sent) <= now)
      tick_when_written_ = true;  // a batch is queued: the rest after it
    else
      arm(a.due(a.sent));
  }

  void arm(steady::time_point when) {
    timer_.expires_at(when);
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->tick();
    });
  }

  void finish_response(const char* status, outcome o) {
    auto& r = *response_;
    json done = {{"id", r.id},
                 {"object", "realtime.response"},
                 {"status", status},
                 {"usage", {{"output_tokens", r.pace.sent}}}};
    if (o == outcome::cancelled)
      done["status_details"] = {{"type", "cancelled"}, {"reason", "client_cancelled"}};
    send(dump({{"type", "response.done"}, {"event_id", event_id()}, {"response", done}}));
    // Counted when queued: a client that read response.done sees it in /_stats.
    r.counted.finish(o);
    response_.reset();
  }

  // -- writing: one frame at a time, from the queue

  void send(std::string bytes, bool binary = false) {
    if (closed_ || silent_) return;
    outbox_bytes_ += bytes.size();
    outbox_.push_back({std::move(bytes), binary});
    if (!writing_) write_next();
  }

  void write_next() {
    writing_ = true;
    ws_.binary(outbox_.front().binary);
    ws_.async_write(net::buffer(outbox_.front().bytes),
                    [self = shared_from_this()](beast::error_code ec, std::size_t) {
                      self->writing_ = false;
                      self->on_written(ec);
                    });
  }

  void on_written(beast::error_code ec) {
    if (closed_) return;
    // Aborted: the stream already ended, and the pending read says how.
    if (ec == net::error::operation_aborted) return;
    if (ec) return end(outcome::client_gone);
    outbox_bytes_ -= outbox_.front().bytes.size();
    outbox_.pop_front();
    // session.created is frame 1: drop_after = N closes after N more.
    ++written_;
    if (faults_.drop_after >= 0 && written_ > faults_.drop_after)
      return end(outcome::dropped);  // which closes the connection
    if (!reading_ && outbox_bytes_ <= max_buffered_while_answering) read();
    if (!outbox_.empty()) return write_next();
    if (tick_when_written_) {
      tick_when_written_ = false;
      tick();
    }
  }

  // -- ending

  // The session is over; a response going on ends with it (a client's close
  // or loss mid-response is a client gone to the response).
  void end(outcome o) {
    if (closed_) return;
    closed_ = true;
    timer_.cancel();
    if (response_) response_->counted.finish(o == outcome::completed ? outcome::client_gone : o);
    request_.finish(o);
    if (o != outcome::completed) {
      beast::error_code ignored;
      beast::get_lowest_layer(ws_).close(ignored);
    }
  }

  websocket::stream<tcp::socket> ws_;
  net::steady_timer timer_;
  http::request<http::string_body> upgrade_;
  fault_controls faults_;
  in_flight_request request_;
  shared_state& state_;
  std::string model_, session_id_;
  beast::flat_buffer in_;
  std::deque<frame> outbox_;  ///< the front is being written
  std::size_t outbox_bytes_ = 0;
  std::optional<response> response_;
  bool server_vad_ = false;  ///< session.update turned server_vad on: a commit begins a response
  long written_ = 0;  ///< frames written, session.created included
  bool reading_ = false, writing_ = false, tick_when_written_ = false;
  bool silent_ = false;  ///< a response stalled: nothing more goes out
  bool closed_ = false;
};

// ---------------------------------------------------------------- HTTP

enum class route {
  unknown,
  chat,
  completions,
  embeddings,
  speech,
  transcriptions,
  responses,
  models,
  realtime
};

route route_of(http::verb method, std::string_view path) {
  if (method == http::verb::post) {
    if (path == "/v1/chat/completions") return route::chat;
    if (path == "/v1/completions") return route::completions;
    if (path == "/v1/embeddings") return route::embeddings;
    if (path == "/v1/audio/speech") return route::speech;
    if (path == "/v1/audio/transcriptions") return route::transcriptions;
    if (path == "/v1/responses") return route::responses;
  }
  if (method == http::verb::get) {
    if (path == "/v1/models") return route::models;
    if (path == "/v1/realtime") return route::realtime;
  }
  return route::unknown;
}

bool json_body(route r) {
  return r == route::chat || r == route::completions || r == route::embeddings ||
         r == route::speech || r == route::responses;
}

/// One client connection: reads requests (always keeping a read open),
/// answers them one at a time, paced by one timer.
class connection : public std::enable_shared_from_this<connection> {
 public:
  connection(tcp::socket&& socket, shared_state& state)
      : socket_(std::move(socket)), timer_(socket_.get_executor()), state_(state) {}

  void run() { read_more(); }

 private:
  // -- reading

  void read_more() {
    if (reading_ || closed_) return;
    reading_ = true;
    socket_.async_read_some(
        in_.prepare(32 * 1024),
        [self = shared_from_this()](beast::error_code ec, std::size_t n) { self->on_read(ec, n); });
  }

  void on_read(beast::error_code ec, std::size_t n) {
    reading_ = false;
    if (closed_) return;
    if (upgrade_) return upgrade_when_idle();
    if (ec) {
      // A client that read the whole answer may close before our last
      // write's completion runs: let that write say whether it got it all.
      if (writing_ && answer_) {
        peer_gone_ = true;
        return;
      }
      return gone();  // EOF or reset: mid-answer that is a client gone
    }
    in_.commit(n);
    if (closing_) {
      in_.consume(in_.size());
    } else if (answer_) {
      if (in_.size() > max_buffered_while_answering) return gone();
    } else {
      parse_buffered();
    }
    read_more();
  }

  void parse_buffered() {
    while (!answer_ && !closing_ && !closed_ && !upgrade_ && in_.size() > 0) {
      if (!parser_) {
        parser_.emplace();
        parser_->body_limit(max_body_bytes);
        parser_->eager(true);
        continue_sent_ = false;
      }
      beast::error_code ec;
      auto used = parser_->put(in_.data(), ec);
      in_.consume(used);
      if (ec == http::error::need_more) break;
      if (ec) {
        bool too_big = ec == http::error::body_limit;
        parser_.reset();
        return bad_request(too_big ? 413 : 400, too_big
                                                    ? "the request body is over 32 MiB"
                                                    : "malformed HTTP request: " + ec.message());
      }
      if (parser_->is_done()) {
        auto req = parser_->release();
        parser_.reset();
        handle(std::move(req));
      } else if (used == 0) {
        break;
      }
    }
    // curl waits a second for this before it sends a large body (uploads).
    if (parser_ && parser_->is_header_done() && !parser_->is_done() && !continue_sent_ &&
        !writing_ && beast::iequals(parser_->get()[http::field::expect], "100-continue")) {
      continue_sent_ = true;
      write("HTTP/1.1 100 Continue\r\n\r\n");
    }
    // A long-lived connection keeps no big upload's buffer.
    if (in_.size() == 0 && in_.capacity() > (256u << 10)) in_.shrink_to_fit();
  }

  // -- requests

  void bad_request(int status, const std::string& message) {
    framing f{true, true};
    start(immediate(
              whole_response(status, "application/json",
                             error_body(message, "invalid_request_error", nullptr), f, next_id()),
              f),
          0);
  }

  unsigned long next_id() { return state_.next_id.fetch_add(1, std::memory_order_relaxed); }

  void handle(http::request<http::string_body>&& req) {
    auto id = next_id();
    auto target = std::string_view(req.target().data(), req.target().size());
    auto path = std::string(target.substr(0, target.find('?')));
    framing f{req.version() >= 11, !req.keep_alive()};
    auto reply_json = [&](int status, const std::string& body) {
      return immediate(whole_response(status, "application/json", body, f, id), f);
    };
    // The control routes are not counted: polling them changes nothing.
    if (path == "/_stats" && req.method() == http::verb::get)
      return start(reply_json(200, state_.stats.to_json()), 0);
    if (path == "/_reset" && req.method() == http::verb::post) {
      state_.stats.reset();
      return start(reply_json(200, R"({"reset":true})"), 0);
    }

    auto r = route_of(req.method(), path);
    json body;
    bool body_ok = true;
    if (json_body(r)) {
      body = json::parse(req.body(), nullptr, false);
      body_ok = !body.is_discarded() && body.is_object();
    }
    std::string user = "-";
    if (body_ok && body.is_object() && body.contains("user") && body["user"].is_string())
      user = body["user"].get<std::string>();
    else if (r == route::transcriptions && !form_field(req.body(), "user").empty())
      user = form_field(req.body(), "user");
    else if (auto h = req.find("X-Mock-User"); h != req.end())
      user = std::string(h->value());
    auto authorization = std::string(req[http::field::authorization]);
    in_flight_request request(state_.stats,
                              state_.stats.begin(user, authorization, path, socket_.native_handle()));

    auto fail = [&](int status, const std::string& message, const json& code) {
      request_.emplace(std::move(request));
      start(reply_json(status, error_body(message, "invalid_request_error", code)), 0);
    };
    if (r == route::unknown)
      return fail(404, "Unknown request URL: " + std::string(req.method_string()) + " " + path,
                  "unknown_route");
    if (!body_ok)
      return fail(400, "We could not parse the JSON body of your request: expected a JSON object.",
                  nullptr);
    fault_controls faults;
    if (auto error = read_faults(req, body_ok && body.is_object() ? &body : nullptr, faults);
        !error.empty())
      return fail(400, error, "invalid_mock");
    if (faults.status != 0) {
      request_.emplace(std::move(request));
      return start(immediate(whole_response(faults.status, "application/json",
                                            status_error_body(faults.status), f, id),
                             f),
                   faults.delay_ms);
    }
    if (r == route::realtime) {
      if (!websocket::is_upgrade(req))
        return fail(426, "GET /v1/realtime needs a WebSocket upgrade", nullptr);
      upgrade_.emplace(std::move(req), faults, std::move(request));
      return upgrade_when_idle();
    }

    std::optional<answer> a;
    std::string problem = build_answer(r, req, body, faults, f, id, a);
    if (!problem.empty()) return fail(400, problem, nullptr);
    request_.emplace(std::move(request));
    a->stall_after = faults.stall_after;
    a->drop_after = faults.drop_after;
    start(std::move(*a), faults.delay_ms);
  }

  // The answer of a known route, or why the request is invalid.
  std::string build_answer(route r, const http::request<http::string_body>& req, const json& body,
                           const fault_controls& faults, framing f, unsigned long id,
                           std::optional<answer>& out) {
    auto& options = state_.options;
    completion_plan p;
    p.id = id;
    p.created = static_cast<long>(std::time(nullptr));
    auto model = body.is_object() ? body.find("model") : body.end();
    p.model_json = dump(body.is_object() && model != body.end() && model->is_string()
                            ? *model
                            : json(options.models.front()));
    p.stream = flag(body, "stream");
    p.per_s = faults.tokens_per_s.value_or(options.tokens_per_s);
    p.frame = f;
    long tokens = faults.tokens.value_or(options.tokens);
    // max_tokens sets the length, or caps an explicit mock.tokens (then the
    // answer ends for "length", as a model's would).
    for (auto name : {"max_tokens", "max_completion_tokens", "max_output_tokens"}) {
      if (!body.is_object() || !body.contains(name) || body[name].is_null()) continue;
      auto& v = body[name];
      if (!v.is_number_integer() || v.get<long long>() < 0)
        return std::string(name) + " must be a non-negative integer";
      long cap = static_cast<long>(std::min<long long>(v.get<long long>(), max_tokens_per_answer));
      if (!faults.tokens)
        tokens = cap;
      else if (cap < tokens)
        tokens = cap, p.finish_reason = "length";
    }
    p.tokens = static_cast<std::size_t>(tokens);
    if (auto o = body.find("stream_options"); o != body.end())
      p.include_usage = flag(*o, "include_usage");

    switch (r) {
      case route::chat:
        p.prompt_tokens = approx_tokens(body.value("messages", json()));
        out = chat_completion(p);
        break;
      case route::completions:
        p.prompt_tokens = approx_tokens(body.value("prompt", json()));
        out = text_completion(p);
        break;
      case route::responses:
        p.prompt_tokens = approx_tokens(body.value("input", json()));
        out = response_answer(p);
        break;
      case route::embeddings: {
        auto& input = body.contains("input") ? body["input"] : body;
        if (&input == &body || input.empty() || !(input.is_string() || input.is_array()))
          return "input must be a non-empty string or array";
        std::vector<std::string> texts;
        // A string, strings, or token ids: one list, or lists of them.
        if (input.is_array() && !input.empty() && !input[0].is_number())
          for (auto& e : input) texts.push_back(e.is_string() ? e.get<std::string>() : dump(e));
        else
          texts.push_back(input.is_string() ? input.get<std::string>() : dump(input));
        bool as_base64 = body.value("encoding_format", json("float")) == "base64";
        json data = json::array();
        for (std::size_t i = 0; i < texts.size(); ++i) {
          auto v = embedding_of(texts[i]);
          json e = {{"object", "embedding"}, {"index", i}};
          if (as_base64)
            e["embedding"] = base64(std::string_view(reinterpret_cast<const char*>(v.data()),
                                                     v.size() * sizeof(float)));
          else
            e["embedding"] = v;
          data.push_back(std::move(e));
        }
        auto prompt = approx_tokens(input);
        auto response = dump({{"object", "list"},
                              {"data", std::move(data)},
                              {"model", json::parse(p.model_json)},
                              {"usage", {{"prompt_tokens", prompt}, {"total_tokens", prompt}}}});
        out = immediate(whole_response(200, "application/json", response, f, id), f);
        break;
      }
      case route::speech: {
        p.tokens = static_cast<std::size_t>(faults.tokens.value_or(options.tokens));
        answer a = stream_answer(p);
        a.head = response_head(200, "audio/mpeg", std::nullopt, f, id);
        a.unit = [](std::size_t, std::string& o) {
          // An MPEG frame sync word, then silence: bytes a player would take.
          static const std::string block = [] {
            std::string b(audio_bytes_per_token, '\0');
            b[0] = '\xff', b[1] = '\xf3', b[2] = '\x44', b[3] = '\xc4';
            return b;
          }();
          o += block;
        };
        out = std::move(a);
        break;
      }
      case route::transcriptions: {
        p.tokens = static_cast<std::size_t>(faults.tokens.value_or(options.tokens));
        bool text = form_field(req.body(), "response_format") == "text";
        out = paced_whole(p, "");
        out->tail =
            text ? whole_response(200, "text/plain; charset=utf-8", "mock transcription", f, id)
                 : whole_response(200, "application/json", R"({"text":"mock transcription"})", f,
                                  id);
        break;
      }
      case route::models: {
        json data = json::array();
        for (auto& m : options.models)
          data.push_back({{"id", m}, {"object", "model"}, {"created", 0}, {"owned_by", "mock"}});
        out = immediate(whole_response(200, "application/json",
                                       dump({{"object", "list"}, {"data", data}}), f, id),
                        f);
        break;
      }
      default:
        return "unexpected route";
    }
    return "";
  }

  // -- answering

  void start(answer&& a, long delay_ms) {
    answer_.emplace(std::move(a));
    answer_->start = steady::now() + std::chrono::milliseconds(delay_ms);
    if (delay_ms > 0)
      arm(answer_->start);
    else
      tick();
  }

  void arm(steady::time_point when) {
    timer_.expires_at(when);
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->tick();
    });
  }

  // Sends what is due of the answer: everything at once, or the units whose
  // time has come (several, if the timer woke late), then waits for the next.
  void tick() {
    if (closed_ || !answer_) return;
    if (writing_) {
      tick_when_written_ = true;  // the client reads slowly: catch up after
      return;
    }
    auto& a = *answer_;
    auto now = steady::now();
    std::string out, payload;
    if (!a.head_sent) {
      out = std::move(a.head);
      payload = std::move(a.opening);
      a.head_sent = true;
    }
    auto [stop_at, stop] = a.cut();
    a.take_due(now, payload);
    bool finished = false;
    if (a.sent == stop_at) {
      a.now = stop;
    } else if (a.sent == a.units) {
      payload += a.tail;
      a.now = answer::state::finishing;
      finished = true;
    } else {
      arm(a.due(a.sent));
    }
    out += a.chunked ? chunk(payload) : payload;
    if (finished && a.chunked) out += "0\r\n\r\n";
    if (out.empty())
      after_write();
    else
      write(std::move(out));
  }

  void write(std::string bytes) {
    writing_ = true;
    out_ = std::move(bytes);
    net::async_write(socket_, net::buffer(out_),
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       self->writing_ = false;
                       if (self->closed_) return;
                       if (self->upgrade_) return self->upgrade_when_idle();
                       if (ec) return self->gone();
                       self->after_write();
                     });
  }

  void after_write() {
    if (peer_gone_ && !(answer_ && answer_->now == answer::state::finishing)) return gone();
    if (tick_when_written_) {
      tick_when_written_ = false;
      return tick();
    }
    if (!answer_) return parse_buffered();  // a 100 Continue went out
    if (answer_->now == answer::state::dropping) {
      if (request_) request_->finish(outcome::dropped);
      return close();
    }
    if (answer_->now != answer::state::finishing) return;
    bool close_after = answer_->close_after;
    answer_.reset();
    if (request_) request_->finish(outcome::completed);
    request_.reset();
    if (peer_gone_) return close();
    if (close_after) return close_gracefully();
    out_.clear();
    out_.shrink_to_fit();
    parse_buffered();  // a pipelined request may wait in the buffer
  }

  // -- ending

  // The client left (EOF, reset, failed write): mid-answer it is client_gone.
  void gone() {
    if (request_) request_->finish(outcome::client_gone);
    close();
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    request_.reset();  // before its socket closes: the stats poll it until then
    beast::error_code ignored;
    timer_.cancel();
    socket_.close(ignored);
  }

  // After "Connection: close": a FIN, then the client's bytes are read and
  // dropped until it closes too (a close with unread bytes would reset the
  // connection and could lose the answer's end), for 5 s at most.
  void close_gracefully() {
    closing_ = true;
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    timer_.expires_after(std::chrono::seconds(5));
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->close();
    });
  }

  // Hands the socket to a WebSocket session once no read or write of ours
  // is pending on it.
  void upgrade_when_idle() {
    if (reading_ || writing_) {
      beast::error_code ignored;
      socket_.cancel(ignored);
      return;
    }
    closed_ = true;  // this object is done; the socket moves on
    auto& u = *upgrade_;
    std::make_shared<realtime_session>(std::move(socket_), std::move(u.req), u.faults,
                                       std::move(u.request), state_)
        ->run();
    upgrade_.reset();
  }

  struct pending_upgrade {
    pending_upgrade(http::request<http::string_body>&& r, fault_controls f, in_flight_request&& q)
        : req(std::move(r)), faults(f), request(std::move(q)) {}
    http::request<http::string_body> req;
    fault_controls faults;
    in_flight_request request;
  };

  tcp::socket socket_;
  net::steady_timer timer_;
  shared_state& state_;
  beast::flat_buffer in_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<answer> answer_;
  std::optional<in_flight_request> request_;
  std::optional<pending_upgrade> upgrade_;
  std::string out_;
  bool reading_ = false, writing_ = false, tick_when_written_ = false;
  bool continue_sent_ = false, closing_ = false, closed_ = false;
  bool peer_gone_ = false;  ///< EOF seen while a write was pending
};

/// Accepts connections; on EMFILE and the like it waits a little instead of
/// spinning.
class listener : public std::enable_shared_from_this<listener> {
 public:
  listener(net::io_context& io, tcp::endpoint at, shared_state& state)
      : io_(io), acceptor_(io), retry_(io), state_(state) {
    acceptor_.open(at.protocol());
    acceptor_.set_option(net::socket_base::reuse_address(true));
    acceptor_.bind(at);
    acceptor_.listen(net::socket_base::max_listen_connections);
  }

  unsigned short port() const { return acceptor_.local_endpoint().port(); }

  void accept() {
    acceptor_.async_accept(
        net::make_strand(io_), [self = shared_from_this()](beast::error_code ec, tcp::socket s) {
          if (ec == net::error::operation_aborted) return;
          if (ec) {
            if (!self->warned_)
              std::cerr << "usher mock-model: accept: " << ec.message() << "; retrying\n";
            self->warned_ = true;
            self->retry_.expires_after(std::chrono::milliseconds(100));
            self->retry_.async_wait([self](beast::error_code e) {
              if (!e) self->accept();
            });
            return;
          }
          beast::error_code ignored;
          s.set_option(tcp::no_delay(true), ignored);  // tokens go out as they come
          std::make_shared<connection>(std::move(s), self->state_)->run();
          self->accept();
        });
  }

  void stop() {
    beast::error_code ignored;
    acceptor_.close(ignored);
    retry_.cancel();
  }

 private:
  net::io_context& io_;
  tcp::acceptor acceptor_;
  net::steady_timer retry_;
  shared_state& state_;
  bool warned_ = false;
};

// ---------------------------------------------------------------- options

tcp::endpoint parse_listen(const std::string& text, std::string& host) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0)
    throw po::error("--listen expects HOST:PORT, got " + text);
  host = text.substr(0, colon);
  auto port_text = text.substr(colon + 1);
  unsigned port = 0;
  auto r = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (r.ec != std::errc() || r.ptr != port_text.data() + port_text.size() || port > 65535)
    throw po::error("--listen: bad port in " + text);
  auto bare = host.size() > 2 && host.front() == '[' && host.back() == ']'
                  ? host.substr(1, host.size() - 2)
                  : host;
  beast::error_code ec;
  auto address = net::ip::make_address(bare, ec);
  if (ec) {
    net::io_context io;
    tcp::resolver resolver(io);
    auto found = resolver.resolve(bare, port_text, ec);
    if (ec || found.empty()) throw po::error("--listen: cannot resolve " + host);
    return found.begin()->endpoint();
  }
  return {address, static_cast<unsigned short>(port)};
}

std::vector<std::string> split_models(const std::string& text) {
  std::vector<std::string> models;
  std::size_t at = 0;
  while (at <= text.size()) {
    auto end = std::min(text.find(',', at), text.size());
    auto name = text.substr(at, end - at);
    name.erase(0, name.find_first_not_of(" \t"));
    name.erase(name.find_last_not_of(" \t") + 1);
    if (!name.empty()) models.push_back(name);
    at = end + 1;
  }
  return models;
}

// Long streams by the thousand need as many descriptors: take the hard limit.
void raise_open_file_limit() {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &r);
  }
}

}  // namespace

int mock_model_command(const std::vector<std::string>& args) {
  auto state = std::make_unique<shared_state>();
  auto& o = state->options;
  std::string listen = "127.0.0.1:8000", models = "mock-model";
  po::options_description desc(
      "usher mock-model [options]: an OpenAI-compatible model server stand-in for tests, demos "
      "and\n"
      "benchmarks (docs/GATEWAY.md). Faults per request: a \"mock\" object in the JSON body or\n"
      "X-Mock-* headers (status, tokens, tokens_per_s, stall_after, drop_after, delay_ms).\n"
      "GET /v1/realtime (WebSocket): a Realtime API subset (response.create streams paced\n"
      "output_text deltas, response.cancel, session.update; input_audio_buffer.commit begins a\n"
      "response itself after a session.update with turn_detection server_vad; other frames\n"
      "echoed).\n"
      "GET /_stats counts requests per user (in flight: begun, not ended, and the client still\n"
      "connected); POST /_reset zeroes it. Options");
  desc.add_options()("help,h", "show this help")("listen",
                                                 po::value(&listen)->default_value(listen),
                                                 "HOST:PORT to listen on (port 0: any free one)")(
      "tokens", po::value(&o.tokens)->default_value(o.tokens),
      "tokens in an answer unless the request says")(
      "tokens-per-s", po::value(&o.tokens_per_s)->default_value(o.tokens_per_s),
      "streaming pace (0: all at once); a whole answer comes after its tokens' time")(
      "models", po::value(&models)->default_value(models),
      "comma-separated models that GET /v1/models lists")(
      "threads", po::value(&o.threads)->default_value(o.threads), "I/O threads");
  po::variables_map vm;
  tcp::endpoint at;
  auto check = [&] {
    at = parse_listen(listen, o.host);
    o.port = at.port();
    if (o.tokens < 0 || o.tokens > max_tokens_per_answer)
      throw po::error("--tokens must be from 0 to 100000");
    if (auto error = check_pace(o.tokens_per_s); !error.empty())
      throw po::error("--" + error.replace(0, 12, "tokens-per-s"));
    o.models = split_models(models);
    if (o.models.empty()) throw po::error("--models names no model");
    if (o.threads < 1 || o.threads > 256) throw po::error("--threads must be from 1 to 256");
  };
  if (auto done = parse_options("mock-model", args, desc, vm, check)) return *done;

  return report_errors("mock-model", [&] {
    raise_open_file_limit();
    net::io_context io(o.threads);
    std::shared_ptr<listener> server;
    try {
      server = std::make_shared<listener>(io, at, *state);
    } catch (const boost::system::system_error& e) {
      std::cerr << "usher mock-model: cannot listen on " << listen << ": " << e.code().message()
                << "\n";
      return exit_failure;
    }
    server->accept();
    net::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](beast::error_code, int) {
      server->stop();
      io.stop();
    });
    std::cout << "listening on " << o.host << ":" << server->port() << std::endl;

    // A handler that throws ends its connection only, not the server.
    auto run = [&io] {
      for (;;) {
        try {
          io.run();
          return;
        } catch (const std::exception& e) {
          std::cerr << "usher mock-model: " << e.what() << "\n";
        }
      }
    };
    std::vector<std::thread> more;
    for (int i = 1; i < o.threads; ++i) more.emplace_back(run);
    run();
    for (auto& t : more) t.join();
    return exit_ok;
  });
}

}  // namespace usher::tools

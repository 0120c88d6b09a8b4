/// usher_gateway_bench: the load generator of the gateway benchmark (issue
/// #12; bench/gateway_bench.sh runs it, docs/PERFORMANCE.md "Gateway" records
/// it). N keep-alive clients on loopback send OpenAI chat completions, one
/// logical call at a time each, in one of three modes:
///
///   direct   POST /v1/chat/completions straight to the model server (the
///            `usher mock-model` stand-in): the baseline
///   gateway  the same request to usher's gateway with the account's key:
///            admitted, proxied, streamed back, slot freed at the answer's end
///   sidecar  what a provider does without the gateway: POST /v1/admit to
///            usher, the completion straight to the model server, then
///            DELETE /v1/leases/{id}: three requests, one logical call
///
/// The same io_context thread drives every client in every mode, so the modes
/// differ only by the path a call takes. By default the loop is closed (a
/// client starts its next call when the last one ends); with --rate R the
/// clients together start R calls per second on a fixed schedule (open loop),
/// and a call's times count from when it was due, so a slow answer is charged
/// for the calls it held up (no coordinated omission). A call due in the
/// measured window is made even when the schedule runs late, up to one more
/// window's time; what was still not started then is reported as `dropped`.
///
/// Per call: TTFB, to the first byte of the answer's body (sidecar: from the
/// admit's start), and total, to the answer's last byte; for the sidecar also
/// the whole call, its release included. Answers are read with Beast's parser
/// (chunked bodies included); anything but a 200 is counted in `non_200`, a
/// broken connection or a stream without its `data: [DONE]` in `errors` (the
/// connection is then opened again). --stream asks for `"stream": true` and
/// reads the SSE answer to its end. Prints one JSON line. Loopback only.
///
/// `--per-client K` ends each client after K calls (K = 1 with many clients:
/// hold that many streams open at once); stderr then says
/// "begun: all N clients have an answer under way" once every client has had
/// the first byte of an answer, for a script that measures what they hold.

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pacer.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;

namespace {

enum class mode { direct, gateway, sidecar };

struct options {
  mode m = mode::direct;
  std::string mode_name = "direct";
  std::uint16_t port = 0;           ///< usher (gateway, sidecar)
  std::uint16_t upstream_port = 0;  ///< the model server (direct, sidecar)
  int clients = 50;
  double seconds = 5;
  double warmup = 1;
  double rate = 0;  ///< calls per second over all clients; 0: closed loop
  bool stream = false;
  long per_client = 0;  ///< 0: no limit
  std::string key = "bench-key";
  std::string model = "mock-model";
};

struct stats {
  std::vector<std::int64_t> ttfb_us, total_us, call_us;
  std::int64_t calls = 0, errors = 0, non_200 = 0, dropped = 0;
  int clients_begun = 0;
  steady::time_point measure_from, measure_to, stop_at, last_end;
  bool measuring(steady::time_point t) const { return t >= measure_from && t < measure_to; }
};

std::int64_t micros(steady::duration d) {
  return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}

using usher::bench::pacer;

// One keep-alive connection: writes a request, reads its whole answer with
// Beast's parser, notes when the first byte of the body came. Reconnects
// before the next request after an error or a `Connection: close`.
class conn : public std::enable_shared_from_this<conn> {
 public:
  using done_fn = std::function<void(beast::error_code)>;

  conn(asio::io_context& io, std::uint16_t port)
      : sock_(io), ep_(asio::ip::make_address("127.0.0.1"), port) {}

  void call(const std::string& request, done_fn done) {
    if (sock_.is_open()) return write(request, std::move(done));
    sock_.async_connect(ep_, [self = shared_from_this(), &request, done = std::move(done)](
                                 beast::error_code ec) mutable {
      if (ec) return self->fail(ec, done);
      self->sock_.set_option(tcp::no_delay(true), ec);
      self->write(request, std::move(done));
    });
  }

  const bhttp::response<bhttp::string_body>& answer() const { return res_->get(); }
  std::function<void()> on_first_body;  ///< called when an answer's body begins
  steady::time_point first_body() const { return first_body_; }

 private:
  void write(const std::string& request, done_fn done) {
    asio::async_write(sock_, asio::buffer(request),
                      [self = shared_from_this(), done = std::move(done)](
                          beast::error_code ec, std::size_t) mutable {
                        if (ec) return self->fail(ec, done);
                        self->res_.emplace();
                        self->res_->body_limit(64u << 20);
                        self->got_body_ = false;
                        self->read(std::move(done));
                      });
  }

  void read(done_fn done) {
    bhttp::async_read_some(
        sock_, buf_, *res_,
        [self = shared_from_this(), done = std::move(done)](beast::error_code ec,
                                                            std::size_t) mutable {
          if (ec) return self->fail(ec, done);
          if (!self->got_body_ && !self->res_->get().body().empty()) {
            self->got_body_ = true;
            self->first_body_ = steady::now();
            if (self->on_first_body) self->on_first_body();
          }
          if (!self->res_->is_done()) return self->read(std::move(done));
          if (!self->got_body_) self->first_body_ = steady::now();  // an empty body
          if (!self->res_->get().keep_alive()) self->close();
          done({});
        });
  }

  void fail(beast::error_code ec, done_fn& done) {
    close();
    done(ec);
  }

  void close() {
    beast::error_code ignored;
    sock_.close(ignored);
    buf_.clear();
  }

  tcp::socket sock_;
  tcp::endpoint ep_;
  beast::flat_buffer buf_;
  std::optional<bhttp::response_parser<bhttp::string_body>> res_;
  bool got_body_ = false;
  steady::time_point first_body_;
};

std::string post(const std::string& target, const std::string& key, const std::string& body) {
  std::string r = "POST " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  if (!key.empty()) r += "Authorization: Bearer " + key + "\r\n";
  return r + "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

// One client: one logical call at a time. Requests are built once (only the
// release's lease id varies).
class client : public std::enable_shared_from_this<client> {
 public:
  client(asio::io_context& io, const options& o, stats& s, int index)
      : pace_(io, o.clients, o.rate, index), o_(o), s_(s) {
    std::string body = R"({"model":")" + o.model +
                       R"(","messages":[{"role":"user","content":"Say hi."}],"stream":)" +
                       (o.stream ? "true" : "false") + "}";
    if (o.m != mode::direct) usher_ = std::make_shared<conn>(io, o.port);
    if (o.m != mode::gateway) upstream_ = std::make_shared<conn>(io, o.upstream_port);
    completion_ = post("/v1/chat/completions", o.m == mode::gateway ? o.key : "", body);
    admit_ = post("/v1/admit", o.key, R"({"model":")" + o.model + R"("})");
    release_tail_ = " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + o.key + "\r\n\r\n";
  }

  void start() {
    auto main = o_.m == mode::gateway ? usher_ : upstream_;
    main->on_first_body = [w = weak_from_this()] {
      if (auto self = w.lock()) self->begin_once();
    };
    next();
  }

  void next() {
    if (o_.per_client > 0 && made_ >= o_.per_client) return;
    auto due = pace_.peek();
    if (pace_.open_loop()) {
      // Late calls of the window are still made (their wait counts), up to
      // the stop time; the rest are dropped, and said so.
      if (due >= s_.measure_to) return;
      if (steady::now() >= s_.stop_at) {
        for (; due < s_.measure_to; due = pace_.peek()) {
          pace_.skip();
          if (s_.measuring(due)) ++s_.dropped;
        }
        return;
      }
    } else if (due >= s_.measure_to) {
      return;
    }
    pace_.next([self = shared_from_this()](steady::time_point t) {
      self->t0_ = t;
      ++self->made_;
      if (self->o_.m == mode::sidecar) self->admit();
      else self->complete(self->o_.m == mode::gateway ? self->usher_ : self->upstream_);
    });
  }

 private:
  void admit() {
    usher_->call(admit_, [self = shared_from_this()](beast::error_code ec) {
      if (!self->ok(ec, *self->usher_)) return self->next();
      const auto& body = self->usher_->answer().body();
      auto at = body.find("\"lease\":\"");
      auto end = at == std::string::npos ? at : body.find('"', at + 9);
      if (end == std::string::npos) {
        ++self->s_.errors;
        return self->next();
      }
      self->release_.assign("DELETE /v1/leases/");
      self->release_.append(body, at + 9, end - at - 9);
      self->release_ += self->release_tail_;
      self->complete(self->upstream_);
    });
  }

  void complete(const std::shared_ptr<conn>& c) {
    c->call(completion_, [self = shared_from_this(), c](beast::error_code ec) {
      self->t_end_ = steady::now();
      self->t_first_ = c->first_body();
      bool good = self->ok(ec, *c);
      if (good && self->o_.stream && !done_marked(c->answer().body())) {
        ++self->s_.errors;
        good = false;
      }
      if (self->o_.m != mode::sidecar) {
        if (good) self->record(self->t_end_);
        return self->next();
      }
      // The lease is released even when the answer failed, as a provider's
      // gateway would.
      self->usher_->call(self->release_, [self, good](beast::error_code ec2) {
        if (self->ok(ec2, *self->usher_) && good) self->record(steady::now());
        self->next();
      });
    });
  }

  // Counts this client as begun at the first byte of its first answer (not
  // the admit's: for the sidecar, the completion's).
  void begin_once() {
    if (begun_) return;
    begun_ = true;
    if (++s_.clients_begun == o_.clients && o_.per_client > 0) {
      std::fprintf(stderr, "begun: all %d clients have an answer under way\n", o_.clients);
      std::fflush(stderr);
    }
  }

  static bool done_marked(const std::string& body) {
    auto at = body.rfind("data: [DONE]");
    return at != std::string::npos && body.size() - at <= 16;
  }

  bool ok(beast::error_code ec, const conn& c) {
    if (ec) {
      ++s_.errors;
      return false;
    }
    if (c.answer().result_int() != 200) {
      ++s_.non_200;
      return false;
    }
    return true;
  }

  void record(steady::time_point call_end) {
    s_.last_end = std::max(s_.last_end, call_end);
    if (!s_.measuring(t0_)) return;
    ++s_.calls;
    s_.ttfb_us.push_back(micros(t_first_ - t0_));
    s_.total_us.push_back(micros(t_end_ - t0_));
    s_.call_us.push_back(micros(call_end - t0_));
  }

  pacer pace_;
  const options& o_;
  stats& s_;
  std::shared_ptr<conn> usher_, upstream_;
  std::string completion_, admit_, release_tail_, release_;
  steady::time_point t0_, t_first_, t_end_;
  long made_ = 0;
  bool begun_ = false;
};

std::int64_t percentile(std::vector<std::int64_t>& v, double q) {
  if (v.empty()) return 0;
  auto k = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

int usage() {
  std::cerr << "usage: usher_gateway_bench --mode direct|gateway|sidecar [--port USHER_PORT] "
               "[--upstream-port MODEL_PORT] [--clients 50] [--seconds 5] [--warmup 1] "
               "[--rate CALLS_PER_S] [--stream] [--per-client K] [--key bench-key] "
               "[--model mock-model]\n"
               "  direct: needs --upstream-port; gateway: --port; sidecar: both\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    if (k == "--stream") {
      o.stream = true;
      continue;
    }
    if (i + 1 >= argc) return usage();
    std::string v = argv[++i];
    try {
      if (k == "--mode") o.mode_name = v;
      else if (k == "--port") o.port = static_cast<std::uint16_t>(std::stoi(v));
      else if (k == "--upstream-port") o.upstream_port = static_cast<std::uint16_t>(std::stoi(v));
      else if (k == "--clients") o.clients = std::stoi(v);
      else if (k == "--seconds") o.seconds = std::stod(v);
      else if (k == "--warmup") o.warmup = std::stod(v);
      else if (k == "--rate") o.rate = std::stod(v);
      else if (k == "--per-client") o.per_client = std::stol(v);
      else if (k == "--key") o.key = v;
      else if (k == "--model") o.model = v;
      else return usage();
    } catch (const std::exception&) {
      return usage();
    }
  }
  if (o.mode_name == "direct") o.m = mode::direct;
  else if (o.mode_name == "gateway") o.m = mode::gateway;
  else if (o.mode_name == "sidecar") o.m = mode::sidecar;
  else return usage();
  if ((o.m != mode::direct && o.port == 0) || (o.m != mode::gateway && o.upstream_port == 0) ||
      o.clients < 1 || o.seconds <= 0 || o.seconds > 300 || o.warmup < 0 || o.rate < 0) {
    std::cerr << "usher_gateway_bench: the mode's ports, clients >= 1, 0 < seconds <= 300\n";
    return usage();
  }

  asio::io_context io(1);
  stats s;
  auto start = steady::now();
  auto ms = [](double x) { return std::chrono::milliseconds(static_cast<long long>(x * 1000)); };
  s.measure_from = start + ms(o.warmup);
  s.measure_to = s.measure_from + ms(o.seconds);
  s.stop_at = s.measure_to + ms(o.seconds);
  s.last_end = s.measure_from;
  for (int c = 0; c < o.clients; ++c) std::make_shared<client>(io, o, s, c)->start();
  io.run();

  // The rate achieved: the calls due in the window over the time they took
  // (the window, or longer when the schedule ran late).
  double secs = std::max(o.seconds, std::chrono::duration<double>(s.last_end - s.measure_from).count());
  if (o.per_client > 0) secs = std::chrono::duration<double>(s.last_end - s.measure_from).count();
  auto p = [](std::vector<std::int64_t>& v, double q) {
    return static_cast<long long>(percentile(v, q));
  };
  std::printf(
      "{\"mode\":\"%s\",\"stream\":%s,\"clients\":%d,\"rate\":%.0f,\"seconds\":%.2f,"
      "\"calls\":%lld,\"requests_per_s\":%.0f,"
      "\"ttfb_p50_us\":%lld,\"ttfb_p99_us\":%lld,\"total_p50_us\":%lld,\"total_p99_us\":%lld,"
      "\"total_max_us\":%lld,\"call_p50_us\":%lld,\"call_p99_us\":%lld,"
      "\"errors\":%lld,\"non_200\":%lld,\"dropped\":%lld}\n",
      o.mode_name.c_str(), o.stream ? "true" : "false", o.clients, o.rate, secs,
      static_cast<long long>(s.calls), secs > 0 ? static_cast<double>(s.calls) / secs : 0.0,
      p(s.ttfb_us, 0.5), p(s.ttfb_us, 0.99), p(s.total_us, 0.5), p(s.total_us, 0.99),
      p(s.total_us, 1.0), p(s.call_us, 0.5), p(s.call_us, 0.99),
      static_cast<long long>(s.errors), static_cast<long long>(s.non_200),
      static_cast<long long>(s.dropped));
  return s.errors == 0 && s.non_200 == 0 && s.dropped == 0 ? 0 : 1;
}

/// usher_live_bench: the load generator of the live-node benchmark
/// (bench/live_bench.sh runs it; docs/PERFORMANCE.md records it). N
/// keep-alive clients on loopback each loop admit -> release as fast as the
/// target answers, for a fixed time after a warm-up, against one of:
///
///   usher  POST /v1/admit then DELETE /v1/leases/{id} on a `usher serve`
///   redis  the sorted-set concurrency limiter Stripe published, as a Lua
///          script: drop members older than the TTL, ZCARD against the limit,
///          ZADD the request scored by time; release is ZREM
///
/// One io_context thread drives every client of both targets the same way,
/// so the two numbers differ only by the server. By default the loop is
/// closed (a client starts its next pair when the last one ends: the
/// server's capacity); with --rate R the clients together start R pairs per
/// second on a fixed schedule (open loop: latency below saturation), and a
/// pair's latency counts from when it was due, so a slow answer is charged
/// for the pairs it held up (no coordinated omission). Prints one JSON line:
/// pairs per second, admit and pair latency p50/p99 in microseconds, and
/// refusals (which a correctly sized limit never causes). Loopback only.

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pacer.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;

namespace {

struct options {
  std::string target = "usher";
  std::uint16_t port = 0;
  int clients = 50;
  double seconds = 10;
  double warmup = 1;
  std::string key = "bench-key";
  int limit = 1000;
  double rate = 0;  ///< pairs per second over all clients; 0: closed loop
};

struct stats {
  std::vector<std::int64_t> admit_us, pair_us;
  std::int64_t pairs = 0, refused = 0, errors = 0;
  steady::time_point measure_from, measure_to;
  bool measuring(steady::time_point t) const { return t >= measure_from && t < measure_to; }
};

std::int64_t micros(steady::duration d) {
  return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}

using usher::bench::pacer;

// -- usher ------------------------------------------------------------------------

// Requests are written from templates built once (only the lease id varies),
// as a gateway with a fixed key would; answers are parsed by Beast's parser.
class usher_client : public std::enable_shared_from_this<usher_client> {
 public:
  usher_client(asio::io_context& io, const options& o, stats& s, int index)
      : socket_(io), pace_(io, o.clients, o.rate, index), o_(o), s_(s) {
    auto auth = "Host: 127.0.0.1\r\nAuthorization: Bearer " + o_.key + "\r\n";
    std::string body = R"({"model":"m"})";
    admit_ = "POST /v1/admit HTTP/1.1\r\n" + auth +
             "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
             "\r\n\r\n" + body;
    release_tail_ = " HTTP/1.1\r\n" + auth + "\r\n";
  }

  void start() {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), o_.port));
    socket_.set_option(tcp::no_delay(true));
    admit();
  }

 private:
  void admit() {
    if (steady::now() >= s_.measure_to) return;
    pace_.next([self = shared_from_this()](steady::time_point due) {
      self->t0_ = due;
      self->exchange(self->admit_, [self] { self->admitted(); });
    });
  }

  void admitted() {
    t1_ = steady::now();
    if (res_->get().result_int() != 200) {
      ++s_.refused;
      return admit();
    }
    const auto& body = res_->get().body();
    auto at = body.find("\"lease\":\"");
    if (at == std::string::npos) {
      ++s_.errors;
      return;
    }
    out_.assign("DELETE /v1/leases/");
    out_.append(body, at + 9, body.find('"', at + 9) - at - 9);
    out_ += release_tail_;
    exchange(out_, [self = shared_from_this()] { self->released(); });
  }

  void released() {
    auto t2 = steady::now();
    if (res_->get().result_int() != 200) ++s_.errors;
    if (s_.measuring(t0_)) {
      ++s_.pairs;
      s_.admit_us.push_back(micros(t1_ - t0_));
      s_.pair_us.push_back(micros(t2 - t0_));
    }
    admit();
  }

  template <class F>
  void exchange(const std::string& request, F next) {
    asio::async_write(socket_, asio::buffer(request),
                      [self = shared_from_this(), next](beast::error_code ec, std::size_t) {
                        if (ec) return void(++self->s_.errors);
                        self->res_.emplace();
                        bhttp::async_read(self->socket_, self->buf_, *self->res_,
                                          [self, next](beast::error_code ec2, std::size_t) {
                                            if (ec2) return void(++self->s_.errors);
                                            next();
                                          });
                      });
  }

  tcp::socket socket_;
  pacer pace_;
  beast::flat_buffer buf_;
  std::string admit_, release_tail_, out_;
  std::optional<bhttp::response_parser<bhttp::string_body>> res_;
  const options& o_;
  stats& s_;
  steady::time_point t0_, t1_;
};

// -- redis ------------------------------------------------------------------------

const char* acquire_script =
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[2]) - tonumber(ARGV[3])) "
    "if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then "
    "redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4]) return 1 end return 0";

// Appends one RESP bulk string.
void bulk(std::string& out, std::string_view a) {
  out += '$';
  out += std::to_string(a.size());
  out += "\r\n";
  out.append(a.data(), a.size());
  out += "\r\n";
}

std::string resp(const std::vector<std::string>& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (auto& a : args) bulk(out, a);
  return out;
}

class redis_client : public std::enable_shared_from_this<redis_client> {
 public:
  // Commands are written from prefixes built once (only the id and the time
  // vary), as for usher.
  redis_client(asio::io_context& io, const options& o, stats& s, std::string sha, int n)
      : socket_(io), pace_(io, o.clients, o.rate, n), o_(o), s_(s), n_(n) {
    auto key = "limiter:" + o_.key;
    acquire_ = "*8\r\n";
    for (std::string a : {std::string("EVALSHA"), sha, std::string("1"), key,
                          std::to_string(o_.limit)})
      bulk(acquire_, a);
    release_ = "*3\r\n";
    for (std::string a : {std::string("ZREM"), key}) bulk(release_, a);
    prefix_ = std::to_string(n_) + "-";
  }

  void start() {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), o_.port));
    socket_.set_option(tcp::no_delay(true));
    admit();
  }

 private:
  void admit() {
    if (steady::now() >= s_.measure_to) return;
    pace_.next([self = shared_from_this()](steady::time_point due) { self->acquire(due); });
  }

  void acquire(steady::time_point due) {
    t0_ = due;
    id_ = prefix_;
    id_ += std::to_string(++seq_);
    auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    out_ = acquire_;
    bulk(out_, std::to_string(now_ms));
    bulk(out_, "30000");
    bulk(out_, id_);
    exchange([self = shared_from_this()](const std::string& reply) { self->admitted(reply); });
  }

  void admitted(const std::string& reply) {
    t1_ = steady::now();
    if (reply != ":1") {
      if (reply == ":0") ++s_.refused;
      else ++s_.errors;
      return admit();
    }
    out_ = release_;
    bulk(out_, id_);
    exchange([self = shared_from_this()](const std::string& r) { self->released(r); });
  }

  void released(const std::string& reply) {
    auto t2 = steady::now();
    if (reply != ":1") ++s_.errors;
    if (s_.measuring(t0_)) {
      ++s_.pairs;
      s_.admit_us.push_back(micros(t1_ - t0_));
      s_.pair_us.push_back(micros(t2 - t0_));
    }
    admit();
  }

  template <class F>
  void exchange(F next) {
    asio::async_write(socket_, asio::buffer(out_), [self = shared_from_this(), next](beast::error_code ec, std::size_t) {
      if (ec) return void(++self->s_.errors);
      asio::async_read_until(self->socket_, asio::dynamic_buffer(self->in_), "\r\n",
                             [self, next](beast::error_code ec2, std::size_t n) {
                               if (ec2) return void(++self->s_.errors);
                               auto line = self->in_.substr(0, n - 2);
                               self->in_.erase(0, n);
                               next(line);
                             });
    });
  }

  tcp::socket socket_;
  pacer pace_;
  const options& o_;
  stats& s_;
  std::string acquire_, release_, prefix_, out_, in_, id_;
  int n_;
  std::uint64_t seq_ = 0;
  steady::time_point t0_, t1_;
};

std::string load_script(std::uint16_t port) {
  asio::io_context io;
  tcp::socket s(io);
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  asio::write(s, asio::buffer(resp({"SCRIPT", "LOAD", acquire_script})));
  std::string in;
  asio::read_until(s, asio::dynamic_buffer(in), "\r\n");
  if (in[0] != '$') throw std::runtime_error("SCRIPT LOAD failed: " + in);
  while (in.size() < in.find("\r\n") + 2 + 40 + 2) asio::read_until(s, asio::dynamic_buffer(in), "\r\n");
  auto at = in.find("\r\n") + 2;
  return in.substr(at, 40);
}

std::int64_t percentile(std::vector<std::int64_t>& v, double q) {
  if (v.empty()) return 0;
  auto k = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--target") o.target = v;
    else if (k == "--port") o.port = static_cast<std::uint16_t>(std::stoi(v));
    else if (k == "--clients") o.clients = std::stoi(v);
    else if (k == "--seconds") o.seconds = std::stod(v);
    else if (k == "--warmup") o.warmup = std::stod(v);
    else if (k == "--key") o.key = v;
    else if (k == "--limit") o.limit = std::stoi(v);
    else if (k == "--rate") o.rate = std::stod(v);
    else {
      std::cerr << "usage: usher_live_bench --target usher|redis --port P [--clients 50] "
                   "[--seconds 10] [--warmup 1] [--key K] [--limit 1000] [--rate PAIRS_PER_S]\n";
      return 2;
    }
  }
  if (o.port == 0 || (o.target != "usher" && o.target != "redis") || o.seconds > 120) {
    std::cerr << "usher_live_bench: need --target usher|redis, --port, and --seconds <= 120\n";
    return 2;
  }
  asio::io_context io;
  stats s;
  auto start = steady::now();
  s.measure_from = start + std::chrono::milliseconds(static_cast<int>(o.warmup * 1000));
  s.measure_to = s.measure_from + std::chrono::milliseconds(static_cast<int>(o.seconds * 1000));
  std::string sha = o.target == "redis" ? load_script(o.port) : "";
  for (int c = 0; c < o.clients; ++c) {
    if (o.target == "usher") std::make_shared<usher_client>(io, o, s, c)->start();
    else std::make_shared<redis_client>(io, o, s, sha, c)->start();
  }
  io.run();
  double secs = o.seconds;
  std::printf(
      "{\"target\":\"%s\",\"clients\":%d,\"rate\":%.0f,\"seconds\":%.1f,\"pairs\":%lld,"
      "\"pairs_per_s\":%.0f,"
      "\"admit_p50_us\":%lld,\"admit_p99_us\":%lld,\"pair_p50_us\":%lld,\"pair_p99_us\":%lld,"
      "\"refused\":%lld,\"errors\":%lld}\n",
      o.target.c_str(), o.clients, o.rate, secs, static_cast<long long>(s.pairs),
      static_cast<double>(s.pairs) / secs, static_cast<long long>(percentile(s.admit_us, 0.5)),
      static_cast<long long>(percentile(s.admit_us, 0.99)),
      static_cast<long long>(percentile(s.pair_us, 0.5)),
      static_cast<long long>(percentile(s.pair_us, 0.99)), static_cast<long long>(s.refused),
      static_cast<long long>(s.errors));
  return s.errors == 0 ? 0 : 1;
}

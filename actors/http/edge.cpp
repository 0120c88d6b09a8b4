#include "actors/http/edge.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/beast/websocket/rfc6455.hpp>
#include <cerrno>
#include <random>
#include <spdlog/logger.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <thread>

#include "actors/http/edge_state.hpp"
#include "actors/http/key_hash.hpp"
#include "actors/http/sessions.hpp"

namespace usher::actors::http {

const account_route* edge::impl::authenticate(const string_request& req,
                                              key_cache& cache) const {
  auto key = bearer_token(field_value(req, bhttp::field::authorization));
  if (key.empty() && beast::websocket::is_upgrade(req))
    key = subprotocol_key(field_value(req, bhttp::field::sec_websocket_protocol));
  if (key.empty() || key.size() > 512) return nullptr;
  // A key once found stays valid until a reload replaces the keys.
  auto version = routes_version.load(std::memory_order_acquire);
  if (cache.route && key == cache.key && cache.version == version) return cache.route;
  auto table = routes();
  auto i = table->keys.find(sha256_hex(key));
  if (i == table->keys.end()) return nullptr;
  cache.key.assign(key.data(), key.size());
  cache.route = &i->second;
  cache.table = std::move(table);
  cache.version = version;
  return cache.route;
}

std::shared_ptr<spdlog::logger> edge::impl::stderr_log() {
  auto log = std::make_shared<spdlog::logger>("edge",
                                              std::make_shared<spdlog::sinks::stderr_sink_mt>());
  log->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ [%l] usher serve: %v", spdlog::pattern_time_type::utc);
  return log;
}

void edge::impl::report_internal_error(const char* where, const std::exception& e) {
  auto n = ++internal_errors;
  if (n <= 10 || n % 1000 == 0)
    log->error("internal error #{} in {}: {} (the request was answered 500 or its connection "
               "closed; the node goes on)",
               n, where, e.what());
}

void edge::impl::request_id(std::string_view given, std::string& out) {
  bool sane = !given.empty() && given.size() <= 128 &&
              std::all_of(given.begin(), given.end(), [](char c) { return c > ' ' && c < 127; });
  if (sane) {
    out.assign(given.data(), given.size());
    return;
  }
  // splitmix64 of a per-process key plus a count: a bijection of the count,
  // so no two answers of one process share an id.
  std::uint64_t z = request_id_key + (++request_ids) * 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  static const char* hex = "0123456789abcdef";
  out.assign(16, '0');
  for (int i = 15; i >= 0; --i, z >>= 4) out[static_cast<std::size_t>(i)] = hex[z & 0xF];
}

// -- connections: phases, timeouts, shedding ---------------------------------

namespace {

using steady = std::chrono::steady_clock;
using conn_phase = edge::impl::conn_phase;
using conn_end = edge::impl::conn_end;

// The list of a timed phase (reading, idle, writing), or -1.
int list_of(conn_phase p) {
  switch (p) {
    case conn_phase::reading: return 0;
    case conn_phase::idle: return 1;
    case conn_phase::writing: return 2;
    default: return -1;
  }
}

constexpr conn_end end_of_list[] = {conn_end::request_timeout, conn_end::idle_timeout,
                                    conn_end::write_timeout};

// The answer to a connection refused at the cap or at the open-file limit:
// written once without blocking, then the socket is closed. `request_id`:
// made up, as no request was read.
void refuse_connection(int fd, const std::string& request_id) {
  static const std::string body =
      R"({"error":{"message":"Service Unavailable: the node holds all the connections it )"
      R"(may; retry shortly","type":"server_error","param":null,"code":"too_many_connections"}})";
  auto answer =
      "HTTP/1.1 503 Service Unavailable\r\nServer: usher\r\nContent-Type: "
      "application/json\r\nRetry-After: 1\r\nConnection: close\r\nX-Request-Id: " +
      request_id + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  [[maybe_unused]] auto n = ::send(fd, answer.data(), answer.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  ::shutdown(fd, SHUT_WR);
}

}  // namespace

std::size_t default_max_connections() {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) != 0 || r.rlim_cur == RLIM_INFINITY ||
      r.rlim_cur > (rlim_t{1} << 24))
    return std::size_t{1} << 20;
  auto n = static_cast<std::size_t>(r.rlim_cur);
  std::size_t reserve = n < 128 ? n / 2 : 64;
  return std::max<std::size_t>(1, n - reserve);
}

std::chrono::milliseconds edge::impl::timeout_of(conn_phase p) const {
  switch (p) {
    case conn_phase::reading: return cfg.request_timeout;
    case conn_phase::idle: return cfg.idle_timeout;
    default: return cfg.write_timeout;
  }
}

void edge::impl::unlink(tracked_conn* c) {
  int i = list_of(c->edge_phase);
  if (i >= 0) {
    auto& l = timed[static_cast<std::size_t>(i)];
    (c->edge_prev ? c->edge_prev->edge_next : l.head) = c->edge_next;
    (c->edge_next ? c->edge_next->edge_prev : l.tail) = c->edge_prev;
    c->edge_prev = c->edge_next = nullptr;
  }
  c->edge_phase = conn_phase::busy;
}

void edge::impl::add_conn(const std::shared_ptr<tracked_conn>& c) {
  ++http_sessions;
  {
    std::lock_guard<std::mutex> guard(conn_mutex);
    c->edge_self = c;
    c->edge_counted = true;
  }
  set_phase(c.get(), conn_phase::reading);
}

void edge::impl::remove_conn(tracked_conn* c) {
  std::lock_guard<std::mutex> guard(conn_mutex);
  if (!c->edge_counted) return;
  unlink(c);
  c->edge_counted = false;
  --http_sessions;
}

void edge::impl::set_phase(tracked_conn* c, conn_phase p) {
  auto now = steady::now();
  std::lock_guard<std::mutex> guard(conn_mutex);
  if (!c->edge_counted) return;
  unlink(c);
  c->edge_phase = p;
  int i = list_of(p);
  if (i < 0) return;
  auto& l = timed[static_cast<std::size_t>(i)];
  c->edge_since = now;
  c->edge_prev = l.tail;
  (l.tail ? l.tail->edge_next : l.head) = c;
  l.tail = c;
  if (!sweeping && sweeper) arm_sweeper();
}

bool edge::impl::confirm_end(tracked_conn* c, conn_end why) {
  std::lock_guard<std::mutex> guard(conn_mutex);
  if (!c->edge_counted || c->edge_phase != conn_phase::doomed) return false;
  c->edge_phase = conn_phase::busy;
  ++connection_ends[static_cast<std::size_t>(why)];
  return true;
}

std::size_t edge::impl::shed(std::size_t n) {
  std::vector<std::shared_ptr<tracked_conn>> victims;
  {
    std::lock_guard<std::mutex> guard(conn_mutex);
    for (auto i : {0, 1})  // reading (no complete request yet) first, then idle
      while (victims.size() < n && timed[i].head) {
        auto* c = timed[i].head;
        unlink(c);
        c->edge_phase = conn_phase::doomed;
        if (auto s = c->edge_self.lock()) victims.push_back(std::move(s));
      }
  }
  for (auto& c : victims) c->doom(conn_end::shed);
  return victims.size();
}

void edge::impl::arm_sweeper() {
  sweeping = true;
  sweeper->expires_after(sweep_every);
  sweeper->async_wait([this](beast::error_code ec) {
    if (!ec) sweep();
  });
}

void edge::impl::sweep() {
  std::vector<std::pair<std::shared_ptr<tracked_conn>, conn_end>> due;
  {
    std::lock_guard<std::mutex> guard(conn_mutex);
    auto now = steady::now();
    bool any = false;
    for (std::size_t i = 0; i < timed.size(); ++i) {
      auto timeout = timeout_of(i == 0 ? conn_phase::reading
                                       : i == 1 ? conn_phase::idle : conn_phase::writing);
      // Oldest first: the first one still in time ends the walk.
      while (timed[i].head && now - timed[i].head->edge_since >= timeout) {
        auto* c = timed[i].head;
        unlink(c);
        c->edge_phase = conn_phase::doomed;
        if (auto s = c->edge_self.lock()) due.emplace_back(std::move(s), end_of_list[i]);
      }
      any = any || timed[i].head;
    }
    if (any) arm_sweeper();
    else sweeping = false;  // the next connection to enter a timed phase arms it again
  }
  for (auto& [c, why] : due) c->doom(why);
}

// -- accepting --------------------------------------------------------------

void edge::impl::accept() {
  // One I/O thread needs no strand: every handler runs on it in turn.
  auto ex = cfg.io_threads > 1 ? asio::any_io_executor(asio::make_strand(*io))
                               : asio::any_io_executor(io->get_executor());
  acceptor->async_accept(ex, [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
    if (self->stopping) return;
    if (ec) return self->accept_failed(ec);
    self->accept_backoff = {};
    if (self->spare_fd < 0) self->spare_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    // At the cap the oldest idle connection makes room, or the new one is
    // refused at once.
    if (self->connections() >= static_cast<std::int64_t>(self->cfg.max_connections) &&
        self->shed(1) == 0) {
      ++self->connections_refused;
      self->count(503);
      std::string id;
      self->request_id({}, id);
      refuse_connection(socket.native_handle(), id);
    } else {
      socket.set_option(tcp::no_delay(true), ec);
      start_http_session(std::move(socket), self);
    }
    self->accept();
  });
}

// Out of descriptors (or socket memory), the listening socket stays readable
// and an accept retried at once fails at once: a core spins while clients
// hang. Instead: make room by shedding the oldest idle connection and retry;
// with nothing to shed, refuse the next connection with the spare
// descriptor; failing that, retry after a backoff (50 ms doubling to 1 s,
// reset by an accept that succeeds).
void edge::impl::accept_failed(const beast::error_code& ec) {
  if (ec == asio::error::operation_aborted || !acceptor->is_open()) return;
  auto n = ++accept_errors;
  auto now = steady::now();
  if (accept_errors_logged == 0 || now - accept_logged >= std::chrono::seconds(5)) {
    log->warn("accept failed: {} ({} accept failures since the last report, {} idle connections "
              "shed and {} refused in all; {} connections open, max_connections {})",
              ec.message(), n - accept_errors_logged,
              connection_ends[static_cast<std::size_t>(conn_end::shed)].load(),
              connections_refused.load(), connections(), cfg.max_connections);
    accept_logged = now;
    accept_errors_logged = n;
  }
  int e = ec.category() == boost::system::system_category() ? ec.value() : 0;
  bool out_of_files = e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM;
  bool retry_now = e == ECONNABORTED || e == EINTR || e == EAGAIN || e == EWOULDBLOCK ||
                   e == EPROTO;  // the one connection at fault is gone
  if (out_of_files && (shed(1) > 0 || refuse_with_spare())) retry_now = true;
  if (!retry_now) return accept_later();
  // Posted: behind the closes of the shed connections.
  asio::post(*io, [self = shared_from_this()] {
    if (!self->stopping && !self->draining) self->accept();
  });
}

bool edge::impl::refuse_with_spare() {
  if (spare_fd < 0) return false;
  ::close(spare_fd);
  int fd = ::accept4(acceptor->native_handle(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  bool progress = fd >= 0 || errno == EAGAIN || errno == EWOULDBLOCK;
  if (fd >= 0) {
    ++connections_refused;
    count(503);
    std::string id;
    request_id({}, id);
    refuse_connection(fd, id);
    ::close(fd);
  }
  spare_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  return progress;
}

void edge::impl::accept_later() {
  using std::chrono::milliseconds;
  accept_backoff = accept_backoff.count() == 0 ? milliseconds(50)
                                               : std::min(accept_backoff * 2, milliseconds(1000));
  accept_timer->expires_after(accept_backoff);
  accept_timer->async_wait([self = shared_from_this()](beast::error_code ec) {
    if (!ec && !self->stopping && !self->draining) self->accept();
  });
}

edge::impl::~impl() {
  if (spare_fd >= 0) ::close(spare_fd);
}

edge::edge(caf::actor_system& sys, edge_config cfg)
    : impl_(std::make_shared<impl>(sys, std::move(cfg))) {
  beast::error_code ec;
  auto address = asio::ip::make_address(impl_->cfg.host, ec);
  if (ec) throw std::runtime_error("cannot listen on " + impl_->cfg.host + ": not an IP address");
  tcp::endpoint at{address, impl_->cfg.port};
  auto fail = [&](const char* what) {
    throw std::runtime_error(std::string("cannot listen on ") + impl_->cfg.host + ":" +
                             std::to_string(impl_->cfg.port) + ": " + what + ": " + ec.message());
  };
  impl_->acceptor->open(at.protocol(), ec);
  if (ec) fail("open");
  impl_->acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  impl_->acceptor->bind(at, ec);
  if (ec) fail("bind");
  impl_->acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) fail("listen");
  port_ = impl_->acceptor->local_endpoint().port();
  if (impl_->cfg.max_connections == 0) impl_->cfg.max_connections = default_max_connections();
  impl_->spare_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  std::random_device rd;
  impl_->request_id_key = (std::uint64_t{rd()} << 32) ^ rd();
}

std::size_t edge::max_connections() const { return impl_->cfg.max_connections; }

edge::~edge() {
  stop();
  impl_->to_actors.close();
}

std::uint16_t edge::port() const { return port_; }

void edge::impl::run_io() {
  // The sessions catch what their routes throw; this is the last line: an
  // exception from any other handler is reported and the loop goes on
  // (Asio leaves the io_context usable after a handler threw).
  for (;;) {
    try {
      io->run();
      return;
    } catch (const std::exception& e) {
      report_internal_error("an I/O handler", e);
    }
  }
}

void edge::run() {
  impl_->accept();
  std::vector<std::thread> extra;
  for (std::size_t i = 1; i < impl_->cfg.io_threads; ++i)
    extra.emplace_back([this] { impl_->run_io(); });
  impl_->run_io();
  for (auto& t : extra) t.join();
  impl_->actors_unit.stop();
  impl_->close_connections();
}

void edge::impl::close_connections() {
  {
    // A drain or stop from another thread (the signal thread) may still be
    // inside its post, signalling the io_context's condition variable: it
    // finishes before the io_context goes, and none starts after.
    std::lock_guard<std::mutex> guard(outside_mutex);
    closed = true;
  }
  to_actors.close();  // answers still to come are dropped with their sessions
  // An io_context's destruction destroys its pending handlers, and with them
  // the last references to the connections (Asio's documented way to end
  // shared_ptr-owned connections). Its I/O objects go first.
  {
    std::lock_guard<std::mutex> guard(conn_mutex);
    sweeper.reset();
  }
  drain_timer.reset();
  drain_work.reset();
  accept_timer.reset();
  access.reset();  // writes its last lines; its timer goes before the io_context
  acceptor.reset();
  upstreams.reset();  // the gateway's idle upstream connections
  io.reset();
}

void edge::stop() {
  impl_->stop();
}

void edge::impl::stop() {
  std::lock_guard<std::mutex> guard(outside_mutex);
  if (closed || stopping.exchange(true)) return;
  asio::post(*io, [i = shared_from_this()] {
    beast::error_code ec;
    i->acceptor->close(ec);
    i->io->stop();
  });
}

// -- draining ---------------------------------------------------------------

void edge::impl::add_stream(const std::shared_ptr<stream_conn>& s) {
  {
    std::lock_guard<std::mutex> guard(stream_mutex);
    streams.emplace(s.get(), s);
  }
  // After the entry: a drain that began meanwhile saw it, or is seen here.
  if (draining) s->go_away();
}

void edge::impl::remove_stream(stream_conn* s) {
  std::lock_guard<std::mutex> guard(stream_mutex);
  streams.erase(s);
}

void edge::drain(std::chrono::milliseconds within) {
  impl_->drain(within);
}

void edge::impl::drain(std::chrono::milliseconds within) {
  std::lock_guard<std::mutex> guard(outside_mutex);
  if (closed || stopping || draining.exchange(true)) return;
  drain_until = std::chrono::steady_clock::now() + within;
  drain_work.emplace(io->get_executor());
  asio::post(*io, [i = shared_from_this()] {
    beast::error_code ec;
    i->acceptor->close(ec);  // new connections are refused by the kernel
    i->accept_timer->cancel();
    i->poll_drain();
  });
  std::vector<std::shared_ptr<stream_conn>> open;
  {
    std::lock_guard<std::mutex> guard(stream_mutex);
    for (auto& [p, w] : streams)
      if (auto s = w.lock()) open.push_back(std::move(s));
  }
  for (auto& s : open) s->go_away();
}

void edge::replace_routes(std::unordered_map<std::string, account_route> keys,
                          std::vector<admission_actor> actors) {
  auto table = std::make_shared<const impl::route_table>(
      impl::route_table{std::move(keys), std::move(actors)});
  {
    std::lock_guard<std::mutex> guard(impl_->routes_mutex);
    impl_->routes_ = std::move(table);
  }
  impl_->routes_version.fetch_add(1, std::memory_order_release);
}

std::int64_t edge::leases_left() const {
  return impl_->leases_left;
}

void edge::impl::poll_drain() {
  if (stopping) return;
  auto table = routes();
  const auto& actors = table->actors;
  if (actors.empty()) {
    leases_left = 0;
    return stop();
  }
  // One round: every actor answers with its leases; the last answer decides.
  struct round {
    std::atomic<std::size_t> left;
    std::atomic<std::int64_t> held{0};
  };
  auto r = std::make_shared<round>();
  r->left = actors.size();
  for (auto& a : actors)
    to_actors.ask<std::int64_t>(
        a, drain_atom::value, io->get_executor(),
        [self = shared_from_this(), r](std::optional<std::int64_t> n) {
          if (n) r->held += *n;
          if (--r->left > 0) return;
          if (r->held == 0 || std::chrono::steady_clock::now() >= self->drain_until) {
            if (!self->stopping) self->leases_left = r->held.load();
            return self->stop();
          }
          // Holders release over their own connections meanwhile; 50 ms
          // bounds how long the node outlives the last release.
          if (!self->drain_timer) return;
          self->drain_timer->expires_after(std::chrono::milliseconds(50));
          self->drain_timer->async_wait([self](beast::error_code ec) {
            if (!ec) self->poll_drain();
          });
        });
}

}  // namespace usher::actors::http

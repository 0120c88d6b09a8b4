#include "actors/http/edge.hpp"

#include <thread>

#include "actors/http/edge_state.hpp"
#include "actors/http/key_hash.hpp"
#include "actors/http/sessions.hpp"

namespace usher::actors::http {

const account_route* edge::impl::authenticate(const string_request& req,
                                              key_cache& cache) const {
  std::string_view a = field_value(req, bhttp::field::authorization);
  constexpr std::string_view bearer = "Bearer ";
  if (a.size() <= bearer.size() || a.substr(0, bearer.size()) != bearer) return nullptr;
  auto key = a.substr(bearer.size());
  if (key.size() > 512) return nullptr;
  // Keys are fixed for the node's life, so a key once found stays valid.
  if (cache.route && key == cache.key) return cache.route;
  auto i = cfg.keys.find(sha256_hex(key));
  if (i == cfg.keys.end()) return nullptr;
  cache.key.assign(key.data(), key.size());
  cache.route = &i->second;
  return cache.route;
}

void edge::impl::watch_idle(const std::shared_ptr<idle_watch>& c) {
  std::lock_guard<std::mutex> guard(idle_mutex);
  idle.emplace(c.get(), c);
  if (!sweeping) arm_sweeper();
}

void edge::impl::unwatch_idle(idle_watch* c) {
  std::lock_guard<std::mutex> guard(idle_mutex);
  idle.erase(c);
}

void edge::impl::arm_sweeper() {
  sweeping = true;
  sweeper->expires_after(sweep_every);
  sweeper->async_wait([this](beast::error_code ec) {
    if (!ec) sweep();
  });
}

void edge::impl::sweep() {
  std::vector<std::shared_ptr<idle_watch>> live;
  {
    std::lock_guard<std::mutex> guard(idle_mutex);
    for (auto& [c, w] : idle)
      if (auto s = w.lock()) live.push_back(std::move(s));
    if (idle.empty()) sweeping = false;  // the next connection arms it again
    else arm_sweeper();
  }
  auto now = std::chrono::steady_clock::now();
  for (auto& c : live) c->sweep(now);
}

void edge::impl::accept() {
  // One I/O thread needs no strand: every handler runs on it in turn.
  auto ex = cfg.io_threads > 1 ? asio::any_io_executor(asio::make_strand(*io))
                               : asio::any_io_executor(io->get_executor());
  acceptor->async_accept(ex, [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
    if (self->stopping) return;
    if (!ec) {
      socket.set_option(tcp::no_delay(true), ec);
      start_http_session(std::move(socket), self);
    }
    self->accept();
  });
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
}

edge::~edge() {
  stop();
  impl_->to_actors.close();
}

std::uint16_t edge::port() const { return port_; }

void edge::run() {
  impl_->accept();
  std::vector<std::thread> extra;
  for (std::size_t i = 1; i < impl_->cfg.io_threads; ++i)
    extra.emplace_back([this] { impl_->io->run(); });
  impl_->io->run();
  for (auto& t : extra) t.join();
  impl_->actors_unit.stop();
  impl_->close_connections();
}

void edge::impl::close_connections() {
  to_actors.close();  // answers still to come are dropped with their sessions
  {
    std::lock_guard<std::mutex> guard(idle_mutex);
    idle.clear();
  }
  // An io_context's destruction destroys its pending handlers, and with them
  // the last references to the connections (Asio's documented way to end
  // shared_ptr-owned connections). Its I/O objects go first.
  sweeper.reset();
  acceptor.reset();
  io.reset();
}

void edge::stop() {
  if (impl_->stopping.exchange(true)) return;
  asio::post(*impl_->io, [i = impl_] {
    beast::error_code ec;
    i->acceptor->close(ec);
    i->io->stop();
  });
}

}  // namespace usher::actors::http

#include "actors/http/edge.hpp"

#include <thread>

#include "actors/http/edge_state.hpp"
#include "actors/http/key_hash.hpp"
#include "actors/http/sessions.hpp"

namespace usher::actors::http {

const account_route* edge::impl::authenticate(const string_request& req) const {
  auto auth = req[bhttp::field::authorization];
  std::string_view a(auth.data(), auth.size());
  constexpr std::string_view bearer = "Bearer ";
  if (a.size() <= bearer.size() || a.substr(0, bearer.size()) != bearer) return nullptr;
  auto key = a.substr(bearer.size());
  if (key.size() > 512) return nullptr;
  auto i = cfg.keys.find(sha256_hex(key));
  return i == cfg.keys.end() ? nullptr : &i->second;
}

void edge::impl::accept() {
  acceptor.async_accept(asio::make_strand(io),
                        [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
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
  impl_->acceptor.open(at.protocol(), ec);
  if (ec) fail("open");
  impl_->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  impl_->acceptor.bind(at, ec);
  if (ec) fail("bind");
  impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) fail("listen");
}

edge::~edge() { stop(); }

std::uint16_t edge::port() const { return impl_->acceptor.local_endpoint().port(); }

void edge::run() {
  impl_->accept();
  std::vector<std::thread> extra;
  for (std::size_t i = 1; i < impl_->cfg.io_threads; ++i)
    extra.emplace_back([this] { impl_->io.run(); });
  impl_->io.run();
  for (auto& t : extra) t.join();
}

void edge::stop() {
  if (impl_->stopping.exchange(true)) return;
  asio::post(impl_->io, [i = impl_] {
    beast::error_code ec;
    i->acceptor.close(ec);
    i->io.stop();
  });
}

}  // namespace usher::actors::http

#pragma once
/// The one way the edge talks to actors: ask() spawns a one-shot actor that
/// sends `msg` to `dest` as a request and posts the answer (or nullopt when
/// the request failed: the node is stopping) back to the io_context, where
/// `on_reply` runs on an I/O thread. The I/O thread never waits: the cost of
/// a pending request is the one-shot actor's memory. Requests have no
/// timeout because the admission actor answers every one it holds (by its
/// queue deadline at the latest, with 503 when it stops).

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <caf/all.hpp>
#include <optional>
#include <utility>

namespace usher::actors::http {

template <class Reply, class Handle, class Message, class F>
void ask(caf::actor_system& sys, boost::asio::io_context& io, const Handle& dest, Message msg,
         F on_reply) {
  sys.spawn([dest, msg = std::move(msg), &io, on_reply](caf::event_based_actor* self) mutable {
    self->request(dest, caf::infinite, std::move(msg))
        .then(
            [&io, on_reply](Reply& r) mutable {
              boost::asio::post(io, [on_reply, r = std::move(r)]() mutable {
                on_reply(std::optional<Reply>(std::move(r)));
              });
            },
            [&io, on_reply](caf::error&) mutable {
              boost::asio::post(io, [on_reply]() mutable { on_reply(std::optional<Reply>()); });
            });
  });
}

}  // namespace usher::actors::http

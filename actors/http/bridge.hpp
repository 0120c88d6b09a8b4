#pragma once
/// The one way the edge talks to actors. One long-lived bridge per edge: a
/// hidden CAF actor_companion whose mailbox is a callback, so an I/O thread
/// can send a request to an admission actor directly (no actor is spawned
/// per request) and the answer comes back on the executor the caller names
/// (its session's), where `on_reply` runs with the reply, or with nullopt
/// when the request failed (the receiver is gone: the node is stopping).
///
/// Hops per request: I/O thread -> the admission actor's mailbox -> a CAF
/// worker runs it -> its reply is posted to the session's executor. The I/O
/// thread never waits: a pending request costs one map entry. Requests have
/// no timeout because the admission actor answers every one it holds (by
/// its queue deadline at the latest, with 503 when it stops); an actor that
/// is already gone bounces the request, which arrives here as an error.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/post.hpp>
#include <caf/actor_companion.hpp>
#include <caf/all.hpp>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>

namespace usher::actors::http {

class bridge {
 public:
  /// `host`: the execution unit an idle receiver is resumed on (nullptr:
  /// the CAF scheduler's).
  bridge(caf::actor_system& sys, caf::execution_unit* host) : host_(host) {
    companion_ = sys.spawn<caf::actor_companion, caf::hidden>();
    self()->on_enqueue([this](caf::mailbox_element_ptr ptr) { on_enqueue(std::move(ptr)); });
  }

  ~bridge() { close(); }

  bridge(const bridge&) = delete;
  bridge& operator=(const bridge&) = delete;

  /// Sends `msg` to `dest` as a request; `on_reply(std::optional<Reply>)`
  /// runs on `ex` when the answer comes. Thread-safe.
  template <class Reply, class Handle, class Message, class F>
  void ask(const Handle& dest, Message msg, const boost::asio::any_io_executor& ex, F on_reply) {
    completion done = [on_reply = std::move(on_reply)](caf::type_erased_tuple* x) mutable {
      if (x && x->template match_elements<Reply>())
        on_reply(std::optional<Reply>(std::move(x->template get_mutable_as<Reply>(0))));
      else
        on_reply(std::optional<Reply>());
    };
    auto to = caf::actor_cast<caf::strong_actor_ptr>(dest);
    if (!to || !companion_) {  // the receiver is gone, or the bridge is closed
      boost::asio::post(ex, [done = std::move(done)]() mutable { done(nullptr); });
      return;
    }
    auto id = add(ex, std::move(done));
    to->get()->enqueue(caf::make_mailbox_element(caf::actor_cast<caf::strong_actor_ptr>(companion_),
                                                 caf::make_message_id(id), {}, std::move(msg)),
                       host_);
  }

  /// Stops taking answers; pending ones are dropped (their callbacks, and
  /// whatever sessions they hold, are destroyed without running). Idempotent.
  void close() {
    if (!companion_) return;
    self()->on_enqueue(nullptr);  // waits for a handler that runs now
    caf::scoped_execution_unit ctx{&companion_->home_system()};
    self()->cleanup(caf::make_error(caf::exit_reason::user_shutdown), &ctx);
    companion_ = nullptr;
    std::unordered_map<std::uint64_t, pending> dropped;
    {
      std::lock_guard<std::mutex> guard(mutex_);
      dropped.swap(pending_);
    }
  }

 private:
  using completion = std::function<void(caf::type_erased_tuple*)>;
  struct pending {
    boost::asio::any_io_executor ex;
    completion done;
  };

  caf::actor_companion* self() {
    return static_cast<caf::actor_companion*>(caf::actor_cast<caf::abstract_actor*>(companion_));
  }

  std::uint64_t add(const boost::asio::any_io_executor& ex, completion done) {
    std::lock_guard<std::mutex> guard(mutex_);
    auto id = ++next_id_;
    pending_.emplace(id, pending{ex, std::move(done)});
    return id;
  }

  // On the replying actor's thread: hands the answer to its session's executor.
  void on_enqueue(caf::mailbox_element_ptr ptr) {
    if (!ptr->mid.is_response()) return;  // nobody else talks to the bridge
    pending p;
    {
      std::lock_guard<std::mutex> guard(mutex_);
      auto i = pending_.find(ptr->mid.request_id().integer_value());
      if (i == pending_.end()) return;
      p = std::move(i->second);
      pending_.erase(i);
    }
    boost::asio::post(p.ex, [done = std::move(p.done), ptr = std::move(ptr)]() mutable {
      done(&ptr->content());
    });
  }

  caf::execution_unit* host_;
  caf::actor companion_;
  std::mutex mutex_;
  std::unordered_map<std::uint64_t, pending> pending_;
  std::uint64_t next_id_ = 0;  ///< request ids (under mutex_); never 0
};

}  // namespace usher::actors::http

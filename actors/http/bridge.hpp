#pragma once
/// The one way the edge talks to actors. One long-lived bridge per edge: a
/// hidden CAF actor_companion whose mailbox is a callback, so an I/O thread
/// can send a request to an admission actor directly (no actor is spawned
/// per request) and the answer comes back on the executor the caller names
/// (its session's), where `on_reply` runs with the reply, or with nullopt
/// when the request failed (the receiver is gone: the node is stopping).
///
/// Hops per request: I/O thread -> the admission actor's mailbox -> the
/// actor runs on the I/O thread that woke it (io_unit) or on a CAF worker ->
/// its reply runs on the session's executor: right after the unit's batch
/// when the actor ran there and the executor is the io_context's own (one
/// I/O thread), posted to the executor otherwise. The I/O thread never
/// waits: a pending request costs one slot. Requests have
/// no timeout because the admission actor answers every one it holds (by
/// its queue deadline at the latest, with 503 when it stops); an actor that
/// is already gone bounces the request, which arrives here as an error.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/post.hpp>
#include <caf/actor_companion.hpp>
#include <caf/all.hpp>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "actors/http/io_unit.hpp"

namespace usher::actors::http {

class bridge {
 public:
  /// `host`: the execution unit an idle receiver is resumed on.
  bridge(caf::actor_system& sys, io_unit& host)
      : host_(host), host_executor_(host.context().get_executor()) {
    companion_ = sys.spawn<caf::actor_companion, caf::hidden>();
    self()->on_enqueue([this](caf::mailbox_element_ptr ptr) { on_enqueue(std::move(ptr)); });
    host_.after_batch([this] { run_ready(); });
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
                       &host_);
  }

  /// Sends `msg` to `dest`, no answer wanted (a release). Like ask(), the
  /// receiver runs on the I/O thread's unit, not on a CAF worker woken for
  /// it. Once closed (the node stops, the I/O threads have returned), an
  /// anonymous send. On I/O threads, or after they returned.
  template <class Handle, class Message>
  void tell(const Handle& dest, Message msg) {
    auto to = caf::actor_cast<caf::strong_actor_ptr>(dest);
    if (!to) return;
    if (!companion_) return caf::anon_send(dest, std::move(msg));
    to->get()->enqueue(
        caf::make_mailbox_element(nullptr, caf::make_message_id(), {}, std::move(msg)), &host_);
  }

  /// Stops taking answers; pending ones are dropped (their callbacks, and
  /// whatever sessions they hold, are destroyed without running). Idempotent.
  void close() {
    if (!companion_) return;
    self()->on_enqueue(nullptr);  // waits for a handler that runs now
    caf::scoped_execution_unit ctx{&companion_->home_system()};
    self()->cleanup(caf::make_error(caf::exit_reason::user_shutdown), &ctx);
    companion_ = nullptr;
    std::vector<pending> dropped;
    {
      std::lock_guard<std::mutex> guard(mutex_);
      dropped.swap(slots_);
      free_.clear();
    }
  }

 private:
  using completion = std::function<void(caf::type_erased_tuple*)>;
  struct pending {
    std::uint64_t id = 0;  ///< 0: the slot is free
    boost::asio::any_io_executor ex;
    completion done;
  };

  // Request ids name a slot (low bits) and a serial number (high bits), so
  // a pending request costs no allocation once the slots have grown, and a
  // reused slot is never mistaken for an older request.
  static constexpr int slot_bits = 24;
  static constexpr std::uint64_t slot_mask = (std::uint64_t{1} << slot_bits) - 1;
  static constexpr std::uint64_t serial_limit = (std::uint64_t{1} << (60 - slot_bits)) - 1;

  caf::actor_companion* self() {
    return static_cast<caf::actor_companion*>(caf::actor_cast<caf::abstract_actor*>(companion_));
  }

  std::uint64_t add(const boost::asio::any_io_executor& ex, completion done) {
    std::lock_guard<std::mutex> guard(mutex_);
    std::size_t slot;
    if (!free_.empty()) {
      slot = free_.back();
      free_.pop_back();
    } else {
      slot = slots_.size();
      slots_.emplace_back();
    }
    // CAF keeps 60 bits of a request id; the serial wraps within them.
    serial_ = (serial_ % serial_limit) + 1;
    auto id = (serial_ << slot_bits) | slot;
    slots_[slot] = pending{id, ex, std::move(done)};
    return id;
  }

  // On the replying actor's thread: hands the answer to its session's executor.
  void on_enqueue(caf::mailbox_element_ptr ptr) {
    if (!ptr->mid.is_response()) return;  // nobody else talks to the bridge
    pending p;
    {
      std::lock_guard<std::mutex> guard(mutex_);
      auto id = ptr->mid.request_id().integer_value();
      auto slot = static_cast<std::size_t>(id & slot_mask);
      if (slot >= slots_.size() || slots_[slot].id != id) return;
      p = std::move(slots_[slot]);
      slots_[slot] = pending{};
      free_.push_back(static_cast<std::uint32_t>(slot));
    }
    if (host_.in_batch() && p.ex == host_executor_) {
      batch_answers().ready.emplace_back(std::move(p.done), std::move(ptr));
      return;
    }
    boost::asio::post(p.ex, [done = std::move(p.done), ptr = std::move(ptr)]() mutable {
      done(&ptr->content());
    });
  }

  // On the I/O thread after a batch of actor turns: the answers it gave.
  void run_ready() {
    auto& mine = batch_answers();
    if (mine.ready.empty()) return;
    mine.answering.swap(mine.ready);  // both keep their capacity
    // Every answer runs even if one throws; the first exception goes on to
    // the I/O loop (which reports it) once the batch is done.
    std::exception_ptr failed;
    for (auto& [done, ptr] : mine.answering) {
      try {
        done(&ptr->content());
      } catch (...) {
        if (!failed) failed = std::current_exception();
      }
    }
    mine.answering.clear();
    if (failed) std::rethrow_exception(failed);
  }

  using answer = std::pair<completion, caf::mailbox_element_ptr>;
  /// The answers of the batch this thread runs. Per thread, not per bridge:
  /// with several I/O threads, each runs batches of the unit's actor turns
  /// at the same time as the others (io_unit posts a batch whenever its
  /// queue fills again), and each batch's answers are its own thread's to
  /// run. A thread runs one batch at a time and empties the list after it,
  /// so the list never holds another bridge's answers between batches.
  struct thread_answers {
    std::vector<answer> ready;
    std::vector<answer> answering;  ///< the batch's answers being run
  };
  static thread_answers& batch_answers() {
    static thread_local thread_answers mine;
    return mine;
  }

  io_unit& host_;
  boost::asio::any_io_executor host_executor_;  ///< sessions' executor with one I/O thread
  caf::actor companion_;
  std::mutex mutex_;
  std::vector<pending> slots_;       ///< pending requests (under mutex_)
  std::vector<std::uint32_t> free_;  ///< free slots (under mutex_)
  std::uint64_t serial_ = 0;         ///< (under mutex_) ids are never 0
};

}  // namespace usher::actors::http

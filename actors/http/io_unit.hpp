#pragma once
/// A CAF execution unit backed by the edge's io_context. An actor that is
/// idle when the edge sends it a request is resumed on the I/O thread that
/// sent it (as a CAF worker resumes an actor woken by another actor on the
/// same worker, and as CAF's brokers run on their multiplexer), so a request
/// and its answer cost no hop between threads: no worker wake-up (a futex),
/// no wake-up of the I/O thread for the answer. An actor that is already
/// scheduled elsewhere (by its timer, or a message from another thread)
/// runs there; CAF still runs each actor on one thread at a time.
///
/// An actor runs at most `max_throughput` messages per turn here, so one
/// busy actor cannot hold the I/O thread; the rest wait for its next turn
/// behind the I/O handlers already queued. After the io_context stopped,
/// stop() hands any actor still waiting for a turn (and every later one) to
/// the CAF scheduler, so no actor is ever left unscheduled.
///
/// Answers that the actors of one batch send to I/O sessions are run by the
/// bridge right after the batch (after_batch), on this thread: a batch of
/// requests read together is answered together, as Redis writes its replies
/// after reading every ready socket, and no answer costs a handler of its own.

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <caf/all.hpp>
#include <functional>
#include <mutex>
#include <vector>

namespace usher::actors::http {

class io_unit final : public caf::execution_unit {
 public:
  static constexpr std::size_t max_throughput = 64;

  io_unit(caf::actor_system& sys, boost::asio::io_context& io)
      : caf::execution_unit(&sys), io_(io) {}

  void exec_later(caf::resumable* job) override {
    {
      std::lock_guard<std::mutex> guard(mutex_);
      if (!stopped_) {
        jobs_.push_back(job);
        if (jobs_.size() == 1) boost::asio::post(io_, [this] { run_jobs(); });
        return;
      }
    }
    system().scheduler().enqueue(job);
  }

  /// True while this thread runs a batch of this unit's actor turns.
  bool in_batch() const { return running_ == this; }

  /// The io_context whose thread runs the batches.
  boost::asio::io_context& context() { return io_; }

  /// Runs `f` on the I/O thread after each batch of actor turns. Set once,
  /// before the io_context runs.
  void after_batch(std::function<void()> f) { after_batch_ = std::move(f); }

  /// Call when the io_context no longer runs: jobs go to the CAF scheduler.
  void stop() {
    std::vector<caf::resumable*> left;
    {
      std::lock_guard<std::mutex> guard(mutex_);
      stopped_ = true;
      left.swap(jobs_);
    }
    for (auto* job : left) system().scheduler().enqueue(job);
  }

 private:
  void run_jobs() {
    // The thread's own (several I/O threads may run batches at once), kept
    // with its capacity; a batch never starts inside another on one thread.
    static thread_local std::vector<caf::resumable*> batch;
    {
      std::lock_guard<std::mutex> guard(mutex_);
      batch.swap(jobs_);
    }
    running_ = this;
    for (auto* job : batch) {
      // As caf::scheduler::worker::run does with a job's result.
      switch (job->resume(this, max_throughput)) {
        case caf::resumable::resume_later:
          exec_later(job);  // keeps its reference
          break;
        case caf::resumable::done:
        case caf::resumable::awaiting_message:
          intrusive_ptr_release(job);
          break;
        case caf::resumable::shutdown_execution_unit:
          break;
      }
    }
    batch.clear();
    running_ = nullptr;
    if (after_batch_) after_batch_();
  }

  static inline thread_local io_unit* running_ = nullptr;

  boost::asio::io_context& io_;
  std::mutex mutex_;
  std::vector<caf::resumable*> jobs_;
  bool stopped_ = false;
  std::function<void()> after_batch_;
};

}  // namespace usher::actors::http

#pragma once
/// When a load generator's client starts its next call (usher_live_bench,
/// usher_gateway_bench): at once (closed loop), or at its turn in a fixed
/// schedule (open loop: `rate` calls per second over all `clients`), each
/// client offset so that together they start calls evenly. next(start)
/// gives `start` the time the call was due, so latency counts from there
/// (no coordinated omission).

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>

namespace usher::bench {

class pacer {
 public:
  using steady = std::chrono::steady_clock;

  pacer(boost::asio::io_context& io, int clients, double rate, int index) : timer_(io) {
    if (rate <= 0) return;
    interval_ = std::chrono::duration_cast<steady::duration>(
        std::chrono::duration<double>(clients / rate));
    next_ = steady::now() + interval_ * index / clients;
  }

  bool open_loop() const { return interval_ != steady::duration::zero(); }
  /// When the next call is due (now, in a closed loop).
  steady::time_point peek() const { return open_loop() ? next_ : steady::now(); }
  /// Gives up the next turn (a call due after the measurement).
  void skip() { next_ += interval_; }

  template <class F>
  void next(F start) {
    if (!open_loop()) return start(steady::now());
    auto due = next_;
    next_ += interval_;
    if (due <= steady::now()) return start(due);
    timer_.expires_at(due);
    timer_.async_wait([due, start](boost::system::error_code) { start(due); });
  }

 private:
  boost::asio::steady_timer timer_;
  steady::duration interval_{};
  steady::time_point next_;
};

}  // namespace usher::bench

#include "actors/http/lease_keeper.hpp"

#include <string>
#include <unordered_map>

namespace usher::actors::http {

using clock = std::chrono::steady_clock;

struct lease_keeper::state : std::enable_shared_from_this<state> {
  state(const boost::asio::any_io_executor& ex_, bridge& to_actors_)
      : ex(ex_), to_actors(to_actors_), timer(ex_) {}

  boost::asio::any_io_executor ex;
  bridge& to_actors;
  boost::asio::steady_timer timer;
  std::chrono::milliseconds ttl{0};
  each_fn each;
  std::function<void()> lost;
  /// By lease id: when the newest renewal answered 200 was sent (or, before
  /// one, when the grant reached the edge). The owner's TTL runs from a
  /// later instant, so counting from here errs on the safe side.
  std::unordered_map<std::string, clock::time_point> renewed;
  bool stopped = false;
  /// After a failed renewal, rounds come every TTL/12 until one is
  /// answered: a few tries within the two thirds of a TTL a lease may go
  /// unrenewed, without flooding a member that is taking the account over.
  static constexpr int retries_per_ttl = 12;

  /// The next round in `after` (a wait in progress is cancelled: its
  /// handler sees operation_aborted and does nothing).
  void arm(clock::duration after) {
    timer.expires_after(after);
    timer.async_wait([w = weak_from_this()](boost::system::error_code ec) {
      auto s = w.lock();
      if (s && !ec && !s->stopped) s->tick();
    });
  }

  void tick() {
    auto now = clock::now();
    std::unordered_map<std::string, clock::time_point> held;
    bool overdue = false;
    each([&](const lease_handle& h) {
      if (!h.held() || h.ttl().count() == 0) return;
      auto i = renewed.find(h.id());
      auto at = i == renewed.end() ? h.since() : i->second;
      if (now - at >= ttl * 2 / 3) overdue = true;
      held.emplace(h.id(), at);
      to_actors.ask<lease_reply>(
          h.owner(), h.renewal(), ex,
          [w = weak_from_this(), id = h.id(), sent = now](std::optional<lease_reply> r) {
            auto s = w.lock();
            if (!s || s->stopped) return;
            if (r)
              s->answered(id, sent, *r);
            else
              s->retry_soon();  // the local actor is gone, or the bridge closed
          });
    });
    renewed.swap(held);
    if (overdue) return lose();
    arm(ttl / 3);
  }

  /// A renewal went unanswered or was answered 503 (the owner down and not
  /// yet replaced, or recovering): ask again well before the usual round,
  /// so that a takeover finished anywhere within two thirds of a TTL keeps
  /// the socket (at TTL/3 rounds alone it had to finish within one third).
  void retry_soon() {
    auto soon = ttl / retries_per_ttl;
    if (timer.expiry() > clock::now() + soon) arm(soon);
  }

  void answered(const std::string& id, clock::time_point sent, const lease_reply& r) {
    auto i = renewed.find(id);
    if (i == renewed.end()) return;  // released meanwhile
    if (r.code == 200) {
      i->second = std::max(i->second, sent);
      return;
    }
    // 503: the owner cannot answer now (down, moving, recovering without
    // this lease yet): the next round asks again. Else (404) it holds the
    // lease no longer (it expired there, or a recovering member could not
    // adopt it), unless the session released it meanwhile.
    if (r.code == 503) return retry_soon();
    bool still_held = false;
    each([&](const lease_handle& h) { still_held = still_held || (h.held() && h.id() == id); });
    if (still_held) lose();
  }

  void lose() {
    if (stopped) return;
    stopped = true;
    timer.cancel();
    auto f = std::move(lost);
    if (f) f();
  }
};

lease_keeper::lease_keeper(const boost::asio::any_io_executor& ex, bridge& to_actors)
    : s_(std::make_shared<state>(ex, to_actors)) {}

void lease_keeper::start(std::chrono::milliseconds ttl, each_fn each, std::function<void()> lost) {
  if (ttl.count() <= 0 || s_->stopped) return;
  s_->ttl = ttl;
  s_->each = std::move(each);
  s_->lost = std::move(lost);
  s_->arm(ttl / 3);
}

void lease_keeper::stop() {
  if (!s_ || s_->stopped) return;
  s_->stopped = true;
  s_->timer.cancel();
  s_->each = nullptr;
  s_->lost = nullptr;
}

}  // namespace usher::actors::http

#pragma once
/// Open WebSocket connections of one account, capped (the exclusive family:
/// 5 x concurrency). Connections are named by the caller's ids; each opening
/// gets an instance number so a late close of an old instance cannot close a
/// newer connection that reused the id.
///
/// Owned by one engine; not thread-safe.

#include <cstdint>
#include <unordered_map>

namespace usher::policies {

class connection_cap {
 public:
  static constexpr std::int64_t unlimited = -1;

  explicit connection_cap(std::int64_t max_open = unlimited) : max_open_(max_open) {}

  [[nodiscard]] bool has_room() const {
    return max_open_ == unlimited || static_cast<std::int64_t>(open_.size()) < max_open_;
  }
  bool is_open(std::uint64_t conn) const { return open_.count(conn) != 0; }

  /// Opens (or reopens) `conn` as `instance`. REQUIRES: has_room() or is_open(conn).
  void open(std::uint64_t conn, std::uint64_t instance) { open_[conn] = instance; }

  /// Closes `conn` if it is open as `instance`; returns whether it closed.
  bool close(std::uint64_t conn, std::uint64_t instance) {
    auto i = open_.find(conn);
    if (i == open_.end() || i->second != instance) return false;
    open_.erase(i);
    return true;
  }

  /// Closes `conn` whatever its instance; returns whether it was open.
  bool close(std::uint64_t conn) { return open_.erase(conn) != 0; }

  std::int64_t open_count() const { return static_cast<std::int64_t>(open_.size()); }
  std::int64_t max_open() const { return max_open_; }

 private:
  std::int64_t max_open_;
  std::unordered_map<std::uint64_t, std::uint64_t> open_;
};

}  // namespace usher::policies

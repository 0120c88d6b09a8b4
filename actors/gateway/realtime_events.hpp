#pragma once
/// What the gateway reads from the frames of a realtime session
/// (GET /v1/realtime passed through, docs/GATEWAY.md): the few members of an
/// OpenAI Realtime event that decide when a response's slot is taken and
/// freed. Frames are relayed unchanged otherwise; a response.create without
/// an event_id gets one, so that an error the server answers it with can
/// name it.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace usher::actors::gateway {

/// The members of one event that matter to the gateway; "" when absent.
struct realtime_event {
  std::string type;            ///< "response.create", "response.done", "error", ...
  std::string event_id;        ///< the event's own id
  std::string response_id;     ///< response.id (created, done), or a top-level response_id
  std::string error_event_id;  ///< error.event_id: the client event an error answers
};

/// Reads `text` (one text frame). False: not a JSON object (from a client,
/// not passed on: the model server might read it otherwise).
bool read_realtime_event(std::string_view text, realtime_event& out);

/// `frame` (a JSON object) with `"event_id":ID` as its first member.
std::string with_event_id(std::string_view frame, std::string_view id);

/// The percent-decoded value of query parameter `name` in a request target
/// ("/v1/realtime?model=x"); nullopt when absent.
std::optional<std::string> query_parameter(std::string_view target, std::string_view name);

/// Which slot (a lease id) belongs to which response of one realtime
/// session. A response.create the account admitted is pending until the
/// server names its response (response.created) or refuses it (an error
/// naming its event_id); a response ends at its response.done. A response
/// the server made on its own (voice activity detection) has no pending
/// slot: the session admits one when it is created. Clock-free and
/// I/O-free: the session feeds it events and releases what it returns.
class response_slots {
 public:
  /// A response.create with event id `event_id` was admitted under `lease`.
  void asked(std::string lease, std::string event_id);
  /// response.created for `response_id`: true when a pending slot is now its
  /// own, false when none was pending (the server made the response).
  bool created(const std::string& response_id);
  /// A slot admitted for a response the server made (`response_id`), once
  /// the admission answered. True: the response runs, the slot is its own;
  /// false: it ended meanwhile, the caller releases `lease` at once.
  bool adopt(const std::string& response_id, std::string lease);
  /// The account refused a slot to the server's response `response_id`
  /// (it is being cancelled): its response.done frees nothing.
  void forget(const std::string& response_id);
  /// response.done: the slot to free ("" when none: a response the account
  /// refused, or one already cut).
  std::string done(const std::string& response_id);
  /// An error event answering client event `event_id`: the pending slot of
  /// that response.create, or "".
  std::string refused(const std::string& event_id);
  /// Every slot held or pending, and forgets them (the session stalls, ends).
  std::vector<std::string> take_all();
  /// Slots held or pending.
  std::size_t size() const { return pending_.size() + running_.size(); }
  /// A response the server made runs without a slot yet (its admission is
  /// asked).
  bool unadmitted(const std::string& response_id) const;

 private:
  struct pending {
    std::string lease, event_id;
  };
  struct running {
    std::string response_id, lease;  ///< lease "": being admitted
  };
  std::vector<pending> pending_;  ///< oldest first: the server answers in order
  std::vector<running> running_;
};

}  // namespace usher::actors::gateway

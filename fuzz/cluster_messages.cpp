/// Fuzz target: bytes as a message one cluster member received from another
/// over CAF's middleman. The input's first byte picks one of the types
/// members send each other (beats, handoffs, replica messages and their
/// acks, and the forwarded admissions, leases, tickets and queries with
/// their answers); the rest is decoded by CAF's binary_deserializer through
/// that type's inspect() (actors/messages.hpp, actors/cluster/cluster_node.hpp),
/// as the middleman decodes what a peer sends.
///
/// Oracles beyond "no crash, no leak, no UB":
///  - the bytes decode or are refused with an error, nothing else;
///  - what decodes re-encodes to bytes that decode and re-encode to the same
///    bytes (a message a member relays reaches the next one unchanged);
///  - a decoded beat, and the same beat made to pass the checks a peer's
///    beat must pass (its sender a member, its vectors one entry per member,
///    the receiver's limits digest), taken in by a member's view
///    (cluster_view::receive, then decide), leaves it answering; a decoded
///    handoff is accepted or refused by that view (accept_handoff), and a
///    group it does not know is not one (group_of).

#include <caf/all.hpp>

#include <memory>
#include <vector>

#include "actors/cluster/cluster_node.hpp"
#include "actors/cluster/cluster_view.hpp"
#include "actors/cluster/placement.hpp"
#include "actors/messages.hpp"
#include "fuzz/fuzz_support.hpp"

using namespace usher;
using namespace usher::actors;
using namespace usher::actors::cluster;

namespace {

caf::actor_system& system_once() {
  static auto* cfg = [] {
    auto* c = new caf::actor_system_config;
    add_message_types(*c);
    add_cluster_message_types(*c);
    c->set("scheduler.policy", caf::atom("testing"));
    c->set("logger.verbosity", caf::atom("quiet"));
    return c;
  }();
  static auto* sys = new caf::actor_system(*cfg);
  return *sys;
}

const std::vector<std::string>& member_names() {
  static const std::vector<std::string> names = {"a", "b", "c"};
  return names;
}

const std::vector<std::string>& group_keys() {
  static const std::vector<std::string> keys = {"account:acme", "account:beta", "plan:shared"};
  return keys;
}

const std::string digest = "fuzz-digest";

// Member a's view, fresh for each input: what it holds depends on what it
// has heard, so each input starts from the same state.
cluster_view view_of_a() {
  cluster_view::settings s;
  s.names = member_names();
  s.self = 0;
  s.groups = group_keys();
  s.digest = digest;
  return cluster_view(s, 42, policies::seconds(10));
}

template <class T>
void round_trip(caf::actor_system& sys, T& decoded) {
  std::vector<char> once, twice;
  caf::binary_serializer sink{sys, once};
  if (auto err = sink(decoded)) fuzz::fail("a decoded message does not encode", sys.render(err));
  T again;
  caf::binary_deserializer source{sys, once};
  if (auto err = source(again)) fuzz::fail("an encoded message does not decode", sys.render(err));
  caf::binary_serializer sink2{sys, twice};
  if (auto err = sink2(again)) fuzz::fail("a re-decoded message does not encode", sys.render(err));
  if (once != twice) fuzz::fail("a message changes on its way through a second member");
}

// The view keeps working: a beat of its own, a decision.
void still_answers(cluster_view& v, policies::usec now) {
  auto own = v.next_beat(now);
  if (own.from != v.self() || own.gens.size() != member_names().size())
    fuzz::fail("the view's own beat is malformed after a peer's");
  std::vector<cluster_view::action> actions;
  v.decide(now, actions);
  for (auto& a : actions)
    if (a.group >= group_keys().size() && a.what != cluster_view::action::kind::resign &&
        a.what != cluster_view::action::kind::switch_limits)
      fuzz::fail("an action on a group the view does not have");
}

void take_beat(const beat& wire) {
  auto v = view_of_a();
  auto now = policies::seconds(11);
  v.receive(wire, now);
  still_answers(v, now);
  // The same beat as one that passes the checks: what a peer with the
  // same config could send, its other fields as the bytes say.
  beat b = wire;
  const auto n = member_names().size();
  b.from = 1 + b.from % static_cast<std::uint32_t>(n - 1);
  for (auto* per_member : {&b.gens, &b.acks, &b.over}) per_member->resize(n);
  b.heard.resize(n);
  for (auto* notes : {&b.promises, &b.handed, &b.handing})
    for (auto& x : *notes) x.member %= static_cast<std::uint32_t>(n);
  for (auto& x : b.taken) x.from %= static_cast<std::uint32_t>(n);
  // Groups it names: mostly ones the view knows, by their wire ids.
  auto known = [&](group_id id) { return id % 4 < 3 ? group_id_of(group_keys()[id % 3]) : id; };
  for (auto* ids : {&b.held, &b.lost, &b.claims})
    for (auto& id : *ids) id = known(id);
  for (auto* notes : {&b.promises, &b.handed, &b.handing})
    for (auto& x : *notes) x.group = known(x.group);
  for (auto& x : b.taken) x.group = known(x.group);
  b.digest = digest;
  if (!b.next_digest.empty() && b.next_digest.size() % 2 == 0) b.next_digest = digest;
  v = view_of_a();
  v.receive(b, now);
  still_answers(v, now);
  // Heard again a heartbeat later, then silent past failure_timeout.
  b.seq += 1;
  v.receive(b, now + policies::seconds(1) / 2);
  still_answers(v, now + policies::seconds(1) / 2);
  still_answers(v, now + policies::seconds(5));
}

void take_handoff(const handoff_msg& h) {
  auto v = view_of_a();
  auto now = policies::seconds(11);
  auto g = v.group_of(h.group);
  if (g && *g >= group_keys().size()) fuzz::fail("a wire id mapped to a group the view does not have");
  if (g) v.accept_handoff(*g, h.from, h.from_gen, h.to_gen, h.id);
  // And as one for a group it knows.
  v.accept_handoff(static_cast<std::uint32_t>(h.group % group_keys().size()), h.from, h.from_gen,
                   h.to_gen, h.id);
  still_answers(v, now);
}

template <class T, class Then>
void decode(caf::actor_system& sys, const char* data, std::size_t size, Then then) {
  T x;
  caf::binary_deserializer source{sys, data, size};
  if (source(x)) return;  // refused: the middleman drops it
  round_trip(sys, x);
  then(x);
}

template <class T>
void decode(caf::actor_system& sys, const char* data, std::size_t size) {
  decode<T>(sys, data, size, [](const T&) {});
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  auto& sys = system_once();
  const auto* bytes = reinterpret_cast<const char*>(data + 1);
  const auto n = size - 1;
  switch (data[0] % 16) {
    case 0: decode<beat>(sys, bytes, n, take_beat); break;
    case 1: decode<handoff_msg>(sys, bytes, n, take_handoff); break;
    case 2: decode<replica_msg>(sys, bytes, n); break;
    case 3: decode<replica_ack>(sys, bytes, n); break;
    case 4: decode<admit_request>(sys, bytes, n); break;
    case 5: decode<admit_reply>(sys, bytes, n); break;
    case 6: decode<cancel_request>(sys, bytes, n); break;
    case 7: decode<lease_request>(sys, bytes, n); break;
    case 8: decode<lease_reply>(sys, bytes, n); break;
    case 9: decode<ticket_poll>(sys, bytes, n); break;
    case 10: decode<ticket_cancel>(sys, bytes, n); break;
    case 11: decode<usage_query>(sys, bytes, n); break;
    case 12: decode<concurrency_snapshot>(sys, bytes, n); break;
    case 13: decode<live_metrics>(sys, bytes, n); break;
    case 14: decode<cluster_status>(sys, bytes, n); break;
    default: decode<metrics_query>(sys, bytes, n); break;
  }
  return 0;
}

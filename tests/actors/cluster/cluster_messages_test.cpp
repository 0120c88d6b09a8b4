// The messages between cluster members cross the wire through their
// inspect() (actors/cluster/cluster_node.hpp): a field left out of it
// arrives as its default on the other member. A beat and a handoff with
// every field set must come back equal from CAF's binary serialization.
#include <catch2/catch.hpp>

#include <caf/all.hpp>
#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "actors/cluster/cluster_node.hpp"

using namespace usher::actors;
using namespace usher::actors::cluster;

namespace {

template <class T>
T round_trip(caf::actor_system& sys, T x) {
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  REQUIRE(!sink(x));
  T back;
  caf::binary_deserializer source{sys, buf};
  REQUIRE(!source(back));
  return back;
}

}  // namespace

TEST_CASE("a beat and a handoff cross the wire with every field") {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  beat b;
  b.from = 2;
  b.incarnation = 0x1234567890abcdefULL;
  b.seq = 77;
  b.gens = {1, 2, 3};
  b.over = {1, 0, 3};
  b.acks = {5, 0, 9};
  b.heard = {1, 1, 0};
  b.held = {4, 8};
  b.handing = {group_note{8, 1, 0}};
  b.lost = {15};
  b.claims = {16, 23};
  b.promises = {group_note{16, 1, 3}};
  b.handed = {group_note{42, 0, 99}};
  b.taken = {taken_note{43, 2, handoff_id{7, 12}}};
  b.digest = "9c42e634";
  b.leaving = true;
  auto x = round_trip(sys, b);
  CHECK(x.from == b.from);
  CHECK(x.incarnation == b.incarnation);
  CHECK(x.seq == b.seq);
  CHECK(x.gens == b.gens);
  CHECK(x.over == b.over);
  CHECK(x.acks == b.acks);
  CHECK(x.heard == b.heard);
  CHECK(x.held == b.held);
  REQUIRE(x.handing.size() == 1);
  CHECK((x.handing[0].group == 8 && x.handing[0].member == 1));
  CHECK(x.lost == b.lost);
  CHECK(x.claims == b.claims);
  REQUIRE(x.promises.size() == 1);
  CHECK((x.promises[0].group == 16 && x.promises[0].member == 1 && x.promises[0].seq == 3));
  REQUIRE(x.handed.size() == 1);
  CHECK((x.handed[0].group == 42 && x.handed[0].member == 0 && x.handed[0].seq == 99));
  REQUIRE(x.taken.size() == 1);
  CHECK((x.taken[0].group == 43 && x.taken[0].from == 2 && x.taken[0].id.incarnation == 7 &&
         x.taken[0].id.seq == 12));
  CHECK(x.digest == b.digest);
  CHECK(x.leaving);

  handoff_msg h;
  h.group = 7;
  h.from = 1;
  h.from_gen = 4;
  h.to_gen = 6;
  h.id = handoff_id{0xfeedull, 12};
  h.moved.leases = {moved_lease{"acme", "lease-1", "gpt", "prod", 3, 1500000}};
  auto& socket_held = h.moved.leases.emplace_back();
  socket_held.account = "acme";
  socket_held.held_by_connection = socket_held.holds_connection = true;
  socket_held.conn = (std::uint64_t{2} << 56) | 17;
  socket_held.conn_instance = 5;
  moved_account a;
  a.account = "acme";
  a.buckets = {moved_bucket{"", 5, 70, -2000}, moved_bucket{"gpt", 1, 2, -3}};
  a.has_sessions = true;
  a.sessions_cap = 11;
  a.sessions_opened = 9;
  a.sessions_window_end_us = 59000000;
  a.gates = {moved_gate_state{"peak", std::string("7\0x", 3)}};
  a.mean_hold_us = 2.5e6;
  a.adaptive_limit = 1.5;
  h.moved.accounts = {a};
  auto y = round_trip(sys, h);
  CHECK(y.group == 7);
  CHECK(y.from == 1);
  CHECK(y.from_gen == 4);
  CHECK(y.to_gen == 6);
  CHECK((y.id.incarnation == 0xfeedull && y.id.seq == 12));
  REQUIRE(y.moved.leases.size() == 2);
  CHECK_FALSE(y.moved.leases[0].held_by_connection);
  auto& c = y.moved.leases[1];
  CHECK((c.held_by_connection && c.holds_connection && c.conn == ((std::uint64_t{2} << 56) | 17) &&
         c.conn_instance == 5));
  auto& l = y.moved.leases[0];
  CHECK((l.account == "acme" && l.lease == "lease-1" && l.model == "gpt" && l.product == "prod"));
  CHECK(l.cost == 3);
  CHECK(l.ttl_left_us == 1500000);
  REQUIRE(y.moved.accounts.size() == 1);
  auto& m = y.moved.accounts[0];
  CHECK(m.account == "acme");
  REQUIRE(m.buckets.size() == 2);
  CHECK((m.buckets[0].model == "" && m.buckets[0].requests == 5 && m.buckets[0].tokens == 70 &&
         m.buckets[0].at_us == -2000));
  CHECK((m.buckets[1].model == "gpt" && m.buckets[1].at_us == -3));
  CHECK((m.has_sessions && m.sessions_cap == 11 && m.sessions_opened == 9 &&
         m.sessions_window_end_us == 59000000));
  REQUIRE(m.gates.size() == 1);
  CHECK((m.gates[0].gate == "peak" && m.gates[0].bytes == std::string("7\0x", 3)));
  CHECK(m.mean_hold_us == 2.5e6);
  CHECK(m.adaptive_limit == 1.5);
}

TEST_CASE("a replica's image of the accounts crosses the wire with every field") {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  replica_msg m;
  m.what = replica_msg::image;
  m.group = 7;
  m.from = 1;
  m.from_gen = 12;
  m.to_gen = 13;
  m.copy = 99;
  m.seq = 4;
  m.recover_left_us = 250;
  moved_account a;
  a.account = "acme";
  a.buckets = {moved_bucket{"", 3, 4'000, -1'500}, moved_bucket{"m1", 1, 0, 0}};
  a.has_sessions = true;
  a.sessions_cap = 10;
  a.sessions_opened = 6;
  a.sessions_window_end_us = 30'000'000;
  a.gates = {moved_gate_state{"peak", std::string("\x01\x00\xff", 3)}};
  a.mean_hold_us = 1.5e6;
  a.adaptive_limit = 7.25;
  m.accounts = {a};
  auto x = round_trip(sys, m);
  CHECK(x.what == replica_msg::image);
  CHECK((x.group == 7 && x.from == 1 && x.from_gen == 12 && x.to_gen == 13));
  CHECK((x.copy == 99 && x.seq == 4 && x.recover_left_us == 250));
  REQUIRE(x.accounts.size() == 1);
  auto& y = x.accounts[0];
  CHECK(y.account == "acme");
  REQUIRE(y.buckets.size() == 2);
  CHECK((y.buckets[0].requests == 3 && y.buckets[0].tokens == 4'000 && y.buckets[0].at_us == -1'500));
  CHECK(y.buckets[1].model == "m1");
  CHECK((y.has_sessions && y.sessions_cap == 10 && y.sessions_opened == 6));
  CHECK(y.sessions_window_end_us == 30'000'000);
  REQUIRE(y.gates.size() == 1);
  CHECK((y.gates[0].gate == "peak" && y.gates[0].bytes == std::string("\x01\x00\xff", 3)));
  CHECK(y.mean_hold_us == 1.5e6);
  CHECK(y.adaptive_limit == 7.25);
}

TEST_CASE("a beat claiming more members than its bytes hold is refused without allocating them") {
  // CAF 0.17 sizes a vector of bytes from the length the message claims
  // before reading it: a beat whose `heard` claimed 2^32 entries made a
  // member allocate 4 GB (found by fuzz/cluster_messages). Now the decoding
  // stops where the bytes end, having allocated nothing of the sort.
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto bytes_of = [&](beat b) {
    std::vector<char> buf;
    caf::binary_serializer sink{sys, buf};
    REQUIRE(!sink(b));
    return buf;
  };
  beat none, one;
  one.heard = {1};
  auto a = bytes_of(none), b = bytes_of(one);
  // Where `heard`'s length is: the first byte the two differ in.
  std::size_t at = 0;
  while (at < a.size() && a[at] == b[at]) ++at;
  REQUIRE(at < a.size());
  REQUIRE(b[at] == 1);
  // The same beat as bytes: a length of 2^31 (varbyte), then nothing.
  a.resize(at);
  for (char c : {'\x80', '\x80', '\x80', '\x80', '\x08'}) a.push_back(c);
  auto peak_mb = [] {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss / 1024;  // (kilobytes on Linux)
  };
  auto before = peak_mb();
  beat back;
  caf::binary_deserializer source{sys, a};
  CHECK(source(back));  // an error
  CHECK(peak_mb() - before < 256);  // not the 2 GB claimed
  // A beat's bytes are what they were (members of older builds read them):
  // `heard`'s length, then one byte per member.
  REQUIRE(b.size() == a.size() - 5 + 2 + (bytes_of(none).size() - at - 1));
  CHECK(b[at + 1] == 1);
  one.heard = {1, 0, 1};
  auto three = bytes_of(one);
  std::vector<char> expected(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(at));
  for (char c : {'\x03', '\x01', '\x00', '\x01'}) expected.push_back(c);
  expected.insert(expected.end(), b.begin() + static_cast<std::ptrdiff_t>(at) + 2, b.end());
  CHECK(three == expected);
  beat again;
  caf::binary_deserializer three_back{sys, three};
  REQUIRE(!three_back(again));
  CHECK(again.heard == one.heard);
}

TEST_CASE("doubles cross the wire finite: an infinite one neither hangs the sender nor comes out of a message") {
  // CAF 0.17 packs an infinite double in a loop that never ends: a member
  // sending one (an account's mean hold, a plug-in gate's reported value)
  // hung its middleman, and a message could decode to one (found by
  // fuzz/cluster_messages).
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  const double inf = std::numeric_limits<double>::infinity();
  const double biggest = std::numeric_limits<double>::max();
  moved_account a;
  a.account = "acme";
  a.mean_hold_us = inf;
  a.adaptive_limit = std::nan("");
  auto back = round_trip(sys, a);
  CHECK(back.mean_hold_us == biggest);
  CHECK(back.adaptive_limit == 0);
  a.mean_hold_us = -inf;
  CHECK(round_trip(sys, a).mean_hold_us == -biggest);

  account_metrics m;
  m.account = "acme";
  m.gates = {{"quota.left", inf}, {"quota.used", 2.5}};
  auto mb = round_trip(sys, m);
  REQUIRE(mb.gates.size() == 2);
  CHECK(mb.gates[0] == std::make_pair(std::string("quota.left"), biggest));
  CHECK(mb.gates[1] == std::make_pair(std::string("quota.used"), 2.5));

  // Finite values go as the same bytes as before (members of older builds
  // read them): a vector of pairs as CAF writes one.
  std::vector<char> wrapped, plain;
  m.gates = {{"quota.used", 2.5}, {"x", -1e300}};
  caf::binary_serializer wrapped_sink{sys, wrapped}, plain_sink{sys, plain};
  REQUIRE(!wrapped_sink(wire_named_values{m.gates}));
  REQUIRE(!plain_sink(m.gates));
  CHECK(wrapped == plain);

  // A message whose double decodes to infinity (biased exponent 2047) comes
  // out finite, so the member can send it on.
  a.mean_hold_us = 1.0;  // packed as 0x3ff0000000000000
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  REQUIRE(!sink(a));
  const char one[] = {'\x3f', '\xf0', 0, 0, 0, 0, 0, 0};
  auto at = std::search(buf.begin(), buf.end(), std::begin(one), std::end(one));
  if (at == buf.end()) {  // little-endian on the wire
    const char one_le[] = {0, 0, 0, 0, 0, 0, '\xf0', '\x3f'};
    at = std::search(buf.begin(), buf.end(), std::begin(one_le), std::end(one_le));
    REQUIRE(at != buf.end());
    at[6] = '\xf0';
    at[7] = '\x7f';
  } else {
    at[0] = '\x7f';
    at[1] = '\xf0';
  }
  moved_account decoded;
  caf::binary_deserializer source{sys, buf};
  REQUIRE(!source(decoded));
  CHECK(decoded.mean_hold_us == biggest);
  CHECK(!round_trip(sys, decoded).account.empty());  // and it goes on
}

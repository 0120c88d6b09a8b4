// The messages between cluster members cross the wire through their
// inspect() (actors/cluster/cluster_node.hpp): a field left out of it
// arrives as its default on the other member. A beat and a handoff with
// every field set must come back equal from CAF's binary serialization.
#include <catch2/catch.hpp>

#include <caf/all.hpp>

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
  b.lost = {15};
  b.claims = {16, 23};
  b.promises = {group_note{16, 1, 3}};
  b.handed = {group_note{42, 0, 99}};
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
  CHECK(x.lost == b.lost);
  CHECK(x.claims == b.claims);
  REQUIRE(x.promises.size() == 1);
  CHECK((x.promises[0].group == 16 && x.promises[0].member == 1 && x.promises[0].seq == 3));
  REQUIRE(x.handed.size() == 1);
  CHECK((x.handed[0].group == 42 && x.handed[0].member == 0 && x.handed[0].seq == 99));
  CHECK(x.digest == b.digest);
  CHECK(x.leaving);

  handoff_msg h;
  h.group = 7;
  h.from = 1;
  h.from_gen = 4;
  h.leases = {moved_lease{"acme", "lease-1", "gpt", "prod", 3, 1500000}};
  auto y = round_trip(sys, h);
  CHECK(y.group == 7);
  CHECK(y.from == 1);
  CHECK(y.from_gen == 4);
  REQUIRE(y.leases.size() == 1);
  auto& l = y.leases[0];
  CHECK((l.account == "acme" && l.lease == "lease-1" && l.model == "gpt" && l.product == "prod"));
  CHECK(l.cost == 3);
  CHECK(l.ttl_left_us == 1500000);
}

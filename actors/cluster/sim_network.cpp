#include "actors/cluster/sim_network.hpp"

#include <unordered_map>

namespace usher::actors::cluster {

using policies::usec;

namespace {

/// A link's own timer: message `index` has crossed.
using arrive_atom = caf::atom_constant<caf::atom("sim_arrive")>;
/// The network to a link: a partition healed; send on what it held.
using heal_atom = caf::atom_constant<caf::atom("sim_heal")>;

struct link_state {
  /// Messages in flight: the promise that carries each to the receiver with
  /// its sender and request id (delegation), and the message.
  std::unordered_map<std::uint64_t, std::pair<caf::response_promise, caf::message>> in_flight;
  std::vector<std::uint64_t> held;  ///< in_flight indexes a partition holds, in the order sent
  std::uint64_t next = 0;
  static inline const char* name = "usher.sim_link";
};

// Message `index` starts across (again, after a partition).
void send_on(caf::stateful_actor<link_state>* self, sim_network* net, std::uint32_t from,
             std::uint32_t to, std::uint64_t index) {
  auto& st = self->state;
  auto fate = net->fate(from, to);
  using kind = sim_network::fate_of::kind;
  switch (fate.what) {
    case kind::lost: st.in_flight.erase(index); break;
    case kind::held: st.held.push_back(index); break;
    case kind::arrives:
      self->delayed_send(self, std::chrono::microseconds(fate.delay), arrive_atom::value, index);
  }
}

caf::behavior link_behavior(caf::stateful_actor<link_state>* self, sim_network* net,
                            std::uint32_t from, std::uint32_t to) {
  self->set_default_handler(
      [=](caf::scheduled_actor*, caf::message_view& x) -> caf::result<caf::message> {
        // Taking the promise marks a request as answered here: the receiver answers it.
        auto rp = self->make_response_promise();
        auto& st = self->state;
        auto index = st.next++;
        st.in_flight.emplace(index, std::make_pair(std::move(rp), x.move_content_to_message()));
        send_on(self, net, from, to, index);
        return caf::delegated<caf::message>{};
      });
  return {
      [=](heal_atom) {
        auto held = std::move(self->state.held);
        self->state.held.clear();
        for (auto index : held) send_on(self, net, from, to, index);
      },
      [=](arrive_atom, std::uint64_t index) {
        auto& st = self->state;
        auto i = st.in_flight.find(index);
        if (i == st.in_flight.end()) return;
        auto [rp, msg] = std::move(i->second);
        st.in_flight.erase(i);
        if (auto& node = net->node(to)) rp.delegate(node, std::move(msg));
      },
  };
}

}  // namespace

sim_network::sim_network(caf::actor_system& sys, std::size_t members, std::uint64_t seed)
    : sys_(sys),
      nodes_(members),
      links_(members, std::vector<caf::actor>(members)),
      rng_(seed) {}

sim_network::~sim_network() {
  for (std::uint32_t m = 0; m < nodes_.size(); ++m) crashed(m);
}

void sim_network::started(std::uint32_t m, caf::actor node) { nodes_[m] = std::move(node); }

void sim_network::crashed(std::uint32_t m) {
  nodes_[m] = nullptr;
  for (std::uint32_t o = 0; o < nodes_.size(); ++o)
    for (auto* l : {&links_[m][o], &links_[o][m]})
      if (*l) {
        caf::anon_send_exit(*l, caf::exit_reason::kill);
        *l = nullptr;
      }
}

caf::actor sim_network::link(std::uint32_t from, std::uint32_t to) {
  if (!nodes_[to] || !nodes_[from]) return nullptr;
  auto& l = links_[from][to];
  if (!l) l = sys_.spawn(link_behavior, this, from, to);
  return l;
}

void sim_network::set_delay(usec min, usec max) {
  delay_min_ = min;
  delay_max_ = std::max(min, max);
}

void sim_network::set_drop(double probability) { drop_ = probability; }

void sim_network::partition(std::size_t key, std::vector<int> side) {
  partitions_[key] = std::move(side);
}

void sim_network::heal(std::size_t key) {
  partitions_.erase(key);
  for (auto& row : links_)
    for (auto& l : row)
      if (l) caf::anon_send(l, heal_atom::value);
}

sim_network::fate_of sim_network::fate(std::uint32_t from, std::uint32_t to) {
  using kind = fate_of::kind;
  for (auto& [key, side] : partitions_)
    if (side[from] != side[to]) return {kind::held, 0};
  // The same two draws per message whatever the settings: a fault added to
  // a schedule does not shift every later draw.
  double lose = policies::uniform01(rng_);
  double when = policies::uniform01(rng_);
  if (lose < drop_) {
    ++lost_;
    return {kind::lost, 0};
  }
  return {kind::arrives,
          delay_min_ + static_cast<usec>(when * static_cast<double>(delay_max_ - delay_min_))};
}

}  // namespace usher::actors::cluster

#include "policies/gate.hpp"

namespace usher::policies {

#define USHER_BUILTIN_GATE(type, summary) std::unique_ptr<gate> make_##type(gate_params&, const plan&);
#include "policies/gates/builtin.hpp"
#undef USHER_BUILTIN_GATE

gate_registry& gate_registry::global() {
  static gate_registry* registry = [] {
    auto* r = new gate_registry();  // never destroyed: libraries' gates may outlive static destruction
#define USHER_BUILTIN_GATE(type, summary) r->add(#type, make_##type, summary);
#include "policies/gates/builtin.hpp"
#undef USHER_BUILTIN_GATE
    return r;
  }();
  return *registry;
}

}  // namespace usher::policies

#pragma once
/// Loads the gate libraries a plan names (`library = FILE` in a [gate.NAME]
/// section, policies/gate.hpp), so their gate types are registered before the
/// plan is built. A library is a shared object built against this version's
/// policies/gate.hpp (examples/peak_hours_gate/); it is loaded once per
/// process and never unloaded.

#include <string>
#include <vector>

#include "policies/plan.hpp"

namespace usher::traces {

/// For every `gate.NAME.library` setting: resolves a relative path against
/// `base_dir` (empty: the working directory), writing the absolute path
/// back, and loads the library. Throws input_error naming the setting when
/// the file cannot be loaded, exports no usher_register_gates, or was built
/// for another gate ABI.
void load_gate_libraries(std::vector<policies::plan::setting>& settings, const std::string& base_dir);

}  // namespace usher::traces

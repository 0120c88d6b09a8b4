#include "traces/gate_library.hpp"

#include <dlfcn.h>

#include <filesystem>
#include <mutex>
#include <set>

#include "policies/gate.hpp"
#include "policies/input_error.hpp"

namespace usher::traces {

using policies::input_error;

namespace {

bool is_library_key(const std::string& key) {
  const std::string prefix = "gate.", suffix = ".library";
  return key.size() > prefix.size() + suffix.size() && key.compare(0, prefix.size(), prefix) == 0 &&
         key.compare(key.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void load(const policies::plan::setting& s) {
  static std::mutex mutex;
  static std::set<std::string> loaded;
  std::lock_guard<std::mutex> lock(mutex);
  if (loaded.count(s.value)) return;
  void* handle = ::dlopen(s.value.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = ::dlerror();
    throw input_error::at(s.where, 0, s.key,
                          "cannot load the gate library " + policies::quoted(s.value) + ": " +
                              (why ? why : "unknown error"));
  }
  auto abi = reinterpret_cast<int (*)()>(::dlsym(handle, "usher_gate_abi"));
  auto add = reinterpret_cast<void (*)(policies::gate_registry&)>(::dlsym(handle, "usher_register_gates"));
  if (!abi || !add)
    throw input_error::at(s.where, 0, s.key,
                          policies::quoted(s.value) +
                              " is not a gate library (no USHER_GATE_LIBRARY in it; docs/GATES.md)");
  if (abi() != policies::gate_abi_version)
    throw input_error::at(s.where, 0, s.key,
                          policies::quoted(s.value) + " was built for gate ABI " + std::to_string(abi()) +
                              ", this usher has " + std::to_string(policies::gate_abi_version) +
                              ": rebuild it against this usher's policies/gate.hpp");
  add(policies::gate_registry::global());
  loaded.insert(s.value);
}

}  // namespace

void load_gate_libraries(std::vector<policies::plan::setting>& settings, const std::string& base_dir) {
  namespace fs = std::filesystem;
  for (auto& s : settings) {
    if (!is_library_key(s.key)) continue;
    if (s.value.empty()) throw input_error::at(s.where, 0, s.key, "expected the path of a gate library");
    fs::path file = s.value;
    if (file.is_relative()) file = fs::absolute(base_dir.empty() ? file : fs::path(base_dir) / file);
    s.value = file.lexically_normal().string();
    load(s);
  }
}

}  // namespace usher::traces

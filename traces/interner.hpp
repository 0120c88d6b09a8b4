#pragma once
/// Maps names (accounts, keys, models, products, connections) to dense ids in
/// order of first appearance, and back. Ids are what policies compare; names
/// are what outputs print. First appearance in a sorted trace is the same on
/// every run, so ids, and everything ordered by them, are deterministic.

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace usher::traces {

class interner {
 public:
  std::uint32_t intern(std::string_view name) {
    auto i = ids_.find(std::string(name));
    if (i != ids_.end()) return i->second;
    auto id = static_cast<std::uint32_t>(names_.size());
    names_.emplace_back(name);
    ids_.emplace(names_.back(), id);
    return id;
  }
  const std::string& name(std::uint32_t id) const { return names_[id]; }
  std::size_t size() const { return names_.size(); }

 private:
  std::unordered_map<std::string, std::uint32_t> ids_;
  std::vector<std::string> names_;
};

}  // namespace usher::traces

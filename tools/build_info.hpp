#pragma once
/// What `usher --version` says, for code of the usher_tools library (the
/// generated usher_version.hpp is included by tools/build_info.cpp alone, so
/// a new commit recompiles that file only).

namespace usher::tools {

const char* build_version();  ///< the project version, e.g. "0.1.0"
const char* build_commit();   ///< the short commit built, or "unknown"

}  // namespace usher::tools

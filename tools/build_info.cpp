#include "tools/build_info.hpp"

#include "usher_version.hpp"  // generated at build time: cmake/UsherVersion.cmake

namespace usher::tools {

const char* build_version() { return USHER_VERSION; }
const char* build_commit() { return USHER_COMMIT; }

}  // namespace usher::tools

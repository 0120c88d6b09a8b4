#include "tools/systemd_notify.hpp"

// USHER_HAVE_SYSTEMD is set on this file alone (cmake/UsherPackaging.cmake),
// so a build with or without libsystemd recompiles nothing else.
#ifdef USHER_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

namespace usher::tools {

#ifdef USHER_HAVE_SYSTEMD

void notify_ready(const std::string& status) {
  // The STATUS= text is one line: a newline would start another assignment.
  std::string line = status;
  for (auto& c : line)
    if (c == '\n') c = ' ';
  sd_notify(0, ("READY=1\nSTATUS=" + line).c_str());
}

void notify_stopping() {
  sd_notify(0, "STOPPING=1\nSTATUS=stopping");
}

#else

void notify_ready(const std::string&) {}
void notify_stopping() {}

#endif

}  // namespace usher::tools

#include "coffer/util/crash_step.h"

#ifdef COFFER_CRASH_POINTS
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#endif

namespace coffer {

void crash_step([[maybe_unused]] const char* name) {
#ifdef COFFER_CRASH_POINTS
    static const char* const wanted = std::getenv("COFFER_CRASH_STEP");
    if (wanted && std::strcmp(wanted, name) == 0) ::kill(::getpid(), SIGKILL);
#endif
}

}  // namespace coffer

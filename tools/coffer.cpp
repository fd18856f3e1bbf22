// coffer: the command-line entry point. Everything lives in the cli layer.
#include <sys/prctl.h>
#include <sys/resource.h>

#include <csignal>

#include "coffer/cli/common.h"

int main(int argc, char** argv) {
    // Key material lives in this process's memory: never let it reach a core dump.
    struct rlimit no_core {
        0, 0
    };
    setrlimit(RLIMIT_CORE, &no_core);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    // A restore command or hook that exits early must not kill coffer through SIGPIPE: the
    // write fails with EPIPE and is reported instead.
    signal(SIGPIPE, SIG_IGN);
    return coffer::cli::run(argc, argv);
}

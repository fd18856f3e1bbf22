// Process: runs `sh -c COMMAND` with one pipe to it (its stdin or its stdout), keeps the tail of
// its stderr for error messages, and turns its exit status into a Status. Programs given as
// argv are found on PATH. Used for hooks, command sources and database tools. Owned by one
// thread; the stderr reader is internal.
#pragma once

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "coffer/util/status.h"

namespace coffer::source {

enum class Pipe { none, from_stdout, to_stdin };

class Process {
public:
    // extra_env entries are "NAME=value", added to (or replacing in) the current environment.
    // stdin_fd, with Pipe::from_stdout or Pipe::none, becomes the child's stdin instead of
    // /dev/null (the caller keeps and closes it): how a secret reaches a child without a file
    // or its command line.
    static Result<std::unique_ptr<Process>> start(const std::string& command, Pipe pipe,
                                                  const std::vector<std::string>& extra_env = {},
                                                  const std::vector<std::string>& argv = {},
                                                  int stdin_fd = -1);
    ~Process();

    // The parent's end of the pipe (-1 with Pipe::none). release_fd() hands it to the caller.
    int fd() const { return m_fd; }
    int release_fd();
    void close_fd();

    // Waits for exit. ok on status 0; otherwise Code::io "<what> failed (exit status N): <last
    // line of stderr>".
    Status wait(const std::string& what);
    // After wait(): the exit status, or 128 + the signal that ended the process.
    int exit_code() const { return m_exit_code; }
    // The last few KiB of its stderr (complete once wait() returned).
    const std::string& stderr_tail() const { return m_err_tail; }
    // While running, for sending it a signal; -1 once waited for.
    pid_t pid() const { return m_pid; }

private:
    Process() = default;
    pid_t m_pid = -1;
    int m_exit_code = -1;
    int m_fd = -1;
    int m_err_fd = -1;
    std::thread m_err_reader;
    std::string m_err_tail;
};

// Runs a command to completion with no pipe (hooks, health checks).
Status run_command(const std::string& command, const std::string& what,
                   const std::vector<std::string>& extra_env = {});

}  // namespace coffer::source

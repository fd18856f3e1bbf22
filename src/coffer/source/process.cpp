#include "coffer/source/process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>

extern char** environ;

namespace coffer::source {

namespace {

constexpr size_t k_stderr_tail = 4096;

std::vector<std::string> merged_environment(const std::vector<std::string>& extra) {
    std::map<std::string, std::string> env;
    for (char** e = environ; *e; ++e) {
        std::string kv = *e;
        size_t eq = kv.find('=');
        if (eq != std::string::npos) env[kv.substr(0, eq)] = kv;
    }
    for (const auto& kv : extra) {
        size_t eq = kv.find('=');
        if (eq != std::string::npos) env[kv.substr(0, eq)] = kv;
    }
    std::vector<std::string> out;
    for (auto& [k, v] : env) out.push_back(std::move(v));
    return out;
}

std::string last_line(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    size_t nl = s.rfind('\n');
    if (nl != std::string::npos) s = s.substr(nl + 1);
    if (s.size() > 300) s = s.substr(s.size() - 300);
    return s;
}

}  // namespace

Result<std::unique_ptr<Process>> Process::start(const std::string& command, Pipe pipe_kind,
                                                const std::vector<std::string>& extra_env,
                                                const std::vector<std::string>& argv_in,
                                                int stdin_fd) {
    int data[2] = {-1, -1}, err[2] = {-1, -1};
    if (pipe_kind != Pipe::none && pipe2(data, O_CLOEXEC) != 0)
        return errno_status("create pipe", errno);
    if (pipe2(err, O_CLOEXEC) != 0) {
        int e = errno;
        if (data[0] >= 0) ::close(data[0]), ::close(data[1]);
        return errno_status("create pipe", e);
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    const int child_stdin = stdin_fd >= 0 ? stdin_fd : devnull;
    if (pipe_kind == Pipe::from_stdout) {
        posix_spawn_file_actions_adddup2(&actions, data[1], STDOUT_FILENO);
        posix_spawn_file_actions_adddup2(&actions, child_stdin, STDIN_FILENO);
    } else if (pipe_kind == Pipe::to_stdin) {
        posix_spawn_file_actions_adddup2(&actions, data[0], STDIN_FILENO);
        posix_spawn_file_actions_adddup2(&actions, err[1], STDOUT_FILENO);
    } else {
        posix_spawn_file_actions_adddup2(&actions, child_stdin, STDIN_FILENO);
        posix_spawn_file_actions_adddup2(&actions, err[1], STDOUT_FILENO);
    }
    posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);

    std::vector<std::string> args =
        argv_in.empty() ? std::vector<std::string>{"/bin/sh", "-c", command} : argv_in;
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env = merged_environment(extra_env);
    std::vector<char*> envp;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);

    // The child must not inherit coffer's SIGPIPE disposition or signal mask.
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, all_default;
    sigemptyset(&none);
    sigemptyset(&all_default);
    sigaddset(&all_default, SIGPIPE);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all_default);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    std::unique_ptr<Process> p(new Process());
    int rc = posix_spawnp(&p->m_pid, argv[0], &actions, &attr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (devnull >= 0) ::close(devnull);
    ::close(err[1]);
    if (pipe_kind == Pipe::from_stdout) {
        ::close(data[1]);
        p->m_fd = data[0];
    } else if (pipe_kind == Pipe::to_stdin) {
        ::close(data[0]);
        p->m_fd = data[1];
    }
    if (rc != 0) {
        ::close(err[0]);
        p->close_fd();
        p->m_pid = -1;
        return errno_status("start '" + args[0] + "'", rc);
    }
    p->m_err_fd = err[0];
    Process* raw = p.get();
    p->m_err_reader = std::thread([raw] {
        char buf[4096];
        for (;;) {
            ssize_t n = ::read(raw->m_err_fd, buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            raw->m_err_tail.append(buf, static_cast<size_t>(n));
            if (raw->m_err_tail.size() > 2 * k_stderr_tail)
                raw->m_err_tail.erase(0, raw->m_err_tail.size() - k_stderr_tail);
        }
    });
    return p;
}

int Process::release_fd() {
    int fd = m_fd;
    m_fd = -1;
    return fd;
}

void Process::close_fd() {
    if (m_fd >= 0) ::close(m_fd);
    m_fd = -1;
}

Status Process::wait(const std::string& what) {
    close_fd();
    if (m_pid < 0) return internal_error(what + " was not started");
    int status = 0;
    while (waitpid(m_pid, &status, 0) < 0) {
        if (errno != EINTR) return errno_status("wait for " + what, errno);
    }
    m_pid = -1;
    if (m_err_reader.joinable()) m_err_reader.join();
    if (m_err_fd >= 0) ::close(m_err_fd);
    m_err_fd = -1;
    m_exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return ok_status();
    std::string why = WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                                        : "killed by signal " + std::to_string(WTERMSIG(status));
    std::string tail = last_line(m_err_tail);
    return io_error(what + " failed (" + why + ")" + (tail.empty() ? "" : ": " + tail));
}

Process::~Process() {
    close_fd();
    if (m_pid > 0) {
        kill(m_pid, SIGTERM);
        int status;
        waitpid(m_pid, &status, 0);
    }
    if (m_err_reader.joinable()) m_err_reader.join();
    if (m_err_fd >= 0) ::close(m_err_fd);
}

Status run_command(const std::string& command, const std::string& what,
                   const std::vector<std::string>& extra_env) {
    TRY_ASSIGN(auto p, Process::start(command, Pipe::none, extra_env));
    return p->wait(what);
}

}  // namespace coffer::source

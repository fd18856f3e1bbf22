#include "e2e/cli_helpers.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace coffer::e2e {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void fail_errno(const std::string& what, const std::string& path) {
    throw std::runtime_error(what + " " + printable(path) + ": " + std::strerror(errno));
}

bool starts_with(const std::string& s, const std::string& prefix) {
    return s.compare(0, prefix.size(), prefix) == 0;
}

void drain(int fd, std::string& into, bool& open) {
    char buf[65536];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
        into.append(buf, static_cast<size_t>(n));
    } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        ::close(fd);
        open = false;
    }
}

}  // namespace

// ---- processes -------------------------------------------------------------------------------

std::string RunResult::describe() const {
    auto cut = [](const std::string& s) {
        return s.size() > 4000 ? s.substr(0, 4000) + "...[truncated]" : s;
    };
    return "exit code " + std::to_string(exit_code) + "\n--- stdout ---\n" + cut(out) +
           "\n--- stderr ---\n" + cut(err);
}

nlohmann::json RunResult::json() const {
    return nlohmann::json::parse(out, nullptr, false);
}

bool RunResult::one_line_error() const {
    return starts_with(err, "coffer: ") && err.size() > 9 && err.back() == '\n' &&
           err.find('\n') == err.size() - 1;
}

RunResult run_process(const std::string& exe, const std::vector<std::string>& args,
                      const RunOptions& options) {
    // Everything the child needs is built before fork: after it only async-signal-safe calls.
    std::vector<std::string> argv_s{exe};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);

    std::map<std::string, std::string> env;
    for (char** e = environ; *e; ++e) {
        std::string kv = *e;
        size_t eq = kv.find('=');
        if (eq == std::string::npos) continue;
        std::string name = kv.substr(0, eq);
        if (starts_with(name, "COFFER_") || starts_with(name, "XDG_")) continue;
        env[name] = kv.substr(eq + 1);
    }
    for (const auto& [k, v] : options.env) {
        if (v)
            env[k] = *v;
        else
            env.erase(k);
    }
    std::vector<std::string> env_s;
    for (const auto& [k, v] : env) env_s.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& e : env_s) envp.push_back(e.data());
    envp.push_back(nullptr);

    int out_pipe[2], err_pipe[2];
    if (pipe2(out_pipe, O_CLOEXEC) != 0) fail_errno("pipe", "");
    if (options.stderr_tty) {
        // err_pipe[0] is the terminal's master side, err_pipe[1] its slave.
        if (openpty(&err_pipe[0], &err_pipe[1], nullptr, nullptr, nullptr) != 0)
            fail_errno("openpty", "");
        fcntl(err_pipe[0], F_SETFD, FD_CLOEXEC);
        fcntl(err_pipe[1], F_SETFD, FD_CLOEXEC);
    } else if (pipe2(err_pipe, O_CLOEXEC) != 0) {
        fail_errno("pipe", "");
    }
    const char* cwd = options.cwd.empty() ? nullptr : options.cwd.c_str();
    int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0) fail_errno("open", "/dev/null");
    if (!options.stdin_data.empty()) {
        // Small enough for the pipe's buffer: written whole before the child starts.
        int in_pipe[2];
        if (options.stdin_data.size() > 65536 || pipe2(in_pipe, O_CLOEXEC) != 0)
            fail_errno("pipe", "stdin");
        if (::write(in_pipe[1], options.stdin_data.data(), options.stdin_data.size()) !=
            static_cast<ssize_t>(options.stdin_data.size()))
            fail_errno("write", "stdin");
        ::close(in_pipe[1]);
        ::close(devnull);
        devnull = in_pipe[0];
    }

    pid_t pid = fork();
    if (pid < 0) fail_errno("fork", exe);
    if (pid == 0) {
        // No controlling terminal: coffer must never stop to ask the developer's terminal for a
        // passphrase in a test (the way CI runs it).
        setsid();
        if (dup2(devnull, 0) < 0 || dup2(out_pipe[1], 1) < 0 || dup2(err_pipe[1], 2) < 0)
            _exit(126);
        if (options.gid && (setgroups(0, nullptr) != 0 || setgid(*options.gid) != 0)) _exit(126);
        if (options.uid && setuid(*options.uid) != 0) _exit(126);
        if (cwd && chdir(cwd) != 0) _exit(126);
        execve(argv[0], argv.data(), envp.data());
        _exit(127);
    }
    ::close(devnull);
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);

    RunResult r;
    bool out_open = true, err_open = true, timed_out = false;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(options.timeout_s);
    if (options.kill_after_ms > 0)
        deadline =
            std::chrono::steady_clock::now() + std::chrono::milliseconds(options.kill_after_ms);
    // A flag and a plain time point: GCC 12 warns (wrongly) about an optional here.
    bool term_pending = options.term_after_ms > 0;
    bool term_sent = false;  // by term_when
    auto term_at =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(options.term_after_ms);
    while (out_open || err_open) {
        if (term_pending && std::chrono::steady_clock::now() >= term_at) {
            kill(pid, SIGTERM);
            term_pending = false;
        }
        if (options.term_when && !term_sent && options.term_when()) {
            kill(pid, SIGTERM);
            term_sent = true;
        }
        struct pollfd fds[2];
        int n = 0, out_i = -1, err_i = -1;
        if (out_open) {
            fds[n] = {out_pipe[0], POLLIN, 0};
            out_i = n++;
        }
        if (err_open) {
            fds[n] = {err_pipe[0], POLLIN, 0};
            err_i = n++;
        }
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now())
                        .count();
        if (left <= 0) {
            timed_out = true;
            kill(pid, SIGKILL);
            if (out_open) ::close(out_pipe[0]);
            if (err_open) ::close(err_pipe[0]);
            break;
        }
        int wait_ms = static_cast<int>(left);
        if (term_pending) {
            auto to_term = std::chrono::duration_cast<std::chrono::milliseconds>(
                               term_at - std::chrono::steady_clock::now())
                               .count();
            wait_ms = std::min<int>(wait_ms, std::max<int>(0, static_cast<int>(to_term)));
        }
        if (options.term_when && !term_sent) wait_ms = std::min(wait_ms, 100);
        int ready = poll(fds, static_cast<nfds_t>(n), wait_ms);
        if (ready < 0 && errno == EINTR) continue;
        if (ready < 0) fail_errno("poll", exe);
        if (out_i >= 0 && fds[out_i].revents) drain(out_pipe[0], r.out, out_open);
        if (err_i >= 0 && fds[err_i].revents) drain(err_pipe[0], r.err, err_open);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status))
        r.exit_code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
        r.exit_code = 128 + WTERMSIG(status);
    if (timed_out && options.kill_after_ms <= 0)
        r.err += "\n[e2e: killed after " + std::to_string(options.timeout_s) + " s]";
    return r;
}

int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

std::vector<nlohmann::json> json_lines(const std::string& out) {
    std::vector<nlohmann::json> lines;
    size_t pos = 0;
    while (pos < out.size()) {
        size_t end = out.find('\n', pos);
        if (end == std::string::npos) end = out.size();
        auto j = nlohmann::json::parse(out.substr(pos, end - pos), nullptr, false);
        if (!j.is_discarded()) lines.push_back(j);
        pos = end + 1;
    }
    return lines;
}

std::string coffer_bin() {
    const char* bin = std::getenv("COFFER_BIN");
    if (!bin || !*bin) throw std::runtime_error("COFFER_BIN is not set: point it at the binary");
    return bin;
}

// ---- files -----------------------------------------------------------------------------------

TempDir::TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/coffer e2e XXXXXX";
    if (!::mkdtemp(tmpl.data())) fail_errno("mkdtemp", tmpl);
    m_path = fs::canonical(tmpl).string();  // restore output is compared by absolute path
}

TempDir::~TempDir() {
    try {
        force_remove_all(m_path);
    } catch (...) {
    }
}

void write_file(const std::string& path, const std::string& content, unsigned mode) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) fail_errno("create", path);
    size_t done = 0;
    while (done < content.size()) {
        ssize_t n = ::write(fd, content.data() + done, content.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            ::close(fd);
            fail_errno("write", path);
        }
        done += static_cast<size_t>(n);
    }
    ::close(fd);
    set_mode(path, mode);
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail_errno("open", path);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

void make_dir(const std::string& path, unsigned mode) {
    if (::mkdir(path.c_str(), 0700) != 0) fail_errno("mkdir", path);
    set_mode(path, mode);
}

void set_mode(const std::string& path, unsigned mode) {
    if (::chmod(path.c_str(), mode) != 0) fail_errno("chmod", path);
}

void set_mtime(const std::string& path, int64_t sec, long nsec) {
    struct timespec ts[2] = {{static_cast<time_t>(sec), nsec}, {static_cast<time_t>(sec), nsec}};
    if (utimensat(AT_FDCWD, path.c_str(), ts, AT_SYMLINK_NOFOLLOW) != 0)
        fail_errno("utimensat", path);
}

bool exists(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

void force_remove_all(const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return;
    if (S_ISDIR(st.st_mode)) {
        ::chmod(path.c_str(), (st.st_mode & 07777) | 0700);
        if (DIR* d = ::opendir(path.c_str())) {
            std::vector<std::string> names;
            while (struct dirent* e = ::readdir(d))
                if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, ".."))
                    names.emplace_back(e->d_name);
            ::closedir(d);
            for (const auto& n : names) force_remove_all(path + "/" + n);
        }
        ::rmdir(path.c_str());
    } else {
        ::unlink(path.c_str());
    }
}

void copy_tree(const std::string& from, const std::string& to) {
    fs::copy(from, to, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
}

void chown_tree(const std::string& path, uid_t uid, gid_t gid) {
    if (::lchown(path.c_str(), uid, gid) != 0) fail_errno("lchown", path);
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return;
    for (const auto& e : fs::directory_iterator(path)) chown_tree(e.path().string(), uid, gid);
}

std::string prng_bytes(size_t n, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::string out(n, '\0');
    for (size_t i = 0; i < n; i += 8) {
        uint64_t v = rng();
        std::memcpy(out.data() + i, &v, std::min<size_t>(8, n - i));
    }
    return out;
}

std::string random_hex(size_t n_bytes) {
    std::random_device rd;
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (size_t i = 0; i < n_bytes; ++i) {
        unsigned b = rd() & 0xff;
        out += digits[b >> 4];
        out += digits[b & 15];
    }
    return out;
}

std::vector<std::string> list_files(const std::string& root) {
    std::vector<std::string> out;
    for (const auto& [path, size] : file_sizes(root)) out.push_back(path);
    return out;
}

std::map<std::string, uint64_t> file_sizes(const std::string& root) {
    std::map<std::string, uint64_t> out;
    if (!fs::exists(root)) return out;
    for (const auto& e : fs::recursive_directory_iterator(root))
        if (e.is_regular_file() && !e.is_symlink())
            out[fs::relative(e.path(), root).string()] = e.file_size();
    return out;
}

std::map<std::string, uint64_t> data_file_sizes(const std::string& root) {
    auto all = file_sizes(root);
    std::erase_if(all, [](const auto& kv) { return kv.first.rfind("audit/", 0) == 0; });
    return all;
}

uint64_t total_size(const std::string& root) {
    uint64_t sum = 0;
    for (const auto& [path, size] : file_sizes(root)) sum += size;
    return sum;
}

int count_entries(const std::string& dir) {
    DIR* d = ::opendir(dir.c_str());
    if (!d) return -1;
    int n = 0;
    while (struct dirent* e = ::readdir(d))
        if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, "..")) ++n;
    ::closedir(d);
    return n;
}

// ---- trees -----------------------------------------------------------------------------------

namespace {

void scan_into(const std::string& root, const std::string& rel, Manifest& out) {
    std::string path = rel.empty() ? root : root + "/" + rel;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) fail_errno("lstat", path);
    Entry e;
    e.mode = st.st_mode & 07777;
    e.uid = st.st_uid;
    e.gid = st.st_gid;
    e.mtime_ns = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    if (S_ISREG(st.st_mode)) {
        e.type = 'f';
        e.content = read_file(path);
    } else if (S_ISLNK(st.st_mode)) {
        e.type = 'l';
        std::string target(static_cast<size_t>(st.st_size) + 256, '\0');
        ssize_t n = ::readlink(path.c_str(), target.data(), target.size());
        if (n < 0) fail_errno("readlink", path);
        target.resize(static_cast<size_t>(n));
        e.content = target;
    } else if (S_ISDIR(st.st_mode)) {
        e.type = 'd';
        DIR* d = ::opendir(path.c_str());
        if (!d) fail_errno("opendir", path);
        std::vector<std::string> names;
        while (struct dirent* de = ::readdir(d))
            if (std::strcmp(de->d_name, ".") && std::strcmp(de->d_name, ".."))
                names.emplace_back(de->d_name);
        ::closedir(d);
        for (const auto& n : names) scan_into(root, rel.empty() ? n : rel + "/" + n, out);
    }
    out[rel] = std::move(e);
}

std::string octal(unsigned mode) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04o", mode);
    return buf;
}

}  // namespace

Manifest scan_tree(const std::string& root) {
    Manifest m;
    scan_into(root, "", m);
    return m;
}

std::string diff_manifests(const Manifest& expected, const Manifest& actual) {
    std::ostringstream d;
    int shown = 0;
    auto note = [&](const std::string& path, const std::string& what) {
        if (++shown <= 40) d << "  '" << printable(path) << "': " << what << "\n";
    };
    for (const auto& [path, e] : expected) {
        auto it = actual.find(path);
        if (it == actual.end()) {
            note(path, std::string("missing (expected type ") + e.type + ")");
            continue;
        }
        const Entry& a = it->second;
        if (a.type != e.type) {
            note(path, std::string("type ") + a.type + ", expected " + e.type);
            continue;
        }
        if (a.mode != e.mode) note(path, "mode " + octal(a.mode) + ", expected " + octal(e.mode));
        if (a.uid != e.uid || a.gid != e.gid)
            note(path, "owner " + std::to_string(a.uid) + ":" + std::to_string(a.gid) +
                           ", expected " + std::to_string(e.uid) + ":" + std::to_string(e.gid));
        if (a.mtime_ns != e.mtime_ns)
            note(path, "mtime " + std::to_string(a.mtime_ns) + " ns, expected " +
                           std::to_string(e.mtime_ns));
        if (a.content != e.content) {
            if (e.type == 'l') {
                note(path, "link target '" + printable(a.content) + "', expected '" +
                               printable(e.content) + "'");
            } else {
                size_t i = 0;
                while (i < a.content.size() && i < e.content.size() && a.content[i] == e.content[i])
                    ++i;
                note(path, "content differs at byte " + std::to_string(i) + " (size " +
                               std::to_string(a.content.size()) + ", expected " +
                               std::to_string(e.content.size()) + ")");
            }
        }
    }
    for (const auto& [path, a] : actual)
        if (!expected.count(path)) note(path, std::string("unexpected entry of type ") + a.type);
    if (shown > 40) d << "  ... and " << (shown - 40) << " more\n";
    return d.str();
}

std::string printable(const std::string& s) {
    std::string out;
    for (unsigned char c : s) {
        if (c == '\n') {
            out += "\\n";
        } else if (c < 0x20 || c == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

// ---- a repository under test -----------------------------------------------------------------

Repo::Repo(const std::string& base_dir, const std::string& name)
    : base(base_dir),
      repo(base_dir + "/" + name),
      host_key(base_dir + "/" + name + " host.key"),
      recovery_key(base_dir + "/" + name + " recovery.txt"),
      cache_dir(base_dir + "/" + name + " cache"),
      home(base_dir + "/" + name + " home") {
    if (!exists(home)) make_dir(home, 0700);
}

std::map<std::string, std::optional<std::string>> Repo::base_env() const {
    return {{"COFFER_CACHE_DIR", cache_dir},
            {"HOME", home},
            {"XDG_CONFIG_HOME", home + "/.config"},
            {"XDG_CACHE_HOME", home + "/.cache"}};
}

void Repo::init() const {
    RunResult r = run_process(
        coffer_bin(),
        {"--repo", repo, "--host-key", host_key, "init", "--recovery-key-out", recovery_key},
        {base_env()});
    if (r.exit_code != 0) throw std::runtime_error("coffer init failed: " + r.describe());
}

RunResult Repo::run(const std::vector<std::string>& args, Keys keys, RunOptions options) const {
    std::vector<std::string> all{"--repo", repo};
    if (keys == Keys::host || keys == Keys::both) {
        all.push_back("--host-key");
        all.push_back(host_key);
    }
    if (keys == Keys::recovery || keys == Keys::both) {
        all.push_back("--recovery-key-file");
        all.push_back(recovery_key);
    }
    all.insert(all.end(), args.begin(), args.end());
    auto env = base_env();
    for (const auto& [k, v] : options.env) env[k] = v;
    options.env = std::move(env);
    return run_process(coffer_bin(), all, options);
}

RunResult run_with_config(const Repo& repo, const std::string& cfg, std::vector<std::string> args,
                          RunOptions o) {
    args.insert(args.begin(), {"--config", cfg});
    auto env = repo.base_env();
    for (const auto& [k, v] : o.env) env[k] = v;
    o.env = env;
    return run_process(coffer_bin(), args, o);
}

nlohmann::json Repo::backup(const std::vector<std::string>& args) const {
    std::vector<std::string> all{"backup", "--json"};
    all.insert(all.end(), args.begin(), args.end());
    RunResult r = run(all);
    if (r.exit_code != 0) throw std::runtime_error("coffer backup failed: " + r.describe());
    nlohmann::json j = r.json();
    if (j.is_discarded() || !j.is_object())
        throw std::runtime_error("coffer backup --json printed no JSON object: " + r.describe());
    return j;
}

}  // namespace coffer::e2e

#include "coffer/cli/common.h"
#include "coffer/store/fault/crash_point_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "coffer/archive/archive.h"
#include "coffer/backup/file_cache.h"
#include "coffer/repo/recovery_share.h"
#include "coffer/repo/rotation.h"
#include "coffer/store/local/local_store.h"
#include "coffer/store/s3/s3_store.h"
#include "coffer/util/file.h"

namespace coffer::cli {

int exit_code_for(const Status& st) {
    switch (st.code()) {
        case Code::ok:
            return k_exit_ok;
        case Code::invalid_argument:
            return k_exit_usage;
        case Code::not_found:
            return k_exit_not_found;
        case Code::corruption:
        case Code::integrity:
            return k_exit_integrity;
        case Code::wrong_key:
        case Code::permission:
            return k_exit_key;
        case Code::already_exists:
            return k_exit_exists;
        case Code::lock_held:
            return k_exit_locked;
        default:
            return k_exit_failure;
    }
}

namespace {
std::string g_last_error;
}

const std::string& last_error() {
    return g_last_error;
}

int fail(const Status& st) {
    std::string msg = st.message();
    for (char& c : msg)
        if (c == '\n') c = ' ';
    std::fprintf(stderr, "coffer: %s\n", msg.c_str());
    g_last_error = msg;
    return exit_code_for(st);
}

void print_json(const nlohmann::json& j) {
    std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
}

std::string default_host_key_path() {
    if (geteuid() == 0) return "/etc/coffer/host.key";
    if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x)
        return std::string(x) + "/coffer/host.key";
    if (const char* h = std::getenv("HOME"); h && *h)
        return std::string(h) + "/.config/coffer/host.key";
    return "/etc/coffer/host.key";
}

Result<config::Config> load_config(GlobalOptions& g) {
    std::string path = g.config.empty() ? "/etc/coffer/coffer.toml" : g.config;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        return not_found("config file " + path +
                         " does not exist: pass --config or set COFFER_CONFIG");
    TRY_ASSIGN(config::Config cfg, config::load(path));
    // Command-line options and environment win over the file.
    if (g.repo.empty()) g.repo = cfg.repository.url;
    if (g.host_key.empty()) g.host_key = cfg.repository.host_key;
    // Shares on the command line stand in for the config's recovery key file.
    if (g.recovery_key_file.empty() && g.recovery_shares.empty())
        g.recovery_key_file = cfg.repository.recovery_key_file;
    g.s3.access_key_id = cfg.repository.access_key_id;
    g.s3.secret_access_key = cfg.repository.secret_access_key;
    g.s3.region = cfg.repository.region;
    g.s3.ca_file = cfg.repository.ca_file;
    if (cfg.repository.connections) g.s3.connections = cfg.repository.connections;
    g.s3.object_lock_mode = cfg.repository.object_lock_mode;
    g.s3.object_lock_days = cfg.repository.object_lock_days;
    if (!cfg.repository.cache_dir.empty() && !std::getenv("COFFER_CACHE_DIR"))
        setenv("COFFER_CACHE_DIR", cfg.repository.cache_dir.c_str(), 1);
    return cfg;
}

std::string default_daemon_state_dir() {
    if (geteuid() == 0) return "/var/lib/coffer";
    if (const char* x = std::getenv("XDG_STATE_HOME"); x && *x) return std::string(x) + "/coffer";
    if (const char* h = std::getenv("HOME"); h && *h)
        return std::string(h) + "/.local/state/coffer";
    return "/var/lib/coffer";
}

Result<std::map<std::string, SetSnapshots>> snapshots_by_set(repo::Repository& repository) {
    TRY_ASSIGN(auto list, repository.list_snapshots());
    std::map<std::string, SetSnapshots> out;
    for (const auto& s : list) {
        SetSnapshots& e = out[s.set];
        e.count++;
        if (!e.newest_ns || s.time_ns > *e.newest_ns) e.newest_ns = s.time_ns;
    }
    return out;
}

repo::LockOptions lock_options(const GlobalOptions& g, std::string purpose) {
    repo::LockOptions o;
    o.purpose = std::move(purpose);
    for (auto [name, field] : {std::pair{"COFFER_LOCK_STALE_AFTER", &o.stale_after_ns},
                               std::pair{"COFFER_LOCK_WAIT", &o.wait_ns}}) {
        const char* v = std::getenv(name);
        if (!v || !*v) continue;
        auto seconds = config::parse_duration(v);
        if (seconds.ok())
            *field = *seconds * 1000000000;
        else
            std::fprintf(stderr, "coffer: ignoring %s: %s\n", name,
                         seconds.status().message().c_str());
    }
    // Refresh well within the stale limit, however short a test makes it (but not in a loop).
    o.stale_after_ns = std::max<int64_t>(o.stale_after_ns, 2'000'000'000);
    o.refresh_ns = std::max<int64_t>(std::min(o.refresh_ns, o.stale_after_ns / 6), 100'000'000);
    if (!g.quiet && !g.json)
        o.on_notice = [](const std::string& line) {
            std::fprintf(stderr, "coffer: %s\n", line.c_str());
        };
    return o;
}

Status apply_config_if_given(GlobalOptions& g) {
    if (g.config.empty()) return ok_status();
    return load_config(g).status();
}

Result<std::shared_ptr<store::Store>> open_store(GlobalOptions& g) {
    if (!g.backup_file.empty()) {
        TRY_ASSIGN(auto file, archive::ArchiveStore::open(g.backup_file));
        return std::shared_ptr<store::Store>(std::move(file));
    }
    return open_repository_store(g);
}

Result<std::shared_ptr<store::Store>> open_repository_store(GlobalOptions& g) {
    TRY(apply_config_if_given(g));
    if (g.repo.empty())
        return invalid_argument("no repository given: pass --repo or set COFFER_REPO");
    std::shared_ptr<store::Store> opened;
    if (g.repo.rfind("s3:", 0) == 0) {
        TRY_ASSIGN(auto s, store::S3Store::open(g.repo, g.s3));
        opened = std::move(s);
    } else {
        TRY_ASSIGN(auto s, store::LocalStore::open(g.repo));
        opened = std::move(s);
    }
#ifdef COFFER_CRASH_POINTS
    opened = store::with_crash_points(std::move(opened));
#endif
    return opened;
}

Result<std::shared_ptr<store::Store>> create_s3_store(GlobalOptions& g) {
    TRY_ASSIGN(auto s, store::S3Store::create(g.repo, g.s3));
    return std::shared_ptr<store::Store>(std::move(s));
}

Result<std::optional<repo::HostKey>> load_host_key_if_present(const GlobalOptions& g) {
    if (!g.backup_file.empty()) return std::optional<repo::HostKey>();
    return load_own_host_key(g);
}

Result<std::optional<repo::HostKey>> load_own_host_key(const GlobalOptions& g) {
    std::string path = g.host_key.empty() ? default_host_key_path() : g.host_key;
    auto key = repo::HostKey::load(path);
    if (key.ok()) return std::optional<repo::HostKey>(std::move(*key));
    if (key.status().code() == Code::not_found && g.host_key.empty())
        return std::optional<repo::HostKey>();
    return key.status();
}

Result<bool> follow_rotation_in_key_file(const GlobalOptions& g, store::Store& store,
                                         const repo::RepoConfig& config, repo::HostKey& host) {
    TRY_ASSIGN(bool moved, repo::follow_rotations(store, config, host));
    if (!moved) return false;
    std::string path = g.host_key.empty() ? default_host_key_path() : g.host_key;
    SecretBytes text = host.serialize();
    TRY(write_file_atomic(path, text.view(), 0600).with_context("update host key file " + path));
    return true;
}

namespace {

void trim_line_end(SecretBytes& s) {
    size_t n = s.size();
    while (n > 0 && (s.data()[n - 1] == '\n' || s.data()[n - 1] == '\r')) --n;
    if (n != s.size()) s = SecretBytes(ByteView(s.data(), n));
}

SecretBytes& env_passphrase() {
    static SecretBytes p;
    return p;
}

// The terminal's settings while echo is off, for a signal that ends the process meanwhile.
int g_tty_fd = -1;
struct termios g_tty_saved {};

void restore_tty_and_die(int sig) {
    if (g_tty_fd >= 0) tcsetattr(g_tty_fd, TCSAFLUSH, &g_tty_saved);
    ::signal(sig, SIG_DFL);
    ::raise(sig);
}

// One line from the terminal with echo off; fails rather than read with echo on, return a
// line cut short by an error, or cut a long one.
Result<SecretBytes> read_tty_line(int tty, const std::string& prompt) {
    if (::write(tty, prompt.data(), prompt.size()) < 0)
        return errno_status("write to /dev/tty", errno);
    if (tcgetattr(tty, &g_tty_saved) != 0)
        return errno_status("read the terminal's settings", errno);
    struct termios quiet = g_tty_saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    g_tty_fd = tty;
    struct sigaction sa {
    }, old_int{}, old_term{}, old_hup{};
    sa.sa_handler = restore_tty_and_die;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGHUP, &sa, &old_hup);
    Status st;
    SecretBytes line(1024);
    size_t n = 0;
    if (tcsetattr(tty, TCSAFLUSH, &quiet) != 0) {
        st = errno_status("turn off the terminal's echo", errno);
    } else {
        for (;;) {
            char c = 0;
            ssize_t r = ::read(tty, &c, 1);
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) {
                st = errno_status("read the passphrase from the terminal", errno);
                break;
            }
            if (r == 0 || c == '\n') break;
            if (n == line.size()) {
                st = invalid_argument("the passphrase is longer than 1024 bytes");
                break;
            }
            line.data()[n++] = static_cast<uint8_t>(c);
        }
        tcsetattr(tty, TCSAFLUSH, &g_tty_saved);
    }
    g_tty_fd = -1;
    sigaction(SIGINT, &old_int, nullptr);
    sigaction(SIGTERM, &old_term, nullptr);
    sigaction(SIGHUP, &old_hup, nullptr);
    (void)!::write(tty, "\n", 1);
    TRY(st);
    SecretBytes out(ByteView(line.data(), n));
    trim_line_end(out);
    return out;
}

}  // namespace

void take_passphrase_from_environment() {
    if (const char* env = std::getenv("COFFER_PASSPHRASE"); env && *env) {
        std::string_view v(env);
        env_passphrase() = SecretBytes(as_bytes(v));
        // Overwrite the environment's copy before dropping it.
        std::fill(const_cast<char*>(env), const_cast<char*>(env) + v.size(), '\0');
    }
    ::unsetenv("COFFER_PASSPHRASE");
}

Result<SecretBytes> ask_passphrase(const std::string& what, bool confirm) {
    if (const char* file = std::getenv("COFFER_PASSPHRASE_FILE"); file && *file) {
        TRY_ASSIGN(SecretBytes p, read_secret_file(file));
        trim_line_end(p);
        if (p.empty())
            return invalid_argument(std::string("COFFER_PASSPHRASE_FILE ") + file + " is empty");
        return p;
    }
    if (!env_passphrase().empty()) return env_passphrase();
    int tty = ::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
    if (tty < 0)
        return wrong_key(
            "a passphrase is needed and none can be asked for: set COFFER_PASSPHRASE_FILE to a "
            "file holding it, or run on a terminal");
    auto first = read_tty_line(tty, "passphrase for " + what + ": ");
    if (first.ok() && confirm) {
        auto second = read_tty_line(tty, "the same passphrase again: ");
        if (!second.ok()) {
            ::close(tty);
            return second.status();
        }
        if (!ct_equal(first->view(), second->view())) {
            ::close(tty);
            return invalid_argument("the two passphrases differ; nothing was changed");
        }
    }
    ::close(tty);
    if (first.ok() && first->empty()) return invalid_argument("the passphrase is empty");
    return first;
}

namespace {

// Shares typed in for "--recovery-share -", in order: read once per process, since a command
// may load the recovery key more than once.
std::vector<repo::RecoveryShare>& typed_shares() {
    static std::vector<repo::RecoveryShare> shares;
    return shares;
}

// The n-th (0-based) typed share: asked for on the terminal without echo, or read as one line
// from standard input when that is not a terminal (a script, a pipe from a vault tool).
// A secret typed on the terminal without echo, or one line of standard input when that is not a
// terminal (a script, a pipe from a vault tool, the daemon handing an API request's key to its
// child).
Result<SecretBytes> read_secret_line(const std::string& what) {
    SecretBytes line;
    if (::isatty(0)) {
        int tty = ::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (tty < 0) return errno_status("open /dev/tty to ask for " + what, errno);
        auto typed = read_tty_line(tty, what + ", input hidden: ");
        ::close(tty);
        TRY_ASSIGN(line, std::move(typed));
    } else {
        std::string text;
        text.reserve(4096);  // never reallocated: a grown string would leave copies behind
        char c;
        ssize_t got;
        while ((got = ::read(0, &c, 1)) == 1 && c != '\n' && text.size() < 4096) text += c;
        if (got < 0) return errno_status("read " + what + " from standard input", errno);
        line = SecretBytes(as_bytes(text));
        secure_wipe(text.data(), text.size());
    }
    return line;
}

Result<repo::RecoveryShare> typed_share(size_t n) {
    auto& cache = typed_shares();
    if (n < cache.size()) return cache[n];
    std::string what = "recovery share " + std::to_string(n + 1) + " (--recovery-share -)";
    TRY_ASSIGN(SecretBytes line, read_secret_line(what));
    if (line.empty())
        return invalid_argument(what + " is empty: type the share, or pass a share file");
    auto share = repo::RecoveryShare::parse(as_chars(line.view()));
    if (!share.ok()) return share.status().with_context(what);
    cache.push_back(*share);
    return std::move(*share);
}

}  // namespace

Result<std::optional<repo::RecoveryKey>> load_recovery_key_if_given(const GlobalOptions& g) {
    if (!g.recovery_shares.empty()) {
        // Shares on the command line stand in for a key file from the environment (or the
        // config); a key file on the command line too is a contradiction.
        const char* env = std::getenv("COFFER_RECOVERY_KEY_FILE");
        if (!g.recovery_key_file.empty() && !(env && g.recovery_key_file == env))
            return invalid_argument("give --recovery-key-file or --recovery-share, not both");
        std::vector<repo::RecoveryShare> shares;
        size_t typed = 0;
        for (const auto& path : g.recovery_shares) {
            TRY_ASSIGN(auto share,
                       path == "-" ? typed_share(typed++) : repo::RecoveryShare::load(path));
            shares.push_back(std::move(share));
        }
        TRY_ASSIGN(auto key, repo::recover_from_shares(shares));
        return std::optional<repo::RecoveryKey>(std::move(key));
    }
    if (g.recovery_key_file.empty()) return std::optional<repo::RecoveryKey>();
    if (g.recovery_key_file == "-") {
        // Read once: a command may load its keys more than once, and stdin has one copy.
        static std::optional<repo::RecoveryKey> typed;
        if (!typed) {
            const std::string what = "the recovery key (--recovery-key-file -)";
            TRY_ASSIGN(SecretBytes line, read_secret_line(what));
            if (line.empty())
                return invalid_argument(what +
                                        " is empty: type the key's text (crk1-...), or "
                                        "pass the key file");
            auto key = repo::RecoveryKey::parse(as_chars(line.view()));
            if (!key.ok()) return key.status().with_context(what);
            typed = std::move(*key);
        }
        return typed;
    }
    TRY_ASSIGN(auto key, repo::RecoveryKey::load(g.recovery_key_file));
    return std::optional<repo::RecoveryKey>(std::move(key));
}

Result<std::optional<repo::RecoveryKey>> load_previous_recovery_key_if_given(
    const GlobalOptions& g) {
    if (!g.previous_recovery_shares.empty()) {
        if (!g.previous_recovery_key_file.empty())
            return invalid_argument(
                "give --previous-recovery-key-file or --previous-recovery-share, not both");
        std::vector<repo::RecoveryShare> shares;
        for (const auto& path : g.previous_recovery_shares) {
            if (path == "-")
                return invalid_argument(
                    "--previous-recovery-share takes share files, not '-': save each share of "
                    "the old key to a file (0600) and pass its path");
            TRY_ASSIGN(auto share, repo::RecoveryShare::load(path));
            shares.push_back(std::move(share));
        }
        auto key = repo::recover_from_shares(shares);
        if (!key.ok()) return key.status().with_context("--previous-recovery-share");
        return std::optional<repo::RecoveryKey>(std::move(*key));
    }
    if (g.previous_recovery_key_file.empty()) return std::optional<repo::RecoveryKey>();
    auto key = repo::RecoveryKey::load(g.previous_recovery_key_file);
    if (!key.ok()) return key.status().with_context(g.previous_recovery_key_file);
    return std::optional<repo::RecoveryKey>(std::move(*key));
}

Status check_recovery_key(const GlobalOptions& g, const repo::RecoveryKey& key,
                          const repo::RepoConfig& config) {
    Status st = key.check_matches(config);
    if (st.ok() || g.recovery_shares.empty()) return st;
    return wrong_key("the recovery shares do not give repository " + config.id.short_hex() +
                     "'s recovery key: they are shares of another repository's key");
}

Status check_recovery_key_role(const GlobalOptions& g, store::Store& store,
                               const repo::RecoveryKey& key, const repo::RepoConfig& config) {
    auto role = repo::recovery_key_role(store, config, key);
    if (role.ok()) return ok_status();
    // Another repository's key: worded for shares when they were given. A key rotated out has
    // a message of its own.
    if (role.status().message() == key.check_matches(config).message())
        TRY(check_recovery_key(g, key, config));
    return role.status();
}

Result<OpenedRepo> open_repository(GlobalOptions& g, KeyNeed need) {
    OpenedRepo out;
    TRY_ASSIGN(out.store, open_store(g));
    TRY_ASSIGN(auto config, repo::Repository::read_config(*out.store));
    TRY_ASSIGN(out.recovery, load_recovery_key_if_given(g));
    if (need == KeyNeed::recovery && !out.recovery)
        return wrong_key(std::string("this command needs the recovery key: ") +
                         k_recovery_key_hint + " (the host key alone cannot read backups)");
    if (out.recovery) TRY(check_recovery_key_role(g, *out.store, *out.recovery, config));
    auto host = load_host_key_if_present(g);
    if (!host.ok()) {
        // A recovery key can stand in for a missing or unreadable host key.
        if (!(out.recovery && host.status().code() == Code::not_found)) return host.status();
    } else {
        out.host = std::move(*host);
    }
    if (!out.host && (need == KeyNeed::host || !out.recovery))
        return not_found("host key file " +
                         (g.host_key.empty() ? default_host_key_path() : g.host_key) +
                         " does not exist: pass --host-key or set COFFER_HOST_KEY");
    // After a recovery key rotation this host's key file follows the repository (once; a file
    // that cannot be rewritten follows it in memory on every open).
    if (out.host && out.host->repository_id == config.id) {
        auto moved = follow_rotation_in_key_file(g, *out.store, config, *out.host);
        if (!moved.ok() && moved.status().code() == Code::io && !g.quiet)
            std::fprintf(stderr, "coffer: warning: %s\n", moved.status().message().c_str());
    }
    TRY_ASSIGN(out.repo, repo::Repository::open(out.store, out.host ? &*out.host : nullptr,
                                                out.recovery ? &*out.recovery : nullptr));
    TRY_ASSIGN(auto previous, load_previous_recovery_key_if_given(g));
    if (previous)
        TRY(out.repo->add_previous_recovery_key(*previous).with_context(
            "the previous recovery key"));
    return out;
}

std::string remembered_latest(const std::string& state_dir) {
    auto latest = read_file(state_dir + "/latest");
    if (!latest.ok()) return "";
    std::string id(as_chars(*latest));
    while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
    return id;
}

std::string state_dir(const repo::Repository& repo) {
    return backup::default_cache_dir(repo.config().id.hex(), to_hex(repo.keys().key_id));
}

Result<std::unique_ptr<HostLock>> HostLock::acquire(const std::string& dir, bool quiet) {
    TRY(make_dirs(dir, 0700));
    std::string path = dir + "/lock";
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return errno_status("open lock file " + path, errno);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (!quiet)
            std::fprintf(stderr,
                         "coffer: waiting for another backup with this host key to finish\n");
        while (flock(fd, LOCK_EX) != 0) {
            if (errno != EINTR) {
                int e = errno;
                ::close(fd);
                return errno_status("lock " + path, e);
            }
        }
    }
    auto lock = std::unique_ptr<HostLock>(new HostLock());
    lock->m_fd = fd;
    return lock;
}

HostLock::~HostLock() {
    if (m_fd >= 0) ::close(m_fd);  // releases the flock
}

ProgressLine::ProgressLine(bool enabled) : m_enabled(enabled && isatty(STDERR_FILENO)) {
    if (const char* f = std::getenv("COFFER_PROGRESS_FILE"); f && *f) m_file = f;
}

void ProgressLine::update(const std::string& text) {
    if (!m_file.empty()) {
        const int64_t now = repo::now_unix_ns();
        if (now - m_file_written_ns >= 500'000'000) {
            m_file_written_ns = now;
            // Best effort, and no fsync: the file only says how far a running job got. A
            // rename, so that a reader never sees half a line.
            const std::string tmp = m_file + ".tmp";
            int fd =
                ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
            if (fd >= 0) {
                bool written = write_all(fd, as_bytes(text + "\n"), tmp).ok();
                ::close(fd);
                if (!written || ::rename(tmp.c_str(), m_file.c_str()) != 0) ::unlink(tmp.c_str());
            }
        }
    }
    if (!m_enabled) return;
    std::fprintf(stderr, "\r\033[K%s", text.c_str());
    std::fflush(stderr);
    m_dirty = true;
}

void ProgressLine::finish() {
    if (m_enabled && m_dirty) std::fprintf(stderr, "\r\033[K");
    m_dirty = false;
}

std::string human_bytes(uint64_t bytes) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = static_cast<double>(bytes);
    int u = 0;
    while (v >= 1024 && u < 5) {
        v /= 1024;
        ++u;
    }
    char buf[32];
    if (u == 0)
        std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
    else
        std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
    return buf;
}

std::string human_duration(double seconds) {
    long s = std::lround(seconds);
    char buf[32];
    if (s >= 3600)
        std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
    else
        std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
    return buf;
}

std::string progress_text(double elapsed, uint64_t files, uint64_t files_total, uint64_t bytes,
                          uint64_t bytes_total, bool totals_final) {
    std::string t = "[" + human_duration(elapsed) + "] " + std::to_string(files);
    if (files_total) t += "/" + std::to_string(files_total) + (totals_final ? "" : "+");
    t += " files, " + human_bytes(bytes);
    if (bytes_total) t += " of " + human_bytes(bytes_total) + (totals_final ? "" : "+");
    double rate = elapsed > 0 ? bytes / elapsed : 0;
    t += ", " + human_bytes(static_cast<uint64_t>(rate)) + "/s";
    if (totals_final && rate > 0 && bytes_total > bytes)
        t += ", ETA " + human_duration((bytes_total - bytes) / rate);
    return t;
}

}  // namespace coffer::cli

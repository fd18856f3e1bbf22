#include "coffer/repo/locks.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "coffer/crypto/crypto.h"
#include "coffer/repo/json_numbers.h"
#include "coffer/repo/keys.h"

namespace coffer::repo {

using json = nlohmann::json;

namespace {

constexpr std::string_view k_lease_suffix = ".lease";
constexpr std::string_view k_prune_suffix = ".prune";

// Counts time the machine spent suspended, unlike CLOCK_MONOTONIC: a lock's owner that slept
// through its refreshes must notice that others may have judged it gone.
int64_t boot_ns() {
    struct timespec ts {};
    clock_gettime(CLOCK_BOOTTIME, &ts);
    return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

std::string read_small_file(const char* path) {
    std::ifstream f(path);
    std::string s;
    std::getline(f, s);
    return s;
}

// This boot of this kernel and this PID namespace: where a pid means one process. Containers
// share a host name and a boot id with their host but not its PID namespace.
const std::string& this_machine() {
    static const std::string id = [] {
        std::string boot = read_small_file("/proc/sys/kernel/random/boot_id");
        char ns[128] = {};
        ssize_t n = ::readlink("/proc/self/ns/pid", ns, sizeof ns - 1);
        if (boot.empty() || n <= 0) return std::string();
        return boot + "/" + std::string(ns, static_cast<size_t>(n));
    }();
    return id;
}

// Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), or 0.
int64_t process_start(int64_t pid) {
    std::string stat = read_small_file(("/proc/" + std::to_string(pid) + "/stat").c_str());
    size_t paren = stat.rfind(')');
    if (paren == std::string::npos) return 0;
    std::istringstream in(stat.substr(paren + 2));
    std::string field;
    for (int i = 3; i <= 22 && in >> field; ++i)
        if (i == 22) return std::strtoll(field.c_str(), nullptr, 10);
    return 0;
}

std::string this_host() {
    char buf[HOST_NAME_MAX + 1] = {};
    if (gethostname(buf, sizeof buf - 1) != 0) return "unknown";
    return buf;
}

std::string prefix_of(const std::string& key_id) {
    return key_id.empty() ? "locks/" : "locks/" + key_id + "/";
}

std::string ago(int64_t ns) {
    int64_t s = ns / 1000000000;
    if (s < 0) return "in the future (clock skew?)";
    if (s < 120) return std::to_string(s) + "s ago";
    if (s < 7200) return std::to_string(s / 60) + "m ago";
    return std::to_string(s / 3600) + "h ago";
}

// A process of this machine that no longer exists cannot refresh its lock: stale at once, so a
// backup killed with SIGKILL does not hold up prune for stale_after_ns. Only when the lock
// names this very boot and PID namespace, and a pid reused since counts as gone.
bool gone_from_this_machine(const LockInfo& l) {
    if (this_machine().empty() || l.machine != this_machine() || l.pid <= 0 || l.pid > INT_MAX)
        return false;
    if (::kill(static_cast<pid_t>(l.pid), 0) != 0 && errno == ESRCH) return true;
    int64_t start = process_start(l.pid);
    return l.start_ticks > 0 && start > 0 && start != l.start_ticks;
}

Result<LockInfo> parse_lock(const std::string& name, ByteView bytes) {
    LockInfo l;
    l.name = name;
    l.kind = name.ends_with(k_prune_suffix) ? LockKind::prune : LockKind::lease;
    json j = json::parse(as_chars(bytes), nullptr, false);
    if (!j.is_object() || !numbers_fit(j))
        return corruption("lock " + name + " is not a lock object");
    try {
        l.key_id = j.value("key_id", "");
        l.host = j.value("host", "");
        l.pid = j.value("pid", int64_t{0});
        l.purpose = j.value("purpose", "");
        l.machine = j.value("machine", "");
        l.start_ticks = j.value("start_ticks", int64_t{0});
        l.stale_after_ns = j.value("stale_after_ns", int64_t{0});
        l.created_ns = j.value("created_ns", int64_t{0});
        l.refreshed_ns = j.value("refreshed_ns", int64_t{0});
    } catch (const std::exception&) {
        return corruption("lock " + name + " has fields of the wrong type");
    }
    return l;
}

std::string lock_json(const LockInfo& l) {
    json j = {{"kind", l.kind == LockKind::prune ? "prune" : "lease"},
              {"key_id", l.key_id},
              {"host", l.host},
              {"pid", l.pid},
              {"purpose", l.purpose},
              {"machine", l.machine},
              {"start_ticks", l.start_ticks},
              {"stale_after_ns", l.stale_after_ns},
              {"created", format_rfc3339(l.created_ns)},
              {"created_ns", l.created_ns},
              {"refreshed", format_rfc3339(l.refreshed_ns)},
              {"refreshed_ns", l.refreshed_ns}};
    return j.dump() + "\n";
}

}  // namespace

std::string machine_id() {
    return this_machine();
}

std::string LockInfo::describe(int64_t now_ns) const {
    std::string what = purpose.empty() ? (kind == LockKind::prune ? "prune" : "backup") : purpose;
    return what + " on host " + (host.empty() ? "?" : host) + " (pid " + std::to_string(pid) +
           "), started " + format_rfc3339(created_ns) + ", refreshed " +
           // A lock object is plaintext anyone could write: no overflow on absurd times.
           (refreshed_ns > 0 && refreshed_ns <= now_ns ? ago(now_ns - refreshed_ns)
                                                       : std::string("at an impossible time"));
}

Result<std::vector<LockInfo>> list_locks(store::Store& store, const std::string& key_id,
                                         const LockOptions& options, const std::string& own_name) {
    // The store's "now": the modification time of an object just written. A probe when the
    // caller holds no lock of its own here (coffer unlock).
    std::string probe;
    if (own_name.empty()) {
        probe = "locks/probe-" + to_hex(crypto::random_bytes(8));
        TRY(store.put(probe, as_bytes(std::string("probe\n"))).with_context("write lock probe"));
    }
    auto objects = store.list(prefix_of(key_id));
    auto probe_listed = probe.empty() ? objects : store.list(probe);
    if (!probe.empty()) (void)store.remove(probe);
    TRY(objects.status());
    TRY(probe_listed.status());
    const std::string& clock_name = probe.empty() ? own_name : probe;
    int64_t now = 0;
    for (const auto& o : *probe_listed)
        if (o.name == clock_name) now = o.mtime_ns;
    if (now == 0) now = now_unix_ns();  // a store that keeps no times
    std::vector<LockInfo> out;
    for (const auto& o : *objects) {
        if (!o.name.ends_with(k_lease_suffix) && !o.name.ends_with(k_prune_suffix)) continue;
        auto bytes = store.get(o.name);
        if (!bytes.ok()) {
            if (bytes.status().code() == Code::not_found) continue;  // released meanwhile
            return bytes.status().with_context("read lock " + o.name);
        }
        auto l = parse_lock(o.name, *bytes);
        if (!l.ok()) {
            LockInfo bad;
            bad.name = o.name;
            bad.host = "?";
            bad.stale = true;
            out.push_back(std::move(bad));
            continue;
        }
        l->mtime_ns = o.mtime_ns;
        int64_t limit = std::max(options.stale_after_ns, l->stale_after_ns);
        int64_t written = o.mtime_ns ? o.mtime_ns : l->refreshed_ns;
        l->stale = now - written > limit || gone_from_this_machine(*l);
        out.push_back(std::move(*l));
    }
    return out;
}

Lock::Lock(std::shared_ptr<store::Store> store, LockInfo info, LockOptions options)
    : m_store(std::move(store)), m_info(std::move(info)), m_options(std::move(options)) {}

Lock::~Lock() {
    (void)release();
}

Status Lock::write() {
    LockInfo info;
    {
        std::lock_guard lock(m_mu);
        m_info.refreshed_ns = now_unix_ns();
        info = m_info;
    }
    TRY(m_store->put(info.name, as_bytes(lock_json(info))));
    std::lock_guard lock(m_mu);
    m_last_ok_boot = boot_ns();
    return ok_status();
}

void Lock::start_refresher() {
    m_refresher = std::thread([this] { refresh_loop(); });
}

void Lock::refresh_loop() {
    std::unique_lock lock(m_mu);
    while (!m_stopping) {
        m_cv.wait_for(lock, std::chrono::nanoseconds(m_options.refresh_ns),
                      [&] { return m_stopping; });
        if (m_stopping) break;
        lock.unlock();
        // Someone removed it (`coffer unlock --all`): prune may already have run. Say so
        // through check(); writing it back would hide that.
        auto st = m_store->stat(m_info.name);
        bool lost = !st.ok() && st.status().code() == Code::not_found;
        if (!lost) (void)write();  // a failed refresh shows in check() through m_last_ok_steady
        lock.lock();
        if (lost) m_lost = true;
    }
}

Status Lock::check() {
    bool look = false;
    {
        std::lock_guard lock(m_mu);
        int64_t now = boot_ns();
        look = !m_lost && now - m_last_stat_boot >= 1000000000;
        if (look) m_last_stat_boot = now;
    }
    if (look) {
        // Someone removed it (`coffer unlock --all`): prune may already be running.
        auto st = m_store->stat(m_info.name);
        if (!st.ok() && st.status().code() == Code::not_found) {
            std::lock_guard lock(m_mu);
            m_lost = true;
        }
    }
    std::lock_guard lock(m_mu);
    if (m_lost)
        return {Code::lock_held, "lock " + m_info.name +
                                     " was removed while held (coffer unlock?): stopping, "
                                     "since prune may have deleted data this run relies on"};
    if (boot_ns() - m_last_ok_boot > m_options.stale_after_ns / 2)
        return {Code::lock_held,
                "lock " + m_info.name +
                    " could not be refreshed in time and may look stale to others: stopping "
                    "before anything depends on it; run again"};
    return ok_status();
}

Status Lock::check_before_commit() {
    for (int attempt = 0;; ++attempt) {
        TRY(check());
        TRY_ASSIGN(auto locks, list_locks(*m_store, m_info.key_id, m_options, m_info.name));
        const LockInfo* prune = nullptr;
        for (const auto& l : locks)
            if (l.kind == LockKind::prune && !l.stale) prune = &l;
        if (!prune) return ok_status();
        // A prune that saw this lease withdraws at once; one still there after a few seconds
        // did not see it (or judged it stale) and may be deleting what this run references.
        if (attempt == 5)
            return Status(Code::lock_held, "a prune started while this ran (" +
                                               prune->describe(now_unix_ns()) +
                                               "): nothing was committed, run it again");
        std::this_thread::sleep_for(std::chrono::seconds(1));
    }
}

Status Lock::release() {
    {
        std::lock_guard lock(m_mu);
        if (m_released) return ok_status();
        m_released = true;
        m_stopping = true;
    }
    m_cv.notify_all();
    if (m_refresher.joinable()) m_refresher.join();
    Status st = m_store->remove(m_info.name);
    if (!st.ok() && st.code() != Code::not_found) return st.with_context("release lock");
    return ok_status();
}

Result<std::unique_ptr<Lock>> Lock::write_new(std::shared_ptr<store::Store> store, LockKind kind,
                                              const std::string& key_id,
                                              const LockOptions& options) {
    LockInfo info;
    bool lease = kind == LockKind::lease;
    info.name = prefix_of(key_id) + to_hex(crypto::random_bytes(16)) +
                std::string(lease ? k_lease_suffix : k_prune_suffix);
    info.kind = kind;
    info.key_id = key_id;
    info.host = this_host();
    info.pid = ::getpid();
    info.purpose = !options.purpose.empty() ? options.purpose : lease ? "backup" : "prune";
    info.machine = this_machine();
    info.start_ticks = process_start(::getpid());
    info.stale_after_ns = options.stale_after_ns;
    info.created_ns = now_unix_ns();
    std::unique_ptr<Lock> lock(new Lock(std::move(store), std::move(info), options));
    TRY(lock->write().with_context(lease ? "write lease" : "write prune lock"));
    return lock;
}

Result<std::unique_ptr<Lock>> Lock::acquire_lease(std::shared_ptr<store::Store> store,
                                                  const std::string& key_id,
                                                  const LockOptions& options) {
    auto notice = [&](const std::string& s) {
        if (options.on_notice) options.on_notice(s);
    };
    const int64_t start = boot_ns();
    bool said_waiting = false;
    while (true) {
        TRY_ASSIGN(auto lock, write_new(store, LockKind::lease, key_id, options));
        int64_t now = now_unix_ns();
        auto others = list_locks(*store, key_id, options, lock->name());
        if (!others.ok()) {
            (void)lock->release();
            return others.status().with_context("list locks");
        }
        const LockInfo* prune = nullptr;
        for (const auto& o : *others) {
            if (o.name == lock->name()) continue;
            if (o.stale) {
                if (o.kind == LockKind::prune && !said_waiting)
                    notice("ignoring a stale prune lock: " + o.describe(now) +
                           " (remove it with 'coffer unlock')");
                lock->m_stale_seen.push_back(o);
            } else if (o.kind == LockKind::prune) {
                prune = &o;
            }
        }
        if (!prune) {
            lock->start_refresher();
            return lock;
        }
        std::string holder = prune->describe(now);
        (void)lock->release();
        if (boot_ns() - start >= options.wait_ns)
            return Status(Code::lock_held,
                          "prune is running (" + holder +
                              "): the backup waited for it and gave up; run it again later");
        if (!said_waiting) notice("waiting for prune to finish: " + holder);
        said_waiting = true;
        std::this_thread::sleep_for(std::chrono::nanoseconds(options.poll_ns));
    }
}

Result<std::unique_ptr<Lock>> Lock::acquire_prune(std::shared_ptr<store::Store> store,
                                                  const std::string& key_id,
                                                  const LockOptions& options) {
    TRY_ASSIGN(auto lock, write_new(store, LockKind::prune, key_id, options));
    int64_t now = now_unix_ns();
    auto others = list_locks(*store, key_id, options, lock->name());
    if (!others.ok()) {
        (void)lock->release();
        return others.status().with_context("list locks");
    }
    for (const auto& o : *others) {
        if (o.name == lock->name()) continue;
        if (o.stale) {
            if (options.on_notice)
                options.on_notice("ignoring a stale lock: " + o.describe(now) +
                                  " (remove it with 'coffer unlock')");
            lock->m_stale_seen.push_back(o);
            continue;
        }
        (void)lock->release();
        if (o.kind == LockKind::prune)
            return Status(Code::lock_held, "another prune is running (" + o.describe(now) +
                                               "): nothing was deleted; try again when it ends");
        return Status(Code::lock_held,
                      "a backup is running (" + o.describe(now) +
                          "): prune deletes nothing while a backup may reference old data; try "
                          "again when it ends");
    }
    lock->start_refresher();
    return lock;
}

}  // namespace coffer::repo

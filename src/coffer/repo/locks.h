// Locks: leases of running writers and the prune lock, in locks/<key id>/ of a repository.
//
// Writers (backups) never wait for one another; only prune excludes. A writer holds a lease
// from before it reads the index (what it may deduplicate against) until its snapshot is
// written; prune holds the prune lock while it deletes. Both first put their own object and
// only then list the others, so of a writer and a prune that start together at least one sees
// the other (local directories and S3 are read-after-write consistent):
// - a writer that sees a live prune lock withdraws its lease and waits (up to wait_ns);
// - prune that sees a live lease or another live prune lock withdraws and fails (lock_held),
//   having deleted nothing.
// Locks are scoped to one host key because a host key is its own dedup domain: another key's
// backup cannot reference this key's packs, so it does not hold up this key's prune.
//
// Each lock object is rewritten every refresh_ns by a background thread. One that was not
// refreshed within stale_after_ns, or whose process no longer runs on this very host, is stale:
// ignored, and reported to the caller (never silently removed; `coffer unlock` removes them).
// An owner that could not refresh for half of stale_after_ns, or whose object vanished, may
// already look stale to others: check() then fails, and the owner must stop before it writes
// anything that depends on the lock (a backup its snapshot, prune its next deletion).
// Lock is thread-safe; the free functions are too.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "coffer/store/store.h"

namespace coffer::repo {

enum class LockKind { lease, prune };

struct LockInfo {
    std::string name;  // object name under locks/
    LockKind kind = LockKind::lease;
    std::string key_id;
    std::string host;
    int64_t pid = 0;
    std::string purpose;  // "backup", "backup --set platform", "prune"
    int64_t created_ns = 0;
    int64_t refreshed_ns = 0;
    bool stale = false;
    // "backup on host db1 (pid 4242), started 2026-11-23T16:00:00Z, refreshed 1m ago"
    std::string describe(int64_t now_ns) const;
};

struct LockOptions {
    int64_t refresh_ns = 5LL * 60 * 1000000000;       // rewrite the lock this often
    int64_t stale_after_ns = 30LL * 60 * 1000000000;  // not refreshed for this long: stale
    int64_t wait_ns = 30LL * 60 * 1000000000;         // a writer waits this long for a prune
    int64_t poll_ns = 2LL * 1000000000;               // how often a waiting writer looks again
    std::string purpose;
    // Called with one line for each stale lock ignored and while waiting; may be empty.
    std::function<void(const std::string&)> on_notice;
};

// Every lock of key_id (every key when empty), with stale worked out against now_ns. Objects
// that do not parse are listed as stale leases with host "?" (they block nothing).
Result<std::vector<LockInfo>> list_locks(store::Store& store, const std::string& key_id,
                                         const LockOptions& options, int64_t now_ns);

class Lock {
public:
    // A writer's lease. Waits while a live prune lock exists; Code::lock_held after wait_ns.
    static Result<std::unique_ptr<Lock>> acquire_lease(std::shared_ptr<store::Store> store,
                                                       const std::string& key_id,
                                                       const LockOptions& options);
    // The prune lock. Code::lock_held at once, naming the holder, while any live lease or other
    // prune lock of key_id exists.
    static Result<std::unique_ptr<Lock>> acquire_prune(std::shared_ptr<store::Store> store,
                                                       const std::string& key_id,
                                                       const LockOptions& options);
    ~Lock();  // release(), ignoring its result
    Lock(const Lock&) = delete;
    Lock& operator=(const Lock&) = delete;

    // Ok while this lock is known to be live to others. Code::lock_held otherwise.
    Status check() const;
    // Stops refreshing and removes the object. Idempotent.
    Status release();
    // Stale locks seen when this one was acquired (already reported through on_notice).
    const std::vector<LockInfo>& stale_seen() const { return m_stale_seen; }
    const std::string& name() const { return m_info.name; }

private:
    Lock(std::shared_ptr<store::Store> store, LockInfo info, LockOptions options);
    Status write();
    void refresh_loop();
    void start_refresher();

    std::shared_ptr<store::Store> m_store;
    LockInfo m_info;
    LockOptions m_options;
    std::vector<LockInfo> m_stale_seen;

    mutable std::mutex m_mu;
    std::condition_variable m_cv;
    bool m_stopping = false;
    bool m_released = false;
    bool m_lost = false;           // the object vanished: someone removed it
    int64_t m_last_ok_steady = 0;  // steady clock of the last successful write
    std::thread m_refresher;
};

}  // namespace coffer::repo

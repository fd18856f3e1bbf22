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
// Each lock object is rewritten every refresh_ns by a background thread. A lock is stale when
// the store's clock says it was last written more than stale_after_ns ago (the larger of the
// observer's and the owner's limit, which the lock records; ages are measured against the
// modification time of an object the observer has just written, so clocks of different hosts
// never meet), or when its process is gone from this very machine (same boot and PID
// namespace, and no process with that pid and start time). Stale locks are ignored and
// reported to the caller, never silently removed; `coffer unlock` removes them.
// An owner that could not refresh for half of stale_after_ns (by CLOCK_BOOTTIME, which counts
// suspended time), or whose object vanished, may already look stale to others: check() then
// fails, and the owner must stop before it writes anything that depends on the lock (a backup
// its snapshot, prune its next deletion).
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
    std::string purpose;         // "backup", "backup --set platform", "prune"
    std::string machine;         // boot id and PID namespace of the owner's process
    int64_t start_ticks = 0;     // the owner process's start time (/proc/<pid>/stat), 0 unknown
    int64_t stale_after_ns = 0;  // the owner's own limit
    int64_t created_ns = 0;
    int64_t refreshed_ns = 0;  // the owner's clock
    int64_t mtime_ns = 0;      // the store's clock, from list()
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

// This boot of the kernel and this PID namespace, as locks record their owner's machine.
std::string machine_id();

// Every lock of key_id (every key when empty), with stale worked out against the store's clock:
// the modification time of own_name (a lock the caller has just written), or, when empty, of a
// probe object written and removed for the purpose. Objects that do not parse are listed as
// stale leases with host "?" (they block nothing).
Result<std::vector<LockInfo>> list_locks(store::Store& store, const std::string& key_id,
                                         const LockOptions& options,
                                         const std::string& own_name = "");

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

    // Ok while this lock is known to be live to others: refreshed in time and (looked up at
    // most once a second) still in the store. Code::lock_held otherwise.
    Status check();
    // For a writer, just before it commits: check(), and no prune lock but stale ones exists
    // (waiting a few seconds for one that is about to withdraw). Code::lock_held otherwise.
    Status check_before_commit();
    // Stops refreshing and removes the object. Idempotent.
    Status release();
    // Stale locks seen when this one was acquired (already reported through on_notice).
    const std::vector<LockInfo>& stale_seen() const { return m_stale_seen; }
    const std::string& name() const { return m_info.name; }

private:
    Lock(std::shared_ptr<store::Store> store, LockInfo info, LockOptions options);
    // A new lock object of this process, written once (not yet refreshed).
    static Result<std::unique_ptr<Lock>> write_new(std::shared_ptr<store::Store> store,
                                                   LockKind kind, const std::string& key_id,
                                                   const LockOptions& options);
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
    int64_t m_last_ok_boot = 0;    // CLOCK_BOOTTIME of the last successful write
    int64_t m_last_stat_boot = 0;  // CLOCK_BOOTTIME of check()'s last look at the store
    std::thread m_refresher;
};

}  // namespace coffer::repo

// Prune: deletes what no snapshot of a host key references, with only the host key.
//
// The caller holds the prune lock (repo/locks.h) for the whole run and passes its check() as
// Options::check_lock, which is called before every phase that deletes. Within one host key's
// dedup domain prune:
// 1. finishes interrupted forgets (manifests named by a tombstone);
// 2. marks every chunk reachable from a snapshot through its refs DAG (no name is read);
// 3. plans, per pack: keep; delete (nothing used); repack (more than max_unused of its bytes
//    unused: a smaller copy with the same header and the used records byte for byte, see
//    repo::rewrite_pack, so the host never needs the recovery key). Packs newer than the
//    grace period are never deleted or repacked, nor is anything under S3 Object Lock
//    retention (reported with the date it ends); index objects are replaced whatever their
//    age, since the new index carries every entry they hold for packs that stay;
// 4. writes repacked packs, then one new index of every surviving entry, then deletes the old
//    index objects, and only then the packs no index names any more.
// A crash between any two steps leaves a repository that verifies: at worst duplicate index
// entries for existing packs, or unindexed packs that the next prune removes.
// Not thread-safe; the Repository must not be written by anything else meanwhile.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "coffer/repo/repository.h"

namespace coffer::prune {

struct Options {
    double max_unused = 0.2;                 // repack a pack above this unused share
    int64_t grace_ns = 3600LL * 1000000000;  // never touch objects younger than this
    bool dry_run = false;                    // plan and report only
    int64_t now_ns = 0;                      // 0: the clock (tests pass their own)
    std::function<Status()> check_lock;      // ok while the prune lock is held
    std::function<void(const std::string&)> on_progress;
};

struct Report {
    uint64_t snapshots = 0;
    uint64_t forgotten_finished = 0;  // manifests of interrupted forgets removed
    uint64_t packs = 0;               // this key's packs before
    uint64_t packs_deleted = 0;       // unused (indexed or not) and deleted
    uint64_t packs_repacked = 0;
    uint64_t packs_young = 0;  // left alone: newer than the grace period
    uint64_t packs_retained = 0;
    uint64_t indexes_deleted = 0;
    uint64_t indexes_written = 0;
    uint64_t packs_after = 0;   // this key's packs after (kept and repacked copies)
    uint64_t bytes_before = 0;  // of this key's packs
    uint64_t bytes_after = 0;
    uint64_t bytes_deleted = 0;
    uint64_t bytes_written = 0;      // repacked packs and index objects
    uint64_t unused_bytes = 0;       // in packs that are kept (below the threshold, or young)
    int64_t retained_until = 0;      // latest Object Lock date that held anything back
    std::vector<std::string> notes;  // one line each: retained objects, skipped work
};

// Code::integrity, deleting nothing, when a snapshot references a chunk that is not indexed
// or a pack to copy does not match its name (run verify). Code::lock_held when check_lock
// fails (whatever was done so far leaves a valid repository).
Result<Report> prune(repo::Repository& repository, const Options& options);

}  // namespace coffer::prune

// The checker: verifies a repository and reports every problem it finds, each naming the
// object, instead of stopping at the first.
//
// Levels, each including the one before:
// 1. No key: config parses; every pack, index, snapshot, tombstone and saved-config object's
//    name is the SHA-256 of its bytes; headers are well formed; their signatures verify
//    against the key registry (keys/*.pub), whose entries and revocations carry the registry
//    key's signature; nothing but the snapshots and tombstones a revocation lists is signed by
//    a revoked key.
// 2. Host key: index objects decrypt; every indexed pack exists and each entry lies inside it;
//    every pack's trailer agrees with the index; every snapshot decrypts, its sequence chain has
//    no gaps but those its key's tombstones explain (forget), and every chunk it references (walked
//    through its refs chunks) is indexed.
// 3. Recovery key and read_data: every chunk of every (or a random subset of) pack decrypts
//    and its recomputed ID matches.
// Not thread-safe.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "coffer/repo/repository.h"

namespace coffer::verify {

struct Options {
    bool read_data = false;
    double read_fraction = 1.0;   // with read_data: share of packs to read, (0, 1]
    std::string expected_latest;  // snapshot id this host last wrote; missing = problem
    // A backup file (archive/): one snapshot, whose predecessors are not there to check.
    bool single_snapshot = false;
    // After a recovery key rotation without rewrap: the key it replaced, for the old packs.
    const repo::RecoveryKey* previous_recovery = nullptr;
    std::function<void(const std::string&)> on_progress;
};

struct Report {
    std::vector<std::string> problems;  // each one line naming the object
    std::vector<std::string> notes;     // not failures (e.g. unindexed packs left by a crash)
    uint64_t packs = 0, indexes = 0, snapshots = 0, tombstones = 0, configs = 0, chunks_read = 0,
             bytes_read = 0;
    int level = 1;
    bool ok() const { return problems.empty(); }
};

// host and recovery may be null. A Status is returned only when verification could not run at
// all (no repository, unreadable listing); everything else is a problem in the report.
Result<Report> verify(std::shared_ptr<store::Store> store, const repo::HostKey* host,
                      const repo::RecoveryKey* recovery, const Options& options);

}  // namespace coffer::verify

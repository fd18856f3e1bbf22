// Rewrap (coffer key rotate-recovery --rewrap): after a recovery key rotation, moves every pack
// whose data key is sealed to the previous recovery key onto the current one, so that the
// previous key opens nothing and can be destroyed.
//
// Like prune it copies before it deletes, in four phases over every registered host key:
// (1) each old pack is copied with its data key unwrapped with the previous key and wrapped to
// the current one, records byte for byte (nothing is decrypted), and a new trailer; (2) the
// index objects that name old packs are replaced by ones naming the copies; (3) the replaced
// index objects are removed; (4) the old packs are removed. A crash leaves every snapshot
// restorable: with the previous key until phase 3 starts (its index objects and packs are all
// there), with the current key from then on (every copy and its index are). Running it again
// finishes the job: packs already sealed to the current key are left alone. Holds each host
// key's prune lock, so no backup writes meanwhile. Thread-compatible.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "coffer/repo/keys.h"
#include "coffer/store/store.h"

namespace coffer::repo {

struct RewrapStats {
    size_t packs_rewrapped = 0;  // copies written by this run
    size_t packs_current = 0;    // indexed packs sealed to the current key already
    size_t index_written = 0;
    size_t index_removed = 0;
    size_t index_retained = 0;  // replaced index objects Object Lock keeps for now
    size_t packs_removed = 0;   // sealed to the previous key, removed
    // Sealed to the previous key, kept by Object Lock for now (or named by an index object it
    // keeps: those packs stay readable with the previous key until the index can go).
    size_t packs_retained = 0;
    int64_t retained_until = 0;  // ns since the epoch: the latest such date
    uint64_t bytes_written = 0;
    std::vector<std::string> problems;  // what was left as it was, and why; one line each

    // Nothing the previous key opens is left.
    bool complete() const { return packs_retained == 0 && index_retained == 0 && problems.empty(); }
};

// current must be the config's recovery key and previous one it replaced (repo/rotation.h).
// When the run is complete, records it (keys/rotation-*.rewrapped): the previous key is then
// refused by name. Errors stop the run where it is; running it again carries on.
Result<RewrapStats> rewrap_packs(const std::shared_ptr<store::Store>& store,
                                 const RecoveryKey& current, const RecoveryKey& previous);

}  // namespace coffer::repo

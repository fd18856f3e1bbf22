// Mirror: copies a repository's objects to a second location, with no key. Objects are
// immutable and (except config and keys/) named by the SHA-256 of their bytes, so a copy is
// checked against its name before it is written and never needs decrypting.
//
// Order keeps the mirror a valid repository at every moment, as the primary is: config, keys,
// then packs, then index objects, then snapshots; each group completes before the next starts,
// so the mirror never holds an index naming a missing pack or a snapshot naming a missing index
// entry. An interrupted mirror is resumed by running it again: only missing objects are copied.
// audit/ (each host's audit log: immutable segments and checkpoints, checked by coffer audit
// verify rather than by name) comes last, segments before checkpoints. locks/ are the primary's
// own business and are not copied. The mirror's config is replaced only after a recovery key
// rotation at the primary, when signed statements (repo/rotation.h) lead from its keys to the
// new ones; any other config of the same id is refused, as one of another repository is.
//
// Deletions (prune) are not propagated: a mirror only grows. Thread-safe per call; the stores
// must be thread-safe (store.h).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "coffer/store/store.h"

namespace coffer::mirror {

struct Options {
    unsigned threads = 4;  // objects copied at once (snapshots: one at a time, in order)
    // Snapshot object names ("snapshots/<hex>") oldest first. Each snapshot names its
    // predecessor, and verify reports a missing predecessor as a deleted snapshot, so a mirror
    // interrupted half-way through the snapshots is consistent only if they were copied in
    // order. Reading that order needs the host key; without this callback snapshots are copied
    // in name order, and an interrupted run can leave a gap that the next run closes.
    std::function<Result<std::vector<std::string>>()> snapshot_order;
    // Called after each copied object, from any worker thread.
    std::function<void(const std::string& name, uint64_t bytes)> on_copied;
};

struct Outcome {
    uint64_t objects_copied = 0, bytes_copied = 0;
    uint64_t objects_present = 0;  // already at the mirror
};

// Copies every object of `from` that `to` lacks. Fails with Code::already_exists when `to`
// holds another repository (a different config), Code::integrity when an object of `from`
// does not match its name (nothing of it is written), and with the store's error otherwise;
// what was copied before a failure stays and the next run continues from there.
Result<Outcome> mirror(store::Store& from, store::Store& to, const Options& options = {});

struct Lag {
    // Objects of `from` missing at `to`, by top-level folder ("packs", "index", "snapshots",
    // "keys", "config"), and their bytes.
    std::vector<std::pair<std::string, uint64_t>> missing;  // folder -> count
    uint64_t missing_objects = 0, missing_bytes = 0;
    bool same_repository = true;  // config identical (or missing at the mirror)
};

// What a mirror run would copy, from listings alone.
Result<Lag> compare(store::Store& from, store::Store& to);

}  // namespace coffer::mirror

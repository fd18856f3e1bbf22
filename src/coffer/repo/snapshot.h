// Snapshot manifests: the host-readable header of one backup. A snapshot exists exactly when its
// manifest object exists (written last, after its packs and index).
//
// Payload (inside the metadata envelope) is JSON:
//   {"version":1, "time":"<RFC 3339>", "time_ns":…, "hostname":…, "key_id":…, "paths":[…],
//    "tags":[…], "tree":"<hex>", "refs":"<hex>", "sequence":N, "previous":"<manifest id|''>",
//    "incomplete":bool, "summary":{…}, "set":"<name>", "sources":[{"name","type","bytes",
//    "files"}]}   (set and sources only for backups of a configured set)
// sequence counts this host key's snapshots (1, 2, …) and previous names its last manifest,
// so a deleted or replayed manifest shows as a gap or a fork (see docs/design.md).
#pragma once

#include <string>
#include <vector>

#include "coffer/repo/format.h"
#include "coffer/util/bytes.h"
#include "coffer/util/status.h"

namespace coffer::repo {

struct SnapshotSummary {
    uint64_t files_new = 0;
    uint64_t files_changed = 0;
    uint64_t files_unchanged = 0;
    uint64_t dirs = 0;
    uint64_t errors = 0;
    uint64_t bytes_read = 0;
    uint64_t total_bytes = 0;   // sum of file sizes in the snapshot
    uint64_t data_added = 0;    // plaintext bytes of new chunks
    uint64_t packed_added = 0;  // bytes of new packs written
    double duration_s = 0;
};

// One source of a backup set, as the host may see it: its name, type and size, never a name or
// a byte of what it holds.
struct SourceSummary {
    std::string name;
    std::string type;
    uint64_t bytes = 0;
    uint64_t files = 0;
};

struct Snapshot {
    Id id;  // name of the manifest object; not part of the payload
    std::string key_id;
    int64_t time_ns = 0;
    std::string hostname;
    std::vector<std::string> paths;
    std::vector<std::string> tags;
    Id tree;
    Id refs;
    uint64_t sequence = 0;
    std::string previous;
    bool incomplete = false;
    SnapshotSummary summary;
    std::string set;                     // backup set name; empty for a plain path backup
    std::vector<SourceSummary> sources;  // one per source of the set, in config order

    const SourceSummary* find_source(std::string_view name) const;

    std::string to_json() const;
    static Result<Snapshot> parse(ByteView json, const std::string& label);
};

}  // namespace coffer::repo

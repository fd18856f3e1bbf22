// Tombstones: the signed record of snapshots removed on purpose (forget).
//
// Every manifest names its predecessor, so removing one breaks a link that verify reports as a
// deleted snapshot. A tombstone, written and made durable before the manifests it names are
// removed, is the host's signed statement that they were forgotten on purpose: verify accepts
// a broken link only to a snapshot named in a tombstone of the same host key. An attacker who
// can delete objects but lacks the host's signing key cannot write one.
//
// Stored as tombstones/<id>, a metadata envelope (meta.h) of type 3 whose payload is JSON:
//   {"version":1, "time":"<RFC 3339>", "time_ns":N, "reason":"keep-last 3",
//    "snapshots":[{"id":"<manifest id>", "sequence":N, "time_ns":N}, ...]}
// Plain values; thread-compatible.
#pragma once

#include <string>
#include <vector>

#include "coffer/repo/format.h"
#include "coffer/util/bytes.h"
#include "coffer/util/status.h"

namespace coffer::repo {

struct ForgottenSnapshot {
    Id id;
    uint64_t sequence = 0;
    int64_t time_ns = 0;
};

struct Tombstone {
    Id id;  // name of the tombstone object; not part of the payload
    int64_t time_ns = 0;
    std::string reason;
    std::vector<ForgottenSnapshot> snapshots;

    std::string to_json() const;
    static Result<Tombstone> parse(ByteView json, const std::string& label);
};

inline std::string tombstone_name(const Id& id) {
    return "tombstones/" + id.hex();
}

}  // namespace coffer::repo

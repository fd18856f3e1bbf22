// A host's coffer configuration, kept in the repository so that `coffer recover` can rebuild
// the host from the repository and the recovery key alone.
//
// Stored as configs/<id> (id = SHA-256 of the object), a metadata envelope (meta.h) of type 4:
// encrypted with the host's metadata key (the config may hold S3 credentials; the recovery key
// unseals the host secrets, so it reads them too) and signed with its signing key, so that
// nobody without the host key can plant a config (with hooks that run commands) for a
// recovered host to install. Payload: JSON {"version":1, "time", "time_ns", "host", "path",
// "text"}. Written create-only, never modified; small, and never pruned. Thread-compatible.
#pragma once

#include <optional>
#include <string>

#include "coffer/repo/keyring.h"
#include "coffer/store/store.h"

namespace coffer::repo {

struct HostConfig {
    Id id;  // name of the object; not part of the payload
    int64_t time_ns = 0;
    std::string host;
    std::string path;  // where the config file lived on the host
    std::string text;  // the file's contents
};

inline std::string host_config_name(const Id& id) {
    return "configs/" + id.hex();
}

// Seals and writes config as keys' own. Returns its id.
Result<Id> save_host_config(store::Store& store, const KeyRing& keys, HostConfig config);

// The newest config keys' host saved (by time), checked (name, signature, decryption); none
// when there is none. Damaged ones are errors.
Result<std::optional<HostConfig>> newest_host_config(store::Store& store, const KeyRing& keys);

}  // namespace coffer::repo

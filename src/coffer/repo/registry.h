// The key registry (keys/ in a repository): which host keys may sign objects, and which of them
// an admin has revoked.
//
// keys/<id>.pub registers a host key; keys/<id>.revoked retires it, naming the snapshots and
// tombstones it had signed by then (they still verify; anything else it signs does not). Both
// are JSON signed by the registry key, an Ed25519 key derived from the recovery key
// (RecoveryKey::registry_seed) whose public half is in the config and in every host key file.
// So only a holder of the recovery key (or K of its shares) can add or revoke a host; a writer
// with a stolen host key can neither register a key of its own nor lift a revocation by
// editing one (a revocation that does not verify fails closed: the key stays revoked, trusting
// nothing). Deleting a revocation needs write access to keys/ and is not detected here
// (docs/design.md, known limits). Plain functions; thread-compatible.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "coffer/repo/keys.h"
#include "coffer/store/store.h"

namespace coffer::repo {

struct RegistryEntry {
    std::string key_id;
    std::string host;
    Bytes signing_public_key;
    std::string created;
    std::string status;  // "active", "retired" (a valid revocation exists) or "untrusted"
    // Empty when the entry's registry signature verifies; otherwise why it does not (the key
    // is then not trusted to sign anything).
    std::string problem;
    // For a retired key: when and why, and the objects it had signed by then.
    std::string revoked;
    std::string reason;
    std::set<Id> snapshots_before_revocation;
    std::set<Id> tombstones_before_revocation;
    bool revocation_damaged = false;  // keys/<id>.revoked exists but does not verify
    // The verified text of keys/<id>.pub and keys/<id>.revoked (what a rotation re-signs).
    std::string source, revocation_source;

    bool trusted() const { return problem.empty(); }
    bool retired() const { return status == "retired"; }
};

struct Registry {
    std::map<std::string, RegistryEntry> entries;  // by key id hex
    // Revocations that do not verify (forged or damaged), each one line; they revoke nothing.
    std::vector<std::string> problems;
};

// Reads keys/. Code::corruption for an entry that is not JSON of the right shape; a bad
// signature is not an error but the entry's problem (verify reports it).
Result<Registry> load_registry(store::Store& store, const RepoConfig& config);

// Registers host in the repository: its secrets sealed to the recovery key (keys/<id>.secrets),
// then its signed entry (keys/<id>.pub), both create-only. The entry is what makes the key a
// registered one, so a crash between the two leaves only an inert sealed file.
Status register_host_key(store::Store& store, const RepoConfig& config, const HostKey& host,
                         const RecoveryKey& recovery);

// Retires key_id: writes keys/<id>.revoked (create-only, or replacing one that does not verify;
// Code::already_exists when it is revoked already), naming every snapshot and tombstone object in
// the store that this key signed. Returns the revocation's entry as load_registry() would show it.
Result<RegistryEntry> revoke_host_key(store::Store& store, const RepoConfig& config,
                                      const RegistryEntry& entry, const RecoveryKey& recovery,
                                      const std::string& reason);

// Recovery key rotation, before the config names new_key (repo/rotation.h): writes
// keys/<id>.pub.next and .revoked.next, signed by new_key's registry key, and .secrets.next,
// sealed to new_key, for every trusted entry. They are inert until the config changes (nothing
// verifies with a registry key the config does not name); load_registry() and unsealing then
// fall back to them wherever the file they shadow no longer verifies or opens.
Status stage_rotated_registry(store::Store& store, const RepoConfig& config,
                              const RecoveryKey& old_key, const RepoConfig& new_config,
                              const RecoveryKey& new_key);
// After the config changed (current is its key): each keys/*.next that verifies, or opens, with
// the config's keys replaces the file it shadows; any other (left by a rotation abandoned
// before its commit) is removed. Returns how many were promoted.
Result<size_t> promote_staged_registry(store::Store& store, const RepoConfig& config,
                                       const RecoveryKey& current);

// A host name a registry entry (and a host key file name) may carry: 1 to 64 of [A-Za-z0-9._-],
// not starting with '.' or '-'.
bool valid_host_name(std::string_view name);

}  // namespace coffer::repo

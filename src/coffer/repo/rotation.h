// Recovery key rotation (coffer key rotate-recovery): the signed statements that let host key
// files, and a recovery key rotated out, follow a repository to its new recovery key.
//
// keys/rotation-<new registry key hex>.json says "recovery key F (registry key RF) is replaced
// by T (registry key RT)" and is signed by RF, so only the holder of the old recovery key can
// rotate. A host key file records the recovery and registry keys it was issued under; when the
// config names others, the host follows the statements from its own registry key to the
// config's, each signed by the key before it, so a config swapped by anyone without the
// recovery key is still refused. keys/rotation-<hex>.rewrapped, signed by RT (or the config's
// registry key), says that every
// pack sealed to F was rewrapped to T and removed: F then opens nothing and is refused by name.
// Plain functions; thread-compatible.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "coffer/repo/keys.h"
#include "coffer/store/store.h"

namespace coffer::repo {

struct Rotation {
    std::string name;  // keys/rotation-<hex>.json
    Bytes from_recovery, from_registry, to_recovery, to_registry;
    std::string created;
    std::string rewrapped;  // when rewrap finished (a verified .rewrapped); empty until then
};

struct Rotations {
    std::vector<Rotation> statements;   // those whose signature verifies
    std::vector<std::string> problems;  // statements that do not verify, one line each
};

// Reads keys/rotation-*. A statement that does not verify is a problem, never a link.
Result<Rotations> load_rotations(store::Store& store, const RepoConfig& config);

// The statements leading from the keys (recovery_public, registry_public) to the config's, in
// order; empty when they are the config's; nullopt when no chain of verified statements leads
// there.
std::optional<std::vector<const Rotation*>> rotation_chain(const Rotations& rotations,
                                                           ByteView recovery_public,
                                                           ByteView registry_public,
                                                           const RepoConfig& config);

// A host key issued before one or more rotations: moves its recorded recovery and registry keys
// to the config's when a chain of statements leads there (returns true; the caller rewrites the
// key file); false when they are the config's already. Otherwise check_matches()'s error.
Result<bool> follow_rotations(store::Store& store, const RepoConfig& config, HostKey& host);

// How a recovery key stands to the repository: the config's (current), or one rotated out
// while packs sealed to it may still be there (previous: it reads, and is the key a rewrap
// needs). Code::wrong_key naming the rotation for a key whose packs were all rewrapped, and
// check_matches()'s error for any other key.
// With allow_retired, such a key is RecoveryKeyRole::retired instead (finishing a rotation
// whose rewrap is done but whose last steps were interrupted).
enum class RecoveryKeyRole { current, previous, retired };
Result<RecoveryKeyRole> recovery_key_role(store::Store& store, const RepoConfig& config,
                                          const RecoveryKey& key, bool allow_retired = false);

// The first rotation away from key (which must be a previous key), for messages and the marker.
Result<Rotation> rotation_from(store::Store& store, const RepoConfig& config,
                               const RecoveryKey& key);

// Writes the statement that old_key (the config's) is replaced by new_key, create-only.
// Returns its name. Does not touch the config.
Result<std::string> write_rotation(store::Store& store, const RepoConfig& config,
                                   const RecoveryKey& old_key, const RecoveryKey& new_key);

// The whole rotation in the repository, in its crash-safe order: the statement, the registry
// and host secrets staged under next (registry.h), the config naming next (the commit), then
// the staged files replacing the ones they shadow. current must be the config's key. Wherever
// it stops, the config tells which side of the commit the repository is on; on the far side,
// promote_staged_registry() does what is left. Returns the statement's name.
Result<std::string> rotate_recovery_key(store::Store& store, const RecoveryKey& current,
                                        const RecoveryKey& next);

// Records that rewrap finished for rotation, signed by new_key (the config's).
Status mark_rewrapped(store::Store& store, const RepoConfig& config, const RecoveryKey& new_key,
                      const Rotation& rotation);

}  // namespace coffer::repo

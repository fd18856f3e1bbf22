// Journal: one host's audit log in one repository, kept in two places.
//
// Locally, in the host's state directory (dir): log.ndjson (each line one leaf, exactly the
// bytes hashed), checkpoints.ndjson (each line {"size":n,"note":"<base64 signed note>"}) and a
// lock file. In the repository, under audit/<host key id>/: log/<first>-<end> (immutable NDJSON
// segments of leaves [first, end)), checkpoints/<size> (signed notes) and keys/<id>.sealed (each
// audit signing key sealed to the recovery key, so the recovery key can rebuild a host). Mirrors
// copy audit/ like any other prefix, so every location carries the log.
//
// The signing key (a C2SP signer key string) lives in a 0600 file beside the host key, never in
// the repository in clear. Its name is the log's origin, "coffer.audit/<repo>/<host>/<key id>",
// fixed by the log's first entry (the genesis key's activation).
//
// append() takes the lock, reloads the local log, checks it against the repository's newest
// checkpoint (a local log that is shorter, or differs, is refused: rolled back or replaced; a
// missing one is rebuilt from the repository), appends and fsyncs the entry, signs and fsyncs a
// checkpoint, then copies what the repository lacks. Only the replication may fail softly:
// append() reports it in `warning` and the next append retries. Thread-compatible; processes
// serialize on the lock file.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "coffer/audit/note.h"
#include "coffer/store/store.h"

namespace coffer::audit {

struct JournalConfig {
    std::string dir;       // local state directory for the log (created 0700)
    std::string key_path;  // the audit signing key file (created 0600 at genesis)
    std::string repo_id;   // hex
    std::string host_key_id;
    std::string host_name;
    std::shared_ptr<store::Store> store;  // the repository; null: local only
    Bytes recovery_public_key;            // for the sealed key copies; empty: none written
};

// What an action leaves: the journal fills in schema, origin, index and time.
struct Action {
    std::string actor;
    std::string host;
    std::string action;
    std::string target;
    std::string outcome;  // ok | failed | refused | started
    std::string error;    // empty: none
    nlohmann::json details = nlohmann::json::object();
};

struct Appended {
    uint64_t index = 0;
    std::string warning;  // replication to the repository failed; retried by the next append
};

struct Replica {
    std::vector<std::string> leaves;
    std::vector<std::string> checkpoints;  // signed notes, by size
};

class Journal {
public:
    explicit Journal(JournalConfig config) : m_cfg(std::move(config)) {}

    std::string origin_for_new_log() const;
    const std::string& dir() const { return m_cfg.dir; }
    // Appends one entry, durably, with a checkpoint. Fails (and writes nothing) when the lock,
    // the key or the disk fails, or the local log is behind or differs from the repository's.
    Result<Appended> append(const Action& action);
    // Activates a fresh signing key, retires the old one (the checkpoint between is signed by
    // both, which endorses the new key), and replaces the key file. Returns the new verifier key.
    Result<std::string> rotate_key(const Action& who);

    // The local log as stored (under the lock, repaired of a torn last line).
    Status load(std::vector<std::string>& leaves, std::vector<std::string>& checkpoints);
    // The repository's copy (empty when there is none).
    Result<Replica> read_replica();
    // The public key of the current signing key ("" when there is no key file yet).
    Result<std::string> current_verifier_key();
    // For a host rebuilt from the repository (coffer recover): writes the key file (0600) from
    // the repository's sealed copy of the log's newest active signing key, opened with the
    // recovery key. False, and nothing written, when the repository has no log for this host
    // key (the next append starts one). Code::already_exists when a key file is there.
    Result<bool> restore_key(ByteView recovery_private_key);

private:
    class Lock;
    Status load_locked(std::vector<std::string>& leaves, std::vector<std::string>& checkpoints);
    Status check_against_replica(std::vector<std::string>& leaves,
                                 std::vector<std::string>& checkpoints);
    Result<Signer> load_or_create_key(const std::vector<std::string>& leaves, bool& created);
    Status append_leaf(std::vector<std::string>& leaves, const std::string& leaf);
    Status append_checkpoint(std::vector<std::string>& checkpoints,
                             const std::vector<std::string>& leaves,
                             const std::vector<Signer>& signers);
    Status replicate(const std::vector<std::string>& leaves,
                     const std::vector<std::string>& checkpoints, const Signer& key);
    // previous: the log's last leaf ("" for the first), whose time this entry may not precede.
    Result<std::string> encode(const Action& a, const std::string& origin, uint64_t index,
                               const std::string& previous);

    JournalConfig m_cfg;
};

// The origin stored in a log's first entry ("" if it has none).
std::string origin_of(const std::vector<std::string>& leaves);

// Recovery key rotation: every audit/*/keys/*.sealed of the repository (repo_id, hex) that
// opens with old_private is sealed again to new_public, in place; those that do not (sealed to
// the new key by an earlier, interrupted run) are left. Returns how many were resealed.
Result<size_t> reseal_audit_keys(store::Store& store, const std::string& repo_id,
                                 ByteView old_private, ByteView new_public);

}  // namespace coffer::audit

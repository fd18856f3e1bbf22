// Repository: the sole owner of coffer's on-disk format on top of a Store.
//
// It creates repositories (init), opens them with a host key (write, list, verify structure)
// and optionally the recovery key (read contents), deduplicates and packs chunks, writes index
// objects and signed snapshot manifests, and reads chunks back with every check: the pack
// header's stanza, the record's AEAD tag, and finally the chunk ID recomputed from the plaintext.
//
// Ordering invariant (docs/design.md): a pack is durable before an index names it; an index is
// durable before a snapshot references its chunks; a snapshot exists exactly when its manifest
// does. store_chunk() and load_chunk() are thread-safe; flush() and save_snapshot() must not run
// concurrently with store_chunk().
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_set>

#include "coffer/chunker/chunker.h"
#include "coffer/repo/index.h"
#include "coffer/repo/keyring.h"
#include "coffer/repo/registry.h"
#include "coffer/repo/snapshot.h"
#include "coffer/repo/tombstone.h"
#include "coffer/store/store.h"

namespace coffer::repo {

struct InitOptions {
    std::string host;
    uint32_t chunk_avg_size = 1 << 20;
    uint32_t pack_size = 16 << 20;
    int zstd_level = 3;
};

struct WriteStats {
    uint64_t chunks_added = 0;
    uint64_t data_added = 0;    // plaintext bytes of new chunks
    uint64_t packed_added = 0;  // bytes of packs and index objects written
    uint64_t packs_written = 0;
};

class Repository {
public:
    struct Created;
    // Creates a repository in an empty store. Code::already_exists if it already holds one.
    static Result<Created> init(std::shared_ptr<store::Store> store, const InitOptions& options);

    // Reads and parses "config". Code::not_found "<location> is not a coffer repository".
    static Result<RepoConfig> read_config(store::Store& store);

    // Opens with a host key and, when given, the recovery key. If host is null, the recovery
    // key is required and the host secrets are unsealed from keys/ (key_id picks one when the
    // repository has several). A host key that is not registered is refused (Code::wrong_key);
    // a revoked one opens for reading only.
    static Result<std::unique_ptr<Repository>> open(std::shared_ptr<store::Store> store,
                                                    const HostKey* host,
                                                    const RecoveryKey* recovery,
                                                    std::string key_id = {});

    const RepoConfig& config() const { return m_config; }
    // A recovery key rotated out (repo/rotation.h), tried for packs the current one does not
    // open, until rewrap has moved them all. Call before reading.
    Status add_previous_recovery_key(const RecoveryKey& previous);
    // Code::wrong_key when this host key has been revoked: it may read, but every call that
    // writes (chunks, index, snapshots, tombstones) refuses.
    Status writable() const;
    const KeyRing& keys() const { return *m_keys; }
    store::Store& store() { return *m_store; }
    const std::shared_ptr<store::Store>& shared_store() const { return m_store; }
    const chunker::Chunker& chunker() const { return *m_chunker; }

    // Loads every index object of this host key into memory. Objects of other keys are skipped.
    // With skipped non-null, damaged index objects are described there and left out instead of
    // failing the load (verify reports them on its own).
    Status load_index(std::vector<std::string>* skipped = nullptr);
    // One index object of this key: its id, when the store last saw it written, and its packs.
    struct IndexObject {
        Id id;
        int64_t mtime_ns = 0;
        std::vector<IndexedPack> packs;
    };
    // Reads, checks and decodes every index object of this host key (others are skipped).
    // With skipped non-null, damaged ones are described there instead of failing the read.
    Result<std::vector<IndexObject>> read_index_objects(
        std::vector<std::string>* skipped = nullptr);
    // Makes objects this Repository's in-memory index (as load_index does after reading).
    void adopt_index(const std::vector<IndexObject>& objects);
    // Seals and writes packs as index objects (several when large). Returns their ids.
    Result<std::vector<Id>> write_index(const std::vector<IndexedPack>& packs);
    // The same for rewrap (repo/rewrap.h), run by the recovery key's holder: also for a revoked
    // key, whose packs move to the new recovery key like any other.
    Result<std::vector<Id>> write_index_objects(const std::vector<IndexedPack>& packs);
    // Loads the index unless this Repository already has (writes since then are in memory).
    Status ensure_index();
    bool has_chunk(const Id& id) const;
    const Index& index() const { return m_index; }  // not while writers run

    // Stores a chunk unless it is already indexed or pending. Returns true if it was new.
    Result<bool> store_chunk(ChunkType type, const Id& id, ByteView plaintext);
    // Finishes and uploads every open pack, then writes an index object for all new packs.
    Status flush();
    WriteStats write_stats() const;

    // Fills key_id, sequence and previous, seals and writes the manifest. Returns its id.
    Result<Id> save_snapshot(Snapshot& snapshot);
    // The newest snapshot this host key wrote, as its host remembers it: save_snapshot() then
    // refuses (Code::integrity) to number a snapshot from a listing that lacks it, unless a
    // tombstone says it was forgotten. A listing cut short would otherwise restart the
    // sequence and fork this host's chain of manifests.
    void expect_latest(const Id& id) { m_expected_latest = id; }

    // A pack's data key, with the recovery key or else the previous one.
    Result<SecretBytes> data_key_of(const PackHeader& header, const std::string& label) const;
    // Reads, decrypts and verifies one chunk (its recomputed ID must equal id).
    Result<Bytes> load_chunk(const Id& id, ChunkType expected);

    // This key's snapshots, oldest first, without those a tombstone names (forgotten, even
    // while Object Lock keeps their manifests). Damaged manifests are errors.
    Result<std::vector<Snapshot>> list_snapshots();
    // "latest", a full id, or a unique prefix of at least 4 hex digits.
    Result<Snapshot> find_snapshot(std::string_view spec);

    struct Forgotten {
        Id tombstone;
        size_t retained = 0;         // manifests Object Lock keeps for now (forgotten all the same)
        int64_t retained_until = 0;  // the latest date among them
    };
    // Forgets snapshots of this key: writes a tombstone naming them (durable first), then
    // removes their manifests, except those still under Object Lock retention, which stay
    // behind as forgotten manifests for a later forget or prune to remove. Refuses
    // (Code::invalid_argument) to forget this key's newest snapshot, which anchors the chain
    // for verify. A crash after the tombstone leaves manifests that finish_forget() removes.
    Result<Forgotten> forget_snapshots(const std::vector<Snapshot>& snapshots,
                                       const std::string& reason);
    // This key's tombstones, oldest first. Damaged ones are errors.
    Result<std::vector<Tombstone>> list_tombstones();
    // Removes manifests that a tombstone names but that are still there (an interrupted
    // forget, or retention that has ended). Returns how many it removed.
    Result<size_t> finish_forget();

    // A host key rebuilt from keys/<key_id>.secrets with the recovery key (coffer recover).
    static Result<HostKey> unseal_host_key(store::Store& store, const RepoConfig& config,
                                           const RecoveryKey& recovery, const std::string& key_id);
    // keys/ (repo/registry.h), checked against the store's config.
    static Result<Registry> load_registry(store::Store& store);

private:
    Repository() = default;
    Status upload_pack(PackWriter& writer);
    // A pack closes once it reaches pack_size, so it ends below that plus one largest chunk.
    size_t expected_pack_size() const {
        // A largest chunk (4 x the average) past the target, with zstd's worst-case bound on
        // it, which PackWriter::add reserves before it compresses in place.
        const size_t largest = 4 * size_t(m_config.chunk_avg_size);
        return size_t(m_config.pack_size) + largest + largest / 128 + 8192;
    }
    Status write_index_locked(std::unique_lock<std::mutex>& lock);
    Result<SecretBytes> pack_data_key(const Id& pack);
    // Removes a forgotten manifest unless retention holds it (counted in out). True if removed.
    Result<bool> remove_forgotten(const std::string& name, Forgotten& out);
    // Lists prefix ("snapshots/", "tombstones/"), checks each object's name, envelope and
    // signature, and returns the payloads of this key's objects of the given type by id.
    Result<std::vector<std::pair<Id, Bytes>>> load_own_meta(std::string_view prefix, MetaType type,
                                                            std::string_view kind);

    std::shared_ptr<store::Store> m_store;
    RepoConfig m_config;
    std::shared_ptr<const KeyRing> m_keys;
    std::optional<Id> m_expected_latest;
    std::string m_revoked_on;  // when the registry revoked this key; empty while active
    // For a revoked key: the only snapshots and tombstones of it that count.
    std::set<Id> m_allowed_snapshots, m_allowed_tombstones;
    std::unique_ptr<chunker::Chunker> m_chunker;

    mutable std::mutex m_mu;  // guards everything below
    Index m_index;
    bool m_index_loaded = false;
    std::unordered_set<Id, IdHash> m_pending;  // in an open pack, not yet uploaded
    std::vector<IndexedPack> m_unindexed;      // uploaded, not yet in an index object
    std::vector<std::unique_ptr<PackWriter>> m_idle_writers;
    std::map<Id, SecretBytes> m_data_keys;           // pack -> unwrapped data key
    std::optional<SecretBytes> m_previous_recovery;  // add_previous_recovery_key()
    WriteStats m_stats;
};

struct Repository::Created {
    std::unique_ptr<Repository> repository;
    HostKey host_key;
    RecoveryKey recovery_key;
};

}  // namespace coffer::repo

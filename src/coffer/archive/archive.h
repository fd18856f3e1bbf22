// The portable backup file: one snapshot, with everything needed to verify and restore it, in
// a single file an operator can carry to an air-gapped vault or a second site.
//
// It is a repository of exactly one snapshot, serialized: the config, the snapshot's host key
// registry entry (and revocation, if any) and sealed secrets, packs holding only the
// snapshot's records (copied byte for byte, as prune repacks: still sealed to the recovery
// key), one index object naming them, and the snapshot manifest itself, unchanged. Format:
//
//   "CFRX" | version(1)=1 | repository id(32) | snapshot id(32)
//   entries: 1(1) | u16 name length | name | u64 size | bytes        (little-endian)
//   end:     0(1) | u64 entry count | SHA-256 of every byte before it(32)
//
// ArchiveStore reads it as a read-only Store, after checking the SHA-256 over the whole file,
// so every reader (verify, restore, ls) sees a flipped byte anywhere, and then applies its own
// checks to each object as it would in a repository: with the recovery key that authenticates
// everything (config's registry key = the one derived from the recovery key). Without a key a
// file can only be checked for integrity and self-consistency.
// ArchiveWriter is single-threaded; ArchiveStore is thread-safe (pread).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "coffer/crypto/crypto.h"
#include "coffer/repo/repository.h"
#include "coffer/store/store.h"

namespace coffer::archive {

constexpr std::string_view k_magic = "CFRX";
constexpr uint8_t k_version = 1;

// Writes a backup file: a temporary beside path (".NAME.coffer-partial-XXXXXX", 0600), renamed
// into place by commit() only if path does not exist (Code::already_exists), after fsync. A
// writer dropped before commit() removes the temporary, so no half-written file is left.
class ArchiveWriter {
public:
    static Result<std::unique_ptr<ArchiveWriter>> create(const std::string& path,
                                                         const Id& repository_id,
                                                         const Id& snapshot_id);
    ~ArchiveWriter();
    Status add(std::string_view name, ByteView data);
    Status commit();
    uint64_t bytes_written() const { return m_written; }

private:
    ArchiveWriter() = default;
    Status write(ByteView data);

    std::string m_path, m_temp;
    int m_fd = -1;
    uint64_t m_entries = 0, m_written = 0;
    crypto::Sha256 m_hash;
    bool m_committed = false;
};

class ArchiveStore final : public store::Store {
public:
    // Reads the whole file once to check its SHA-256 and shape: Code::integrity naming the file
    // when it is damaged or truncated, Code::invalid_argument when it is not a backup file.
    static Result<std::shared_ptr<ArchiveStore>> open(const std::string& path);
    ~ArchiveStore() override;

    const Id& repository_id() const { return m_repository_id; }
    const Id& snapshot_id() const { return m_snapshot_id; }

    Status put(std::string_view name, ByteView data, store::PutMode mode) override;
    using Store::put;
    Result<Bytes> get(std::string_view name) override;
    Result<Bytes> get_range(std::string_view name, uint64_t offset, uint64_t length) override;
    Result<store::ObjectInfo> stat(std::string_view name) override;
    Result<std::vector<store::ObjectInfo>> list(std::string_view prefix) override;
    Status remove(std::string_view name) override;
    store::Capabilities capabilities() const override { return {false, false}; }
    std::string location() const override { return "backup file " + m_path; }

private:
    struct Entry {
        uint64_t offset = 0, size = 0;
    };
    ArchiveStore() = default;
    Result<Bytes> read_at(uint64_t offset, uint64_t length) const;

    std::string m_path;
    int m_fd = -1;
    int64_t m_mtime_ns = 0;
    Id m_repository_id, m_snapshot_id;
    std::map<std::string, Entry, std::less<>> m_entries;
};

struct ExportStats {
    uint64_t chunks = 0;
    uint64_t packs = 0;
    uint64_t bytes = 0;  // of the file
};

// Writes snapshot (one of repository's host key's) to path as a backup file. Needs the host
// key's metadata key (refs chunks and pack trailers), not the recovery key.
Result<ExportStats> export_snapshot(repo::Repository& repository, const repo::Snapshot& snapshot,
                                    const std::string& path);

}  // namespace coffer::archive

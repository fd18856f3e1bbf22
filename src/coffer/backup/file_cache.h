// FileCache: the host-local record of what each file looked like at the last backup (size,
// mtime, ctime, inode) and which chunks it was cut into, so unchanged files are never re-read.
//
// Entries are keyed by HMAC(chunk-ID key, path), so the cache holds no file names. It is
// disposable: a missing or damaged cache only costs a re-read. A backup reads the previous cache
// (FileCache: one flat, sorted array, about 72 bytes per file plus 32 per chunk) and streams the
// next one to disk as it goes (FileCacheWriter: a bounded buffer), so a tree of a million files
// costs one cache in memory, not two. The new cache replaces the old one atomically (0600), only
// after the snapshot it describes is saved. Neither class is thread-safe.
//
// On disk: "coffer-file-cache v2\n", then per file 0x01 | key(32) | varint size | svarint mtime
// | svarint ctime | varint inode | varint chunk count | chunk IDs(32 each), then 0x00 | u64le
// count of files. Records are in the order the backup visited the files.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "coffer/util/bytes.h"
#include "coffer/util/status.h"

namespace coffer::backup {

struct FileFingerprint {
    uint64_t size = 0;
    int64_t mtime_ns = 0;
    int64_t ctime_ns = 0;
    uint64_t inode = 0;
    bool operator==(const FileFingerprint&) const = default;
};

class FileCache {
public:
    struct Entry {
        Id key;
        FileFingerprint fingerprint;
        uint32_t first_chunk = 0;
        uint32_t chunk_count = 0;
    };

    // Loads path; a missing, truncated or damaged cache yields an empty one. When a key occurs
    // twice, the later record wins.
    static FileCache load(const std::string& path);

    const Entry* find(const Id& key) const;
    std::span<const Id> chunks(const Entry& e) const {
        return std::span<const Id>(m_chunks).subspan(e.first_chunk, e.chunk_count);
    }
    size_t size() const { return m_entries.size(); }

private:
    std::vector<Entry> m_entries;  // sorted by key
    std::vector<Id> m_chunks;
};

class FileCacheWriter {
public:
    // Starts a new cache that will replace path on commit(). Until then nothing is visible at
    // path: the data goes to an unnamed file (O_TMPFILE) where the file system has them, else to
    // a temporary file beside path.
    static Result<FileCacheWriter> create(const std::string& path);
    FileCacheWriter(FileCacheWriter&&) noexcept;
    FileCacheWriter& operator=(FileCacheWriter&&) noexcept;
    ~FileCacheWriter();  // without commit(): the new cache is discarded, the old one stays

    // Buffered; a write error is kept and reported by commit().
    void put(const Id& key, const FileFingerprint& fingerprint, std::span<const Id> chunks);
    size_t size() const { return m_count; }
    // Writes the end marker, fsyncs, and moves the file into place atomically.
    Status commit();

private:
    FileCacheWriter() = default;
    void flush();
    std::string m_path, m_temp;  // m_temp empty with O_TMPFILE
    int m_fd = -1;
    Bytes m_buffer;
    uint64_t m_count = 0;
    Status m_error;
};

// $COFFER_CACHE_DIR, else $XDG_CACHE_HOME/coffer, else $HOME/.cache/coffer, else
// /var/cache/coffer; then "/<repo id>/<key id>".
std::string default_cache_dir(const std::string& repo_id_hex, const std::string& key_id_hex);

}  // namespace coffer::backup

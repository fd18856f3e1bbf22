// FileCache: the host-local record of what each file looked like at the last backup (size,
// mtime, ctime, inode) and which chunks it was cut into, so unchanged files are never re-read.
//
// Entries are keyed by HMAC(chunk-ID key, path), so the cache holds no file names. It is
// disposable: a missing or damaged cache only costs a re-read. Written atomically (0600) after a
// snapshot is saved, holding exactly the files of that snapshot. Not thread-safe.
#pragma once

#include <string>
#include <unordered_map>
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

struct CachedFile {
    FileFingerprint fingerprint;
    std::vector<Id> chunks;
};

class FileCache {
public:
    // Loads path; a missing or unreadable cache yields an empty one.
    static FileCache load(const std::string& path);
    Status save(const std::string& path) const;

    const CachedFile* find(const Id& key) const;
    void put(const Id& key, CachedFile file) { m_files[key] = std::move(file); }
    size_t size() const { return m_files.size(); }

private:
    std::unordered_map<Id, CachedFile, IdHash> m_files;
};

// $COFFER_CACHE_DIR, else $XDG_CACHE_HOME/coffer, else $HOME/.cache/coffer, else
// /var/cache/coffer; then "/<repo id>/<key id>".
std::string default_cache_dir(const std::string& repo_id_hex, const std::string& key_id_hex);

}  // namespace coffer::backup

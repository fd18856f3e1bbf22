#include "coffer/backup/file_cache.h"

#include <cstdlib>

#include "coffer/util/encoding.h"
#include "coffer/util/file.h"

namespace coffer::backup {

namespace {
constexpr std::string_view k_magic = "coffer-file-cache v1\n";
}

FileCache FileCache::load(const std::string& path) {
    FileCache cache;
    auto bytes = read_file(path);
    if (!bytes.ok() || bytes->size() < k_magic.size() ||
        as_chars(ByteView(*bytes).subspan(0, k_magic.size())) != k_magic)
        return cache;
    Reader r(ByteView(*bytes).subspan(k_magic.size()));
    uint64_t n;
    if (!r.varint(n)) return cache;
    for (uint64_t i = 0; i < n; ++i) {
        Id key;
        CachedFile f;
        uint64_t nchunks;
        if (!r.id(key) || !r.varint(f.fingerprint.size) || !r.svarint(f.fingerprint.mtime_ns) ||
            !r.svarint(f.fingerprint.ctime_ns) || !r.varint(f.fingerprint.inode) ||
            !r.varint(nchunks) || nchunks > r.remaining() / 32)
            return FileCache{};
        f.chunks.resize(nchunks);
        for (Id& id : f.chunks)
            if (!r.id(id)) return FileCache{};
        cache.m_files.emplace(key, std::move(f));
    }
    return cache;
}

Status FileCache::save(const std::string& path) const {
    Writer w;
    w.raw(as_bytes(k_magic));
    w.varint(m_files.size());
    for (const auto& [key, f] : m_files) {
        w.id(key);
        w.varint(f.fingerprint.size);
        w.svarint(f.fingerprint.mtime_ns);
        w.svarint(f.fingerprint.ctime_ns);
        w.varint(f.fingerprint.inode);
        w.varint(f.chunks.size());
        for (const Id& id : f.chunks) w.id(id);
    }
    size_t slash = path.rfind('/');
    if (slash != std::string::npos) TRY(make_dirs(path.substr(0, slash), 0700));
    return write_file_atomic(path, w.out(), 0600);
}

const CachedFile* FileCache::find(const Id& key) const {
    auto it = m_files.find(key);
    return it == m_files.end() ? nullptr : &it->second;
}

std::string default_cache_dir(const std::string& repo_id_hex, const std::string& key_id_hex) {
    std::string base;
    if (const char* d = std::getenv("COFFER_CACHE_DIR"); d && *d) {
        base = d;
    } else if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) {
        base = std::string(x) + "/coffer";
    } else if (const char* h = std::getenv("HOME"); h && *h) {
        base = std::string(h) + "/.cache/coffer";
    } else {
        base = "/var/cache/coffer";
    }
    return base + "/" + repo_id_hex + "/" + key_id_hex;
}

}  // namespace coffer::backup

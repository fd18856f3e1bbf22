#include "coffer/archive/archive.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "coffer/util/file.h"

namespace coffer::archive {

namespace {

constexpr size_t k_header_size = 4 + 1 + 32 + 32;
constexpr size_t k_max_name = 1024;
constexpr uint64_t k_max_pack = uint64_t(2) << 30;      // pack_size is at most 1 GiB
constexpr uint64_t k_max_object = uint64_t(256) << 20;  // config, keys, index, manifest

void put_le(Bytes& out, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
uint64_t get_le(const uint8_t* p, int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= uint64_t(p[i]) << (8 * i);
    return v;
}

std::string dir_of(const std::string& path) {
    size_t slash = path.rfind('/');
    return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}
std::string base_of(const std::string& path) {
    size_t slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

// ---- writer ----------------------------------------------------------------------------------

Result<std::unique_ptr<ArchiveWriter>> ArchiveWriter::create(const std::string& path,
                                                             const Id& repository_id,
                                                             const Id& snapshot_id) {
    if (struct stat st{}; ::lstat(path.c_str(), &st) == 0)
        return already_exists(path + " already exists; refusing to overwrite it");
    std::unique_ptr<ArchiveWriter> w(new ArchiveWriter());
    w->m_path = path;
    std::string temp = dir_of(path) + "/." + base_of(path) + ".coffer-partial-XXXXXX";
    int fd = ::mkstemp(temp.data());  // 0600
    if (fd < 0) return errno_status("create " + path, errno);
    w->m_fd = fd;
    w->m_temp = temp;
    Bytes header = to_bytes(k_magic);
    header.push_back(k_version);
    append(header, repository_id.view());
    append(header, snapshot_id.view());
    TRY(w->write(header));
    return w;
}

ArchiveWriter::~ArchiveWriter() {
    if (m_fd >= 0) ::close(m_fd);
    if (!m_committed && !m_temp.empty()) ::unlink(m_temp.c_str());
}

Status ArchiveWriter::write(ByteView data) {
    TRY(write_all(m_fd, data, m_path));
    m_hash.update(data);
    m_written += data.size();
    return ok_status();
}

Status ArchiveWriter::add(std::string_view name, ByteView data) {
    TRY(store::validate_name(name));
    if (name.size() > k_max_name) return invalid_argument("object name too long for a backup file");
    Bytes head;
    head.push_back(1);
    put_le(head, name.size(), 2);
    append(head, as_bytes(name));
    put_le(head, data.size(), 8);
    TRY(write(head));
    TRY(write(data));
    ++m_entries;
    return ok_status();
}

Status ArchiveWriter::commit() {
    Bytes end;
    end.push_back(0);
    put_le(end, m_entries, 8);
    TRY(write_all(m_fd, end, m_path));
    m_hash.update(end);
    Id digest = m_hash.finish();
    TRY(write_all(m_fd, digest.view(), m_path));
    m_written += end.size() + digest.view().size();
    if (::fsync(m_fd) != 0) return errno_status("fsync " + m_path, errno);
    ::close(m_fd);
    m_fd = -1;
    if (::renameat2(AT_FDCWD, m_temp.c_str(), AT_FDCWD, m_path.c_str(), RENAME_NOREPLACE) != 0) {
        int err = errno;
        if (err == EEXIST)
            return already_exists(m_path + " already exists; refusing to overwrite it");
        return errno_status("rename into " + m_path, err);
    }
    m_committed = true;
    return fsync_dir(dir_of(m_path));
}

// ---- reader ----------------------------------------------------------------------------------

ArchiveStore::~ArchiveStore() {
    if (m_fd >= 0) ::close(m_fd);
}

Result<Bytes> ArchiveStore::read_at(uint64_t offset, uint64_t length) const {
    Bytes out(length);
    uint64_t done = 0;
    while (done < length) {
        ssize_t n = ::pread(m_fd, out.data() + done, length - done, off_t(offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno_status("read " + m_path, errno);
        if (n == 0) return integrity_error("backup file " + m_path + " is truncated");
        done += uint64_t(n);
    }
    return out;
}

Result<std::shared_ptr<ArchiveStore>> ArchiveStore::open(const std::string& path) {
    std::shared_ptr<ArchiveStore> a(new ArchiveStore());
    a->m_path = path;
    a->m_fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (a->m_fd < 0) {
        int err = errno;
        if (err == ENOENT) return not_found("backup file " + path + " does not exist");
        return errno_status("open backup file " + path, err);
    }
    struct stat st {};
    if (::fstat(a->m_fd, &st) != 0) return errno_status("stat " + path, errno);
    if (!S_ISREG(st.st_mode)) return invalid_argument(path + " is not a regular file");
    a->m_mtime_ns = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    const uint64_t size = uint64_t(st.st_size);
    auto damaged = [&](const std::string& why) {
        return integrity_error("backup file " + path + " is damaged or truncated (" + why +
                               "): use another copy");
    };
    if (size < k_header_size) {
        if (size >= 4) {
            TRY_ASSIGN(Bytes m, a->read_at(0, 4));
            if (as_chars(m) == k_magic) return damaged("shorter than its header");
        }
        return invalid_argument(path + " is not a coffer backup file");
    }
    TRY_ASSIGN(Bytes header, a->read_at(0, k_header_size));
    if (as_chars(ByteView(header.data(), 4)) != k_magic)
        return invalid_argument(path + " is not a coffer backup file (made by 'coffer export')");
    if (header[4] != k_version)
        return invalid_argument("backup file " + path + " has version " +
                                std::to_string(header[4]) +
                                ", which this coffer cannot read: "
                                "upgrade coffer");
    a->m_repository_id = Id::from(ByteView(header.data() + 5, 32));
    a->m_snapshot_id = Id::from(ByteView(header.data() + 37, 32));

    // The entries' shape first (names and sizes, skipping the data), then the hash over all.
    uint64_t pos = k_header_size, count = 0;
    for (;;) {
        if (pos + 1 > size) return damaged("it ends inside an entry");
        TRY_ASSIGN(Bytes tag, a->read_at(pos, 1));
        if (tag[0] == 0) break;
        if (tag[0] != 1) return damaged("an entry has an unknown tag");
        if (pos + 3 > size) return damaged("it ends inside an entry");
        TRY_ASSIGN(Bytes len, a->read_at(pos + 1, 2));
        uint64_t name_len = get_le(len.data(), 2);
        if (name_len == 0 || name_len > k_max_name || pos + 3 + name_len + 8 > size)
            return damaged("an entry's name is malformed");
        TRY_ASSIGN(Bytes name_bytes, a->read_at(pos + 3, name_len + 8));
        std::string name(as_chars(ByteView(name_bytes.data(), name_len)));
        uint64_t data_size = get_le(name_bytes.data() + name_len, 8);
        uint64_t data_at = pos + 3 + name_len + 8;
        if (!store::validate_name(name).ok()) return damaged("an entry has an invalid name");
        if (data_size > size - data_at) return damaged("an entry runs past the end");
        // Readers hold an object in memory: bound what a crafted file can make them allocate.
        uint64_t limit = name.rfind("packs/", 0) == 0 ? k_max_pack : k_max_object;
        if (data_size > limit) return damaged("object " + name + " is implausibly large");
        if (!a->m_entries.emplace(name, Entry{data_at, data_size}).second)
            return damaged("object " + name + " appears twice");
        pos = data_at + data_size;
        ++count;
    }
    if (size - pos != 1 + 8 + 32) return damaged("its end is malformed");
    TRY_ASSIGN(Bytes end, a->read_at(pos, 1 + 8 + 32));
    if (get_le(end.data() + 1, 8) != count) return damaged("its entry count does not match");
    crypto::Sha256 hash;
    constexpr uint64_t k_step = 1 << 20;
    for (uint64_t at = 0; at < pos + 9; at += k_step) {
        TRY_ASSIGN(Bytes part, a->read_at(at, std::min(k_step, pos + 9 - at)));
        hash.update(part);
    }
    Id digest = hash.finish();
    if (!ct_equal(digest.view(), ByteView(end.data() + 9, 32)))
        return damaged("its SHA-256 does not match: a byte has changed");
    // What the header says it holds: this repository's config and exactly that one snapshot.
    auto config_bytes = a->get(repo::k_config_name);
    if (!config_bytes.ok()) return damaged("it holds no config");
    auto config = repo::RepoConfig::parse(*config_bytes);
    if (!config.ok() || config->id != a->m_repository_id)
        return damaged("its config is not the repository its header names");
    TRY_ASSIGN(auto snapshots, a->list("snapshots/"));
    if (snapshots.size() != 1 || snapshots[0].name != repo::snapshot_name(a->m_snapshot_id))
        return damaged("it does not hold exactly the snapshot its header names");
    return a;
}

Status ArchiveStore::put(std::string_view, ByteView, store::PutMode) {
    return permission_denied(location() + " is read-only");
}
Status ArchiveStore::remove(std::string_view) {
    return permission_denied(location() + " is read-only");
}

Result<Bytes> ArchiveStore::get(std::string_view name) {
    auto it = m_entries.find(name);
    if (it == m_entries.end()) return not_found(std::string(name) + " is not in " + location());
    return read_at(it->second.offset, it->second.size);
}

Result<Bytes> ArchiveStore::get_range(std::string_view name, uint64_t offset, uint64_t length) {
    auto it = m_entries.find(name);
    if (it == m_entries.end()) return not_found(std::string(name) + " is not in " + location());
    if (offset > it->second.size || length > it->second.size - offset)
        return corruption(std::string(name) + " is shorter than the range asked for");
    return read_at(it->second.offset + offset, length);
}

Result<store::ObjectInfo> ArchiveStore::stat(std::string_view name) {
    auto it = m_entries.find(name);
    if (it == m_entries.end()) return not_found(std::string(name) + " is not in " + location());
    return store::ObjectInfo{std::string(name), it->second.size, m_mtime_ns};
}

Result<std::vector<store::ObjectInfo>> ArchiveStore::list(std::string_view prefix) {
    std::vector<store::ObjectInfo> out;
    for (auto it = m_entries.lower_bound(prefix);
         it != m_entries.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it)
        out.push_back({it->first, it->second.size, m_mtime_ns});
    return out;
}

}  // namespace coffer::archive

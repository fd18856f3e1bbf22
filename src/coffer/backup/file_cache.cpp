#include "coffer/backup/file_cache.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "coffer/crypto/crypto.h"
#include "coffer/util/encoding.h"
#include "coffer/util/file.h"

namespace coffer::backup {

namespace {

constexpr std::string_view k_magic = "coffer-file-cache v2\n";
constexpr size_t k_read_block = 1 << 20;
constexpr size_t k_write_block = 1 << 20;

// Reads a file in blocks; holds at most one block plus the record being parsed.
class BlockReader {
public:
    explicit BlockReader(int fd) : m_fd(fd) {}
    ByteView available() const { return ByteView(m_buf).subspan(m_pos); }
    bool at_eof() const { return m_eof; }
    void consume(size_t n) { m_pos += n; }
    // Reads at least one more block, keeping what is not consumed yet. False on a read error.
    bool more() {
        m_buf.erase(m_buf.begin(), m_buf.begin() + static_cast<std::ptrdiff_t>(m_pos));
        m_pos = 0;
        size_t have = m_buf.size();
        m_buf.resize(have + k_read_block);
        ssize_t n;
        do n = ::read(m_fd, m_buf.data() + have, k_read_block);
        while (n < 0 && errno == EINTR);
        m_buf.resize(have + static_cast<size_t>(std::max<ssize_t>(n, 0)));
        if (n == 0) m_eof = true;
        return n >= 0;
    }

private:
    int m_fd;
    Bytes m_buf;
    size_t m_pos = 0;
    bool m_eof = false;
};

enum class Parse { ok, short_input, bad };

// One record (after its 0x01 tag) from in; appends its chunks to chunks. Appends nothing unless
// the whole record is there.
Parse parse_record(ByteView in, FileCache::Entry& e, std::vector<Id>& chunks, size_t& used) {
    Reader r(in);
    uint64_t n;
    if (!r.id(e.key) || !r.varint(e.fingerprint.size) || !r.svarint(e.fingerprint.mtime_ns) ||
        !r.svarint(e.fingerprint.ctime_ns) || !r.varint(e.fingerprint.inode) || !r.varint(n))
        return in.size() < 32 + 4 * 10 + 10 ? Parse::short_input : Parse::bad;
    if (n > (uint64_t(1) << 31)) return Parse::bad;
    if (r.remaining() < n * 32) return Parse::short_input;
    e.first_chunk = static_cast<uint32_t>(chunks.size());
    e.chunk_count = static_cast<uint32_t>(n);
    for (uint64_t i = 0; i < n; ++i) {
        Id id;
        if (!r.id(id)) return Parse::bad;
        chunks.push_back(id);
    }
    used = in.size() - r.remaining();
    return Parse::ok;
}

}  // namespace

FileCache FileCache::load(const std::string& path) {
    FileCache cache;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return cache;
    BlockReader in(fd);
    auto fail = [&] {
        ::close(fd);
        return FileCache{};
    };
    while (in.available().size() < k_magic.size() && !in.at_eof())
        if (!in.more()) return fail();
    if (in.available().size() < k_magic.size() ||
        as_chars(in.available().subspan(0, k_magic.size())) != k_magic)
        return fail();
    in.consume(k_magic.size());
    for (;;) {
        while (in.available().empty() && !in.at_eof())
            if (!in.more()) return fail();
        if (in.available().empty()) return fail();  // no end marker: truncated
        uint8_t tag = in.available()[0];
        if (tag == 0x00) {
            while (in.available().size() < 9 && !in.at_eof())
                if (!in.more()) return fail();
            ByteView end = in.available();
            if (end.size() != 9 || load_le64(end.data() + 1) != cache.m_entries.size())
                return fail();
            break;
        }
        if (tag != 0x01) return fail();
        Entry e;
        size_t used = 0;
        Parse p;
        while ((p = parse_record(in.available().subspan(1), e, cache.m_chunks, used)) ==
               Parse::short_input) {
            if (in.at_eof() || !in.more()) return fail();
        }
        if (p == Parse::bad) return fail();
        in.consume(1 + used);
        cache.m_entries.push_back(e);
    }
    ::close(fd);
    // The later of two records for one key wins: stable sort, then keep the last of each run.
    std::stable_sort(cache.m_entries.begin(), cache.m_entries.end(),
                     [](const Entry& a, const Entry& b) { return a.key < b.key; });
    auto last = std::unique(cache.m_entries.rbegin(), cache.m_entries.rend(),
                            [](const Entry& a, const Entry& b) { return a.key == b.key; });
    cache.m_entries.erase(cache.m_entries.begin(), last.base());
    cache.m_entries.shrink_to_fit();
    cache.m_chunks.shrink_to_fit();
    return cache;
}

const FileCache::Entry* FileCache::find(const Id& key) const {
    auto it = std::lower_bound(m_entries.begin(), m_entries.end(), key,
                               [](const Entry& e, const Id& k) { return e.key < k; });
    return it != m_entries.end() && it->key == key ? &*it : nullptr;
}

Result<FileCacheWriter> FileCacheWriter::create(const std::string& path) {
    FileCacheWriter w;
    w.m_path = path;
    size_t slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
    TRY(make_dirs(dir, 0700));
    w.m_fd = ::open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
    if (w.m_fd < 0) {
        // No O_TMPFILE here: a named temporary, unique to this process.
        w.m_temp = path + ".tmp-" + to_hex(crypto::random_bytes(8));
        w.m_fd = ::open(w.m_temp.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
        if (w.m_fd < 0) return errno_status("create file cache " + w.m_temp, errno);
    }
    w.m_buffer.reserve(k_write_block + 4096);
    w.m_buffer.insert(w.m_buffer.end(), k_magic.begin(), k_magic.end());
    return w;
}

FileCacheWriter::FileCacheWriter(FileCacheWriter&& o) noexcept {
    *this = std::move(o);
}

FileCacheWriter& FileCacheWriter::operator=(FileCacheWriter&& o) noexcept {
    std::swap(m_path, o.m_path);
    std::swap(m_temp, o.m_temp);
    std::swap(m_fd, o.m_fd);
    std::swap(m_buffer, o.m_buffer);
    std::swap(m_count, o.m_count);
    std::swap(m_error, o.m_error);
    return *this;
}

FileCacheWriter::~FileCacheWriter() {
    if (m_fd >= 0) ::close(m_fd);
    if (!m_temp.empty()) ::unlink(m_temp.c_str());
}

void FileCacheWriter::put(const Id& key, const FileFingerprint& fp, std::span<const Id> chunks) {
    Writer w;
    w.u8(0x01);
    w.id(key);
    w.varint(fp.size);
    w.svarint(fp.mtime_ns);
    w.svarint(fp.ctime_ns);
    w.varint(fp.inode);
    w.varint(chunks.size());
    append(m_buffer, w.out());
    for (const Id& id : chunks) {
        append(m_buffer, id.view());
        if (m_buffer.size() >= k_write_block) flush();
    }
    m_count++;
    if (m_buffer.size() >= k_write_block) flush();
}

void FileCacheWriter::flush() {
    if (m_error.ok() && m_fd >= 0) m_error = write_all(m_fd, m_buffer, "file cache " + m_path);
    m_buffer.clear();
}

Status FileCacheWriter::commit() {
    if (m_fd < 0) return internal_error("file cache " + m_path + " was already committed");
    m_buffer.push_back(0x00);
    uint8_t count[8];
    store_le64(count, m_count);
    append(m_buffer, ByteView(count, 8));
    flush();
    TRY(m_error);
    if (::fsync(m_fd) != 0) return errno_status("fsync file cache " + m_path, errno);
    std::string temp = m_temp;
    if (temp.empty()) {
        // Give the unnamed file a name beside path, then rename it over path.
        temp = m_path + ".tmp-" + to_hex(crypto::random_bytes(8));
        std::string proc = "/proc/self/fd/" + std::to_string(m_fd);
        if (::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, temp.c_str(), AT_SYMLINK_FOLLOW) != 0)
            return errno_status("link file cache " + temp, errno);
    }
    ::close(m_fd);
    m_fd = -1;
    if (::rename(temp.c_str(), m_path.c_str()) != 0) {
        int err = errno;
        ::unlink(temp.c_str());
        m_temp.clear();
        return errno_status("rename file cache into " + m_path, err);
    }
    m_temp.clear();
    size_t slash = m_path.rfind('/');
    return fsync_dir(slash == std::string::npos ? "." : m_path.substr(0, slash));
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

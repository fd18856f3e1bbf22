// The backup file cache (backup/file_cache.h): FileCache::load over a file, checked against a
// reference parser written from the format description, and FileCacheWriter round trips.
//
// Byte 0 holds flags, byte 1 an offset; the rest is the cache file. Flag bit 0: insert, right
// after the magic, a filler record sized so that the next record starts `offset` bytes before
// the loader's 1 MiB read-block boundary, so records and the end marker straddle blocks. Flag
// bit 1: write the entries the reference found with FileCacheWriter and load them again.
//
// Checks: load() yields an empty cache exactly when the reference finds the file damaged
// (bad magic, unknown tag, truncated record, no end marker, a wrong count, bytes after the end
// marker), otherwise one entry per key, the last record of each key winning, with its chunks.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "coffer/backup/file_cache.h"
#include "coffer/util/file.h"
#include "fuzz_common.h"

using namespace coffer;
using namespace coffer::backup;
using coffer::fuzz::Cursor;

namespace {

constexpr std::string_view k_magic = "coffer-file-cache v2\n";

struct Record {
    FileFingerprint fp;
    std::vector<Id> chunks;
};

// What the format description says the file holds; ok is false when it is damaged.
struct Reference {
    bool ok = false;
    std::map<Id, Record> entries;  // the last record of each key
};

Reference reference_parse(ByteView file) {
    Reference ref;
    if (file.size() < k_magic.size() || as_chars(file.subspan(0, k_magic.size())) != k_magic)
        return ref;
    size_t pos = k_magic.size();
    uint64_t records = 0;
    for (;;) {
        if (pos >= file.size()) return ref;  // no end marker
        uint8_t tag = file[pos];
        if (tag == 0x00) {
            if (file.size() - pos != 9) return ref;
            if (load_le64(file.data() + pos + 1) != records) return ref;
            ref.ok = true;
            return ref;
        }
        if (tag != 0x01) return ref;
        Reader r(file.subspan(pos + 1));
        Id key;
        Record rec;
        uint64_t n;
        if (!r.id(key) || !r.varint(rec.fp.size) || !r.svarint(rec.fp.mtime_ns) ||
            !r.svarint(rec.fp.ctime_ns) || !r.varint(rec.fp.inode) || !r.varint(n))
            return ref;
        if (n > (uint64_t(1) << 31) || r.remaining() / 32 < n) return ref;
        rec.chunks.resize(n);
        for (auto& id : rec.chunks)
            if (!r.id(id)) return ref;
        pos += 1 + r.pos();
        ref.entries[key] = std::move(rec);
        ++records;
    }
}

void varint_padded(Bytes& out, size_t len) {  // the value 0, spelled in len bytes
    for (size_t i = 0; i + 1 < len; ++i) out.push_back(0x80);
    out.push_back(0x00);
}

// A record ending `offset` bytes before the 1 MiB boundary (the file starts with the magic).
Bytes filler(size_t offset) {
    const size_t target = (size_t(1) << 20) - offset;  // where the next record starts
    const size_t body = target - k_magic.size() - 40;  // = 32 n + extra varint bytes
    const size_t n = body / 32, extra = body % 32;     // n needs 3 varint bytes
    Bytes out{0x01};
    out.insert(out.end(), 32, 0xee);
    for (int i = 0; i < 4; ++i)
        varint_padded(out, 1 + std::min<size_t>(9, extra - std::min(extra, size_t(9) * i)));
    Writer w;
    w.varint(n);
    append(out, w.out());
    out.insert(out.end(), n * 32, 0x00);
    FUZZ_CHECK(k_magic.size() + out.size() == target);
    return out;
}

void check_loaded(const FileCache& cache, const Reference& ref) {
    if (!ref.ok) {
        FUZZ_CHECK_MSG(cache.size() == 0, "load() accepted a damaged cache");
        return;
    }
    FUZZ_CHECK_MSG(cache.size() == ref.entries.size(),
                   "load() found " + std::to_string(cache.size()) + " entries, the reference " +
                       std::to_string(ref.entries.size()));
    for (const auto& [key, rec] : ref.entries) {
        const FileCache::Entry* e = cache.find(key);
        FUZZ_CHECK_MSG(e != nullptr, "an entry went missing");
        FUZZ_CHECK(e->key == key);
        FUZZ_CHECK_MSG(e->fingerprint == rec.fp, "not the last record of its key");
        auto chunks = cache.chunks(*e);
        FUZZ_CHECK(std::equal(chunks.begin(), chunks.end(), rec.chunks.begin(), rec.chunks.end()));
    }
}

struct Scratch {
    std::string dir = fuzz::fresh_dir();
    ~Scratch() {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::init();
    Cursor in(data, size);
    uint8_t flags = in.u8();
    uint8_t offset = in.u8();
    ByteView rest = in.rest();
    Bytes file(rest.begin(), rest.end());
    if ((flags & 1) && file.size() >= k_magic.size() &&
        as_chars(ByteView(file).subspan(0, k_magic.size())) == k_magic) {
        Bytes f = filler(offset);
        file.insert(file.begin() + static_cast<std::ptrdiff_t>(k_magic.size()), f.begin(), f.end());
    }

    Scratch s;
    std::string path = s.dir + "/cache";
    FUZZ_CHECK(write_new_file(path, file, 0600).ok());
    Reference ref = reference_parse(file);
    FileCache cache = FileCache::load(path);
    check_loaded(cache, ref);
    FUZZ_CHECK(FileCache::load(s.dir + "/absent").size() == 0);

    if ((flags & 2) && ref.ok && ref.entries.size() <= 64) {
        std::string path2 = s.dir + "/cache2";
        auto w = FileCacheWriter::create(path2);
        FUZZ_CHECK_MSG(w.ok(), w.status().to_string());
        for (const auto& [key, rec] : ref.entries) w->put(key, rec.fp, rec.chunks);
        FUZZ_CHECK(w->size() == ref.entries.size());
        Status st = w->commit();
        FUZZ_CHECK_MSG(st.ok(), st.to_string());
        auto written = read_file(path2);
        FUZZ_CHECK(written.ok());
        Reference ref2 = reference_parse(*written);
        FUZZ_CHECK(ref2.ok && ref2.entries.size() == ref.entries.size());
        check_loaded(FileCache::load(path2), ref);
    }
    return 0;
}

// Backup files (archive/archive.h: ArchiveStore::open and its reads).
//
// The input is a backup file without its last 32 bytes; the harness appends the SHA-256 the
// format wants, so the fuzzer reaches the entry parser instead of the checksum. Checks: open
// never crashes, hangs or allocates without bound; what it accepts lists names that validate,
// each of which reads back with the size stat() and list() report, and get_range() agrees with
// get(); nothing can be written.
#include <sys/mman.h>
#include <unistd.h>

#include <string>

#include "coffer/archive/archive.h"
#include "fuzz_common.h"

using namespace coffer;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::init();
    Bytes file(data, data + size);
    Id digest = crypto::sha256(file);
    append(file, digest.view());
    int fd = ::memfd_create("archive_fuzz", MFD_CLOEXEC);
    FUZZ_CHECK(fd >= 0);
    FUZZ_CHECK(::write(fd, file.data(), file.size()) == static_cast<ssize_t>(file.size()));
    std::string path = "/proc/self/fd/" + std::to_string(fd);
    auto a = archive::ArchiveStore::open(path);
    if (!a.ok()) {
        FUZZ_CHECK_MSG(
            a.status().code() == Code::integrity || a.status().code() == Code::invalid_argument,
            a.status().to_string());
        ::close(fd);
        return 0;
    }
    auto all = (*a)->list("");
    FUZZ_CHECK(all.ok());
    FUZZ_CHECK(!all->empty());  // a config and a snapshot at least
    for (const auto& o : *all) {
        FUZZ_CHECK_MSG(store::validate_name(o.name).ok(), o.name);
        auto st = (*a)->stat(o.name);
        FUZZ_CHECK(st.ok() && st->size == o.size);
        auto bytes = (*a)->get(o.name);
        FUZZ_CHECK(bytes.ok() && bytes->size() == o.size);
        if (o.size > 0) {
            auto tail = (*a)->get_range(o.name, o.size - 1, 1);
            FUZZ_CHECK(tail.ok() && (*tail)[0] == bytes->back());
        }
        FUZZ_CHECK(!(*a)->get_range(o.name, o.size, 1).ok());
    }
    FUZZ_CHECK(!(*a)->put("config", as_bytes("x")).ok());
    ::close(fd);
    return 0;
}

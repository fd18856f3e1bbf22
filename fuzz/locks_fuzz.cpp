// Lock objects under locks/ (repo/locks.h): list_locks parses every lease and prune lock it
// finds, and `coffer unlock` / status describe them.
//
// Byte 0 picks the object's suffix (.lease or .prune); the rest is its contents, stored in a
// MemStore. Checks: list_locks succeeds (an object that does not parse is listed as a stale
// lease of host "?", never an error), lists exactly that object with its kind, and describe()
// works for any value the object holds (with the current time, as callers pass).
#include "coffer/repo/locks.h"
#include "coffer/store/mem/mem_store.h"
#include "fuzz_common.h"

using namespace coffer;
using namespace coffer::repo;
using coffer::fuzz::Cursor;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::init();
    Cursor in(data, size);
    bool prune = in.u8() & 1;
    ByteView body = in.rest();
    std::string key = to_hex(fuzz::fixed_host().key_id);
    std::string name = "locks/" + key + "/fuzz-0001" + (prune ? ".prune" : ".lease");
    store::MemStore store;
    FUZZ_CHECK(store.put(name, body).ok());

    LockOptions options;
    auto locks = list_locks(store, key, options);
    FUZZ_CHECK_MSG(locks.ok(), locks.status().to_string());
    FUZZ_CHECK(locks->size() == 1);
    const LockInfo& l = (*locks)[0];
    FUZZ_CHECK(l.name == name);
    if (l.host != "?") FUZZ_CHECK(l.kind == (prune ? LockKind::prune : LockKind::lease));
    // As `coffer unlock` and `coffer status` call it: with the current time.
    FUZZ_CHECK(!l.describe(now_unix_ns()).empty());
    // The probe object list_locks writes for its clock is gone again.
    auto all = store.list("locks/");
    FUZZ_CHECK(all.ok() && all->size() == 1);
    return 0;
}

// The key registry (repo/registry.h: load_registry) over hostile keys/ files.
//
// The input holds a key id byte, then an entry and a revocation (split by a length byte), put as
// keys/<id>.pub and keys/<id>.revoked in a MemStore beside the genuine registry of the fixed
// keys. Checks: it never throws or crashes; the genuine entry stays trusted; an entry that is
// trusted verifies under the registry key (so nothing the fuzzer writes is trusted, since it
// cannot sign); a key with a revocation file is never active.
#include <string>

#include "coffer/repo/registry.h"
#include "coffer/store/mem/mem_store.h"
#include "fuzz_common.h"

using namespace coffer;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::init();
    static const repo::RecoveryKey recovery = repo::RecoveryKey::generate();
    static const repo::RepoConfig config = [] {
        repo::RepoConfig c;
        c.id = crypto::sha256(as_bytes("registry fuzz"));
        c.recovery_public_key = recovery.public_key;
        c.registry_public_key = recovery.registry_public_key(c.id);
        return c;
    }();
    static const repo::HostKey genuine = *repo::HostKey::generate(config, "db1");
    fuzz::Cursor in(data, size);
    bool same_id = in.u8() & 1;
    std::string entry = fuzz::str(in.take(in.u8() * 4));
    std::string revocation = fuzz::str(in.rest());
    auto mem = std::make_shared<store::MemStore>();
    FUZZ_CHECK(repo::register_host_key(*mem, config, genuine, recovery).ok());
    std::string id = same_id ? genuine.key_id_hex() : std::string(32, 'f');
    if (!same_id) FUZZ_CHECK(mem->put("keys/" + id + ".pub", as_bytes(entry)).ok());
    FUZZ_CHECK(mem->put("keys/" + id + ".revoked", as_bytes(revocation)).ok());
    auto r = repo::load_registry(*mem, config);
    FUZZ_CHECK_MSG(r.ok(), r.status().to_string());
    auto g = r->entries.find(genuine.key_id_hex());
    FUZZ_CHECK(g != r->entries.end() && g->second.trusted());
    for (const auto& [key, e] : r->entries) {
        if (key != genuine.key_id_hex()) FUZZ_CHECK_MSG(!e.trusted(), "a forged entry is trusted");
        if (key == id) FUZZ_CHECK_MSG(e.status != "active", "a revoked key is active");
    }
    return 0;
}

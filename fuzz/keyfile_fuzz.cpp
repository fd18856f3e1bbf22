// Key material on disk and in the repository (repo/keys.h, repo/repository.h).
//
// Byte 0 picks a mode (mod 4):
//   0 host key file: HostKey::parse; serialize() must parse back to the same key, whose signing
//     public key is the seed's, and from which a KeyRing can be built.
//   1 repository config: RepoConfig::parse; to_json() must parse back to the same config.
//   2 key registry entry keys/<id>.pub: Repository::load_registry over a MemStore (never
//     trusted: the fuzzer cannot sign with the registry key).
//   3 sealed host secrets keys/<id>.secrets: the input is sealed to the fixed recovery key and
//     Repository::open(store, no host key, recovery key) must succeed exactly when
//     HostKey::parse accepts the input and it belongs to the repository.
#include <memory>

#include "coffer/repo/repository.h"
#include "coffer/store/mem/mem_store.h"
#include "fuzz_common.h"

using namespace coffer;
using namespace coffer::repo;
using coffer::fuzz::Cursor;

namespace {

bool same_secret(const SecretBytes& a, const SecretBytes& b) {
    return std::equal(a.view().begin(), a.view().end(), b.view().begin(), b.view().end());
}

bool same(const HostKey& a, const HostKey& b) {
    return a.repository_id == b.repository_id && a.key_id == b.key_id && a.host == b.host &&
           a.recovery_public_key == b.recovery_public_key &&
           same_secret(a.chunk_id_key, b.chunk_id_key) &&
           same_secret(a.metadata_key, b.metadata_key) &&
           same_secret(a.signing_seed, b.signing_seed) &&
           a.signing_public_key == b.signing_public_key;
}

void host_key(ByteView text) {
    auto k = HostKey::parse(text);
    if (!k.ok()) {
        FUZZ_CHECK(k.status().code() == Code::invalid_argument);
        return;
    }
    FUZZ_CHECK(k->key_id.size() == k_key_id_size);
    FUZZ_CHECK(k->recovery_public_key.size() == 32);
    FUZZ_CHECK(k->chunk_id_key.size() == 32 && k->metadata_key.size() == 32 &&
               k->signing_seed.size() == 32);
    auto pub = crypto::ed25519_public_from_seed(k->signing_seed.view());
    FUZZ_CHECK(pub.ok() && *pub == k->signing_public_key);
    FUZZ_CHECK(k->key_id_hex() == to_hex(k->key_id));

    SecretBytes again = k->serialize();
    auto back = HostKey::parse(again.view());
    FUZZ_CHECK_MSG(back.ok(),
                   "serialize() wrote a host key parse() refuses: " + back.status().to_string());
    FUZZ_CHECK(same(*k, *back));
    SecretBytes third = back->serialize();
    FUZZ_CHECK(same_secret(third, again));
    FUZZ_CHECK(KeyRing::from_host_key(*k, nullptr).ok());
}

void repo_config(ByteView json) {
    auto c = RepoConfig::parse(json);
    if (!c.ok()) {
        FUZZ_CHECK_MSG(
            c.status().code() == Code::corruption || c.status().code() == Code::invalid_argument,
            c.status().to_string());
        return;
    }
    FUZZ_CHECK(c->version <= k_format_version);
    FUZZ_CHECK(c->recovery_public_key.size() == 32);
    FUZZ_CHECK(c->pack_size >= (1u << 20) && c->pack_size <= (1u << 30));
    std::string text = c->to_json();
    auto back = RepoConfig::parse(as_bytes(text));
    FUZZ_CHECK_MSG(back.ok(), back.status().to_string() + "\n" + text);
    FUZZ_CHECK(back->version == c->version && back->id == c->id && back->created == c->created &&
               back->chunk_avg_size == c->chunk_avg_size && back->pack_size == c->pack_size &&
               back->zstd_level == c->zstd_level &&
               back->recovery_public_key == c->recovery_public_key);
    FUZZ_CHECK(back->to_json() == text);
}

std::string fixed_key_id_hex() {
    return to_hex(fuzz::fixed_host().key_id);
}

void registry(ByteView json) {
    store::MemStore store;
    std::string name = "keys/" + fixed_key_id_hex() + ".pub";
    FUZZ_CHECK(store.put(name, json).ok());
    FUZZ_CHECK(store.put("config", as_bytes(fuzz::fixed_config().to_json())).ok());
    // A malformed entry is a problem, never an error: it must not stop other keys loading.
    auto reg = Repository::load_registry(store);
    FUZZ_CHECK_MSG(reg.ok(), reg.status().to_string());
    FUZZ_CHECK(reg->entries.size() + reg->problems.size() == 1);
    if (reg->entries.empty()) return;
    const auto& [id, entry] = *reg->entries.begin();
    FUZZ_CHECK(id == fixed_key_id_hex() && entry.key_id == id);
    FUZZ_CHECK(entry.signing_public_key.size() == 32);
    // Nothing the fuzzer writes carries the registry key's signature.
    FUZZ_CHECK_MSG(!entry.trusted(), "an entry the fuzzer wrote is trusted");
}

void sealed_secrets(ByteView text) {
    const RecoveryKey& recovery = fuzz::fixed_recovery();
    const RepoConfig& config = fuzz::fixed_config();
    auto store = std::make_shared<store::MemStore>();
    FUZZ_CHECK(store->put(std::string(k_config_name), as_bytes(config.to_json())).ok());
    Bytes context = to_bytes(info::host_secrets);
    append(context, config.id.view());
    auto sealed = crypto::seal_to(recovery.public_key, text, context);
    FUZZ_CHECK(sealed.ok());
    std::string key_id = fixed_key_id_hex();
    // Registered as the fixed host (signed entry), then its secrets replaced by the input.
    FUZZ_CHECK(register_host_key(*store, config, fuzz::fixed_host(), recovery).ok());
    FUZZ_CHECK(store->put("keys/" + key_id + ".secrets", *sealed).ok());

    // Only secrets of the registered key open: its id, host name and signing key.
    auto parsed = HostKey::parse(text);
    bool expect = parsed.ok() && parsed->check_matches(config).ok() &&
                  parsed->key_id_hex() == key_id && parsed->host == fuzz::fixed_host().host &&
                  parsed->signing_public_key == fuzz::fixed_host().signing_public_key;
    auto repo = Repository::open(store, nullptr, &recovery, key_id);
    FUZZ_CHECK_MSG(repo.ok() == expect, "Repository::open: " + repo.status().to_string() +
                                            "; HostKey::parse: " + parsed.status().to_string());
    if (!repo.ok()) return;
    const KeyRing& keys = (*repo)->keys();
    FUZZ_CHECK(keys.key_id == parsed->key_id && keys.repo_id == config.id);
    FUZZ_CHECK(keys.signing_public_key == parsed->signing_public_key);
    FUZZ_CHECK(keys.can_read_data());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::init();
    Cursor in(data, size);
    uint8_t mode = in.u8() % 4;
    ByteView rest = in.rest();
    switch (mode) {
        case 0:
            host_key(rest);
            break;
        case 1:
            repo_config(rest);
            break;
        case 2:
            registry(rest);
            break;
        case 3:
            sealed_secrets(rest);
            break;
    }
    return 0;
}

// Index objects (repo/index.h) and the metadata envelope they travel in (repo/meta.h).
//
// Byte 0 picks a mode (mod 2):
//   0 raw index object: parse_meta_header, verify_meta_signature, open_meta with the fixed keys,
//     then decode_index_payload. Seeds are index objects sealed with the fixed keys.
//   1 index payload: decode_index_payload directly; when it decodes, encode(decode(x)) must
//     decode to the same packs, be no longer than x, and survive seal_meta/open_meta, while a
//     flipped bit or the wrong object type is refused.
#include <vector>

#include "coffer/repo/index.h"
#include "coffer/repo/meta.h"
#include "fuzz_common.h"

using namespace coffer;
using namespace coffer::repo;
using coffer::fuzz::Cursor;

namespace {

bool same(const std::vector<IndexedPack>& a, const std::vector<IndexedPack>& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        if (a[i].pack != b[i].pack || a[i].entries.size() != b[i].entries.size()) return false;
        for (size_t j = 0; j < a[i].entries.size(); ++j) {
            const PackEntry &x = a[i].entries[j], &y = b[i].entries[j];
            if (x.id != y.id || x.type != y.type || x.offset != y.offset || x.length != y.length ||
                x.raw_length != y.raw_length)
                return false;
        }
    }
    return true;
}

void check_decoded(const std::vector<IndexedPack>& packs, size_t input_size) {
    Index index;
    size_t entries = 0;
    for (const auto& p : packs) {
        for (const auto& e : p.entries) {
            FUZZ_CHECK(valid_chunk_type(static_cast<uint8_t>(e.type)));
            index.add(p.pack, e);
            ++entries;
        }
    }
    FUZZ_CHECK(index.size() <= entries);
    for (const auto& [id, loc] : index.chunks()) {
        FUZZ_CHECK(loc.pack < index.packs().size());
        FUZZ_CHECK(index.find(id) == &loc);
        FUZZ_CHECK(index.entry_of(id, loc).id == id);
    }

    Bytes again = encode_index_payload(packs);
    FUZZ_CHECK_MSG(again.size() <= input_size, "re-encoding grew the payload");
    auto decoded = decode_index_payload(again, "fuzz");
    FUZZ_CHECK_MSG(decoded.ok(), decoded.status().to_string());
    FUZZ_CHECK(same(*decoded, packs));
}

void check_envelope(ByteView payload, MetaType type) {
    const KeyRing& keys = *fuzz::fixed_keys();
    auto sealed = seal_meta(keys, type, payload);
    FUZZ_CHECK(sealed.ok());
    auto header = parse_meta_header(*sealed, "fuzz");
    FUZZ_CHECK(header.ok() && header->type == type && header->key_id == keys.key_id);
    FUZZ_CHECK(verify_meta_signature(*sealed, keys.signing_public_key, keys.repo_id, "fuzz").ok());
    auto opened = open_meta(keys, *sealed, type, "fuzz");
    FUZZ_CHECK_MSG(opened.ok(), opened.status().to_string());
    FUZZ_CHECK(std::equal(opened->begin(), opened->end(), payload.begin(), payload.end()));
    MetaType other = type == MetaType::index ? MetaType::snapshot : MetaType::index;
    FUZZ_CHECK(!open_meta(keys, *sealed, other, "fuzz").ok());
    Bytes flipped = *sealed;
    size_t at = payload.empty() ? 0 : payload[0] % flipped.size();
    flipped[at] ^= 0x01;
    FUZZ_CHECK_MSG(!open_meta(keys, flipped, type, "fuzz").ok(), "a flipped bit went unnoticed");
}

void raw_object(ByteView object) {
    const KeyRing& keys = *fuzz::fixed_keys();
    auto header = parse_meta_header(object, "fuzz");
    if (!header.ok()) {
        FUZZ_CHECK(header.status().code() == Code::corruption);
        FUZZ_CHECK(!open_meta(keys, object, MetaType::index, "fuzz").ok());
        return;
    }
    FUZZ_CHECK(header->key_id.size() == k_key_id_size);
    bool signed_ok =
        verify_meta_signature(object, keys.signing_public_key, keys.repo_id, "fuzz").ok();
    auto payload = open_meta(keys, object, MetaType::index, "fuzz");
    if (!payload.ok()) return;
    FUZZ_CHECK_MSG(signed_ok, "open_meta accepted an object whose signature does not verify");
    FUZZ_CHECK(header->type == MetaType::index);
    auto packs = decode_index_payload(*payload, "fuzz");
    if (packs.ok()) check_decoded(*packs, payload->size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::init();
    Cursor in(data, size);
    if (in.u8() % 2 == 0) {
        raw_object(in.rest());
        return 0;
    }
    ByteView payload = in.rest();
    auto packs = decode_index_payload(payload, "fuzz");
    if (!packs.ok()) {
        FUZZ_CHECK(packs.status().code() == Code::corruption);
        return 0;
    }
    check_decoded(*packs, payload.size());
    check_envelope(encode_index_payload(*packs), MetaType::index);
    return 0;
}

#include "coffer/repo/index.h"

#include "coffer/util/encoding.h"

namespace coffer::repo {

void Index::add(const Id& pack, const PackEntry& e) {
    auto [it, inserted] = m_pack_numbers.try_emplace(pack, static_cast<uint32_t>(m_packs.size()));
    if (inserted) m_packs.push_back(pack);
    Location loc{it->second, e.offset, e.length, e.raw_length, e.type};
    auto [first, added] = m_chunks.try_emplace(e.id, loc);
    if (!added && first->second.pack != loc.pack) {
        auto range = m_alternates.equal_range(e.id);
        for (auto a = range.first; a != range.second; ++a)
            if (a->second.pack == loc.pack) return;
        m_alternates.emplace(e.id, loc);
    }
}

std::vector<Location> Index::alternates(const Id& chunk) const {
    std::vector<Location> out;
    auto range = m_alternates.equal_range(chunk);
    for (auto a = range.first; a != range.second; ++a) out.push_back(a->second);
    return out;
}

const Location* Index::find(const Id& chunk) const {
    auto it = m_chunks.find(chunk);
    return it == m_chunks.end() ? nullptr : &it->second;
}

Bytes encode_index_payload(const std::vector<IndexedPack>& packs) {
    Writer w;
    w.u8(1);
    w.varint(packs.size());
    for (const auto& p : packs) {
        w.id(p.pack);
        w.varint(p.entries.size());
        for (const auto& e : p.entries) {
            w.id(e.id);
            w.u8(static_cast<uint8_t>(e.type));
            w.varint(e.offset);
            w.varint(e.length);
            w.varint(e.raw_length);
        }
    }
    return w.take();
}

Result<std::vector<IndexedPack>> decode_index_payload(ByteView payload, const std::string& label) {
    auto bad = [&] { return corruption(label + " payload is malformed"); };
    Reader r(payload);
    uint8_t version;
    uint64_t npacks;
    if (!r.u8(version) || version != 1 || !r.varint(npacks) || npacks > payload.size() / 33)
        return bad();
    std::vector<IndexedPack> out(npacks);
    for (auto& p : out) {
        uint64_t n;
        if (!r.id(p.pack) || !r.varint(n) || n > r.remaining() / 36) return bad();
        p.entries.resize(n);
        for (auto& e : p.entries) {
            uint8_t type;
            uint64_t off, len, raw;
            if (!r.id(e.id) || !r.u8(type) || !valid_chunk_type(type) || !r.varint(off) ||
                !r.varint(len) || !r.varint(raw) || off > UINT32_MAX || len > UINT32_MAX ||
                raw > UINT32_MAX)
                return bad();
            e.type = static_cast<ChunkType>(type);
            e.offset = static_cast<uint32_t>(off);
            e.length = static_cast<uint32_t>(len);
            e.raw_length = static_cast<uint32_t>(raw);
        }
    }
    if (!r.done()) return bad();
    return out;
}

}  // namespace coffer::repo

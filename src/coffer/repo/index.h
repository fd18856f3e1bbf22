// Index: chunk ID -> (pack, offset, length, type, plaintext length), the host-readable map that
// makes deduplication possible without reading any content.
//
// On disk an index object is a metadata envelope (meta.h) whose payload is
//   version(1)=1 | varint pack count | per pack: pack id(32) | varint entry count |
//   per entry: chunk id(32) | type(1) | varint offset | varint length | varint raw_length
// In memory, pack IDs are interned so that an entry costs ~50 bytes plus the hash table.
// Not thread-safe: Repository guards it.
#pragma once

#include <unordered_map>
#include <vector>

#include "coffer/repo/pack.h"

namespace coffer::repo {

struct Location {
    uint32_t pack = 0;  // index into Index::packs()
    uint32_t offset = 0;
    uint32_t length = 0;
    uint32_t raw_length = 0;
    ChunkType type = ChunkType::data;
};

struct IndexedPack {
    Id pack;
    std::vector<PackEntry> entries;
};

class Index {
public:
    void add(const Id& pack, const PackEntry& entry);
    const Location* find(const Id& chunk) const;
    // Other places the chunk is indexed at, besides find()'s. Prune and rewrap copy packs
    // before they delete the originals, so a crash between the two leaves a chunk in two
    // packs; after a recovery key rotation only one of them may open with the key at hand.
    std::vector<Location> alternates(const Id& chunk) const;
    bool contains(const Id& chunk) const { return m_chunks.count(chunk) != 0; }
    const Id& pack_id(uint32_t pack) const { return m_packs[pack]; }
    const std::vector<Id>& packs() const { return m_packs; }
    size_t size() const { return m_chunks.size(); }
    const std::unordered_map<Id, Location, IdHash>& chunks() const { return m_chunks; }
    PackEntry entry_of(const Id& chunk, const Location& loc) const {
        return {chunk, loc.type, loc.offset, loc.length, loc.raw_length};
    }

private:
    std::vector<Id> m_packs;
    std::unordered_map<Id, uint32_t, IdHash> m_pack_numbers;
    std::unordered_map<Id, Location, IdHash> m_chunks;
    std::unordered_multimap<Id, Location, IdHash> m_alternates;  // rare: see alternates()
};

Bytes encode_index_payload(const std::vector<IndexedPack>& packs);
Result<std::vector<IndexedPack>> decode_index_payload(ByteView payload, const std::string& label);

}  // namespace coffer::repo

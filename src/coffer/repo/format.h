// The repository format's constants and object names. docs/design.md is the prose version of
// this file; change both together, and bump k_format_version for anything a reader of the old
// version would misread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "coffer/util/bytes.h"

namespace coffer::repo {

constexpr int k_format_version = 1;

// Chunk types. The type is part of the chunk ID's MAC input and of its encryption AAD, so a
// chunk cannot be passed off as another type.
enum class ChunkType : uint8_t {
    data = 1,  // file contents; sealed to the recovery key
    tree = 2,  // a directory listing (names, attributes); sealed to the recovery key
    refs = 3,  // a directory's outgoing references (chunk IDs only); readable with the host key
};
bool valid_chunk_type(uint8_t t);
std::string_view chunk_type_name(ChunkType t);

// Metadata objects (index, snapshot) share one envelope; this byte says which one it is.
enum class MetaType : uint8_t { index = 1, snapshot = 2, tombstone = 3, host_config = 4 };

constexpr size_t k_key_id_size = 16;
constexpr std::string_view k_pack_magic = "CFRP";
constexpr std::string_view k_meta_magic = "CFRM";
constexpr uint8_t k_object_version = 1;
// magic(4) version(1) key_id(16) stanza(112)
constexpr size_t k_pack_header_size = 4 + 1 + k_key_id_size + 112;

inline std::string pack_name(const Id& id) {
    std::string hex = id.hex();
    return "packs/" + hex.substr(0, 2) + "/" + hex;
}
inline std::string index_name(const Id& id) {
    return "index/" + id.hex();
}
inline std::string snapshot_name(const Id& id) {
    return "snapshots/" + id.hex();
}
constexpr std::string_view k_config_name = "config";

// HKDF info strings: one per purpose, so no key is ever used for two things.
namespace info {
constexpr std::string_view chunker_gear = "coffer chunker gear v1";
constexpr std::string_view metadata = "coffer metadata v1";
constexpr std::string_view pack_trailer = "coffer pack trailer v1";
constexpr std::string_view chunk = "coffer chunk v1";
constexpr std::string_view pack_stanza = "coffer pack stanza v1";
constexpr std::string_view host_secrets = "coffer host secrets v1";
constexpr std::string_view meta_signature = "coffer metadata signature v1";
constexpr std::string_view registry_signing = "coffer registry signing key v1";
constexpr std::string_view registry_signature = "coffer registry signature v1";
constexpr std::string_view rotation_signature = "coffer rotation signature v1";
}  // namespace info

}  // namespace coffer::repo

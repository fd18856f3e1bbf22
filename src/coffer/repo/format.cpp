#include "coffer/repo/format.h"

namespace coffer::repo {

bool valid_chunk_type(uint8_t t) {
    return t >= 1 && t <= 3;
}

std::string_view chunk_type_name(ChunkType t) {
    switch (t) {
        case ChunkType::data:
            return "data";
        case ChunkType::tree:
            return "tree";
        case ChunkType::refs:
            return "refs";
    }
    return "unknown";
}

}  // namespace coffer::repo

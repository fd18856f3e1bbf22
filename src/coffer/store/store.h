// Store: the byte-level storage interface every repository location implements (local
// directory, in-memory, later S3), and the decorators around it (fault injection, retry).
//
// Names are relative '/'-separated paths such as "config", "index/<hex>", "packs/ab/<hex>".
// A store knows nothing of coffer's format: the ordering rules (packs, then index, then snapshot)
// live in repo/. Drivers report errors accurately: Code::not_found for a missing object,
// Code::transient for errors worth retrying, anything else is permanent.
//
// Contract for every implementation:
// - put() is atomic: a reader sees either no object or the complete object, never a prefix,
//   including after a crash. When put() returns ok the object is durable.
// - put() with PutMode::create_only fails with Code::already_exists if the name exists.
// - list() returns every object under the prefix or fails; never a partial list.
// - Implementations are thread-safe: any call may run concurrently with any other.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "coffer/util/bytes.h"
#include "coffer/util/status.h"

namespace coffer::store {

enum class PutMode { overwrite, create_only };

struct ObjectInfo {
    std::string name;  // full name relative to the store root
    uint64_t size = 0;
    // Last modification, ns since the Unix epoch, as the store saw it (the server's clock for
    // S3). Filled in by list() (stat() may leave it 0); prune's grace period is measured
    // against it.
    int64_t mtime_ns = 0;
};

struct Capabilities {
    bool atomic_replace = false;   // overwrite is atomic
    bool has_directories = false;  // names map onto a real directory tree
};

class Store {
public:
    virtual ~Store() = default;

    virtual Status put(std::string_view name, ByteView data, PutMode mode) = 0;
    Status put(std::string_view name, ByteView data) { return put(name, data, PutMode::overwrite); }

    // The whole object. Code::not_found if absent.
    virtual Result<Bytes> get(std::string_view name) = 0;
    // length bytes from offset. Code::corruption if the object is shorter than offset+length
    // (a short read is never returned as success).
    virtual Result<Bytes> get_range(std::string_view name, uint64_t offset, uint64_t length) = 0;
    virtual Result<ObjectInfo> stat(std::string_view name) = 0;
    // Every object whose name starts with prefix (recursively), in no particular order.
    virtual Result<std::vector<ObjectInfo>> list(std::string_view prefix) = 0;
    // Code::not_found if absent.
    virtual Status remove(std::string_view name) = 0;
    // Until when a write-once retention (S3 Object Lock) forbids removing the object: ns since
    // the Unix epoch, or 0 when it may be removed now. Stores without retention return 0.
    virtual Result<int64_t> retained_until(std::string_view name) {
        (void)name;
        return int64_t{0};
    }

    virtual Capabilities capabilities() const = 0;
    // Human-readable location for messages ("/var/backups/coffer").
    virtual std::string location() const = 0;
};

// Rejects names that could escape the store: empty, absolute, "." or ".." components, empty
// components, NUL or backslash. Every driver calls it first.
Status validate_name(std::string_view name);

}  // namespace coffer::store

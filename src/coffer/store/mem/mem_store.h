// MemStore: an in-memory Store for tests. Thread-safe (one mutex). Behaves exactly like the
// contract in store.h, including not_found and create_only semantics.
#pragma once

#include <map>
#include <mutex>

#include "coffer/store/store.h"

namespace coffer::store {

class MemStore final : public Store {
public:
    Status put(std::string_view name, ByteView data, PutMode mode) override;
    using Store::put;
    Result<Bytes> get(std::string_view name) override;
    Result<Bytes> get_range(std::string_view name, uint64_t offset, uint64_t length) override;
    Result<ObjectInfo> stat(std::string_view name) override;
    Result<std::vector<ObjectInfo>> list(std::string_view prefix) override;
    Status remove(std::string_view name) override;
    Capabilities capabilities() const override { return {true, false}; }
    std::string location() const override { return "mem:"; }

private:
    struct Object {
        Bytes data;
        int64_t mtime_ns = 0;
    };
    mutable std::mutex m_mu;
    std::map<std::string, Object, std::less<>> m_objects;
};

}  // namespace coffer::store

// A store that reports a retention date for every object whose name starts with one of the
// prefixes and refuses to remove those, as an S3 bucket with Object Lock would. Only a fault of
// sorts, for the layers above the store: the real S3 path is tested by S3ObjectLock.*.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "coffer/store/store.h"

namespace coffer::store::testing {

class RetainingStore final : public Store {
public:
    RetainingStore(std::shared_ptr<Store> inner, std::vector<std::string> prefixes, int64_t until)
        : m_inner(std::move(inner)), m_prefixes(std::move(prefixes)), m_until(until) {}
    Status put(std::string_view n, ByteView d, PutMode m) override { return m_inner->put(n, d, m); }
    using Store::put;
    Result<Bytes> get(std::string_view n) override { return m_inner->get(n); }
    Result<Bytes> get_range(std::string_view n, uint64_t o, uint64_t l) override {
        return m_inner->get_range(n, o, l);
    }
    Result<ObjectInfo> stat(std::string_view n) override { return m_inner->stat(n); }
    Result<std::vector<ObjectInfo>> list(std::string_view p) override { return m_inner->list(p); }
    Status remove(std::string_view n) override {
        if (retained(n)) return {Code::permission, "object is under retention"};
        return m_inner->remove(n);
    }
    Result<int64_t> retained_until(std::string_view n) override {
        return retained(n) ? m_until : int64_t{0};
    }
    Capabilities capabilities() const override { return m_inner->capabilities(); }
    std::string location() const override { return m_inner->location(); }

    // The retention date has passed: nothing is retained any longer.
    void release() { m_prefixes.clear(); }

private:
    bool retained(std::string_view n) const {
        for (const auto& p : m_prefixes)
            if (n.starts_with(p)) return true;
        return false;
    }
    std::shared_ptr<Store> m_inner;
    std::vector<std::string> m_prefixes;
    int64_t m_until;
};

}  // namespace coffer::store::testing

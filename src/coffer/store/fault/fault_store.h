// FaultStore: wraps another Store and injects failures, for crash and I/O-error tests.
//
// Rules are checked in order on every call; a rule matches an operation kind and, optionally,
// a name prefix. Counting is per rule and starts at 1 for the first matching call.
// Thread-safe.
#pragma once

#include <atomic>
#include <mutex>
#include <optional>
#include <vector>

#include "coffer/store/store.h"

namespace coffer::store {

enum class Op { put, get, get_range, stat, list, remove };

struct FaultRule {
    Op op = Op::put;
    std::string prefix;    // matches names (or list prefixes) starting with this
    uint64_t nth = 1;      // first matching call that fails
    bool forever = false;  // fail every matching call from the nth on, not just the nth
    Code code = Code::io;  // status code of the injected failure
    // For get/get_range: instead of failing, return data with this byte XOR 0x01
    // (flip_offset < size) or truncated by this many bytes; the call "succeeds".
    int64_t flip_offset = -1;
    uint64_t truncate_by = 0;
    // For list: drop this many entries from the answer and still "succeed" (a lying backend;
    // used to test that callers cross-check).
    uint64_t drop_entries = 0;
    // When > 0: the call waits this long, then goes through to the store unharmed (a slow or
    // stalled backend); the rule injects no failure.
    uint64_t delay_ms = 0;
};

class FaultStore final : public Store {
public:
    explicit FaultStore(std::shared_ptr<Store> inner) : m_inner(std::move(inner)) {}

    void add_rule(FaultRule rule);
    void clear_rules();
    // Number of put() and remove() calls seen so far (mutating calls), for crash-point sweeps.
    uint64_t mutating_calls() const { return m_mutating.load(); }

    Status put(std::string_view name, ByteView data, PutMode mode) override;
    using Store::put;
    Result<Bytes> get(std::string_view name) override;
    Result<Bytes> get_range(std::string_view name, uint64_t offset, uint64_t length) override;
    Result<ObjectInfo> stat(std::string_view name) override;
    Result<std::vector<ObjectInfo>> list(std::string_view prefix) override;
    Status remove(std::string_view name) override;
    Result<int64_t> retained_until(std::string_view name) override {
        return m_inner->retained_until(name);
    }
    Capabilities capabilities() const override { return m_inner->capabilities(); }
    std::string location() const override { return m_inner->location(); }

private:
    struct Armed {
        FaultRule rule;
        uint64_t seen = 0;
    };
    // Returns the rule that fires for this call, if any. Caller holds m_mu.
    const FaultRule* match(Op op, std::string_view name);
    // Locks, calls match(), and copies the rule out so it outlives the lock.
    std::optional<FaultRule> fire(Op op, std::string_view name);

    std::shared_ptr<Store> m_inner;
    std::mutex m_mu;
    std::vector<Armed> m_rules;
    std::atomic<uint64_t> m_mutating{0};
};

}  // namespace coffer::store

#include "coffer/store/fault/fault_store.h"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <thread>

namespace coffer::store {

namespace {

std::string_view op_name(Op op) {
    switch (op) {
        case Op::put:
            return "put";
        case Op::get:
            return "get";
        case Op::get_range:
            return "get_range";
        case Op::stat:
            return "stat";
        case Op::list:
            return "list";
        case Op::remove:
            return "remove";
    }
    return "?";
}

Status injected(const FaultRule& rule, Op op, std::string_view name) {
    // A rule with Code::ok would produce a "failed" Result holding an ok Status; treat it as io.
    Code code = rule.code == Code::ok ? Code::io : rule.code;
    return {code, "injected fault: " + std::string(op_name(op)) + " \"" + std::string(name) + "\""};
}

bool corrupts_data(const FaultRule& rule) {
    return rule.flip_offset >= 0 || rule.truncate_by > 0;
}

void corrupt(const FaultRule& rule, Bytes& data) {
    const auto cut = static_cast<std::ptrdiff_t>(std::min<uint64_t>(rule.truncate_by, data.size()));
    data.erase(data.end() - cut, data.end());
    if (rule.flip_offset >= 0 && static_cast<uint64_t>(rule.flip_offset) < data.size()) {
        data[static_cast<size_t>(rule.flip_offset)] ^= 0x01;
    }
}

// A delay rule stalls the call and then lets it through: afterwards the call has no rule.
void stall(std::optional<FaultRule>& rule) {
    if (!rule || rule->delay_ms == 0) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(rule->delay_ms));
    rule.reset();
}

}  // namespace

void FaultStore::add_rule(FaultRule rule) {
    std::lock_guard lock(m_mu);
    m_rules.push_back({std::move(rule), 0});
}

void FaultStore::clear_rules() {
    std::lock_guard lock(m_mu);
    m_rules.clear();
}

const FaultRule* FaultStore::match(Op op, std::string_view name) {
    // Every rule matching the call counts it, so a rule's count does not depend on whether an
    // earlier rule fired; the first rule (in insertion order) that fires wins.
    const FaultRule* fired = nullptr;
    for (Armed& armed : m_rules) {
        const FaultRule& rule = armed.rule;
        if (rule.op != op || !name.starts_with(rule.prefix)) continue;
        ++armed.seen;
        bool fires = rule.forever ? armed.seen >= rule.nth : armed.seen == rule.nth;
        if (fires && !fired) fired = &rule;
    }
    return fired;
}

std::optional<FaultRule> FaultStore::fire(Op op, std::string_view name) {
    std::optional<FaultRule> out;
    {
        std::lock_guard lock(m_mu);
        if (const FaultRule* rule = match(op, name)) out = *rule;
    }
    stall(out);  // not under the lock: other calls go on meanwhile
    return out;
}

Status FaultStore::put(std::string_view name, ByteView data, PutMode mode) {
    m_mutating.fetch_add(1);
    if (auto rule = fire(Op::put, name)) return injected(*rule, Op::put, name);
    return m_inner->put(name, data, mode);
}

Result<Bytes> FaultStore::get(std::string_view name) {
    auto rule = fire(Op::get, name);
    if (rule && !corrupts_data(*rule)) return injected(*rule, Op::get, name);
    TRY_ASSIGN(Bytes data, m_inner->get(name));
    if (rule) corrupt(*rule, data);
    return data;
}

Result<Bytes> FaultStore::get_range(std::string_view name, uint64_t offset, uint64_t length) {
    auto rule = fire(Op::get_range, name);
    if (rule && !corrupts_data(*rule)) return injected(*rule, Op::get_range, name);
    TRY_ASSIGN(Bytes data, m_inner->get_range(name, offset, length));
    if (rule) corrupt(*rule, data);
    return data;
}

Result<ObjectInfo> FaultStore::stat(std::string_view name) {
    if (auto rule = fire(Op::stat, name)) return injected(*rule, Op::stat, name);
    return m_inner->stat(name);
}

Result<std::vector<ObjectInfo>> FaultStore::list(std::string_view prefix) {
    auto rule = fire(Op::list, prefix);
    if (rule && rule->drop_entries == 0) return injected(*rule, Op::list, prefix);
    TRY_ASSIGN(std::vector<ObjectInfo> entries, m_inner->list(prefix));
    if (rule) {
        const auto cut =
            static_cast<std::ptrdiff_t>(std::min<uint64_t>(rule->drop_entries, entries.size()));
        entries.erase(entries.end() - cut, entries.end());
    }
    return entries;
}

Status FaultStore::remove(std::string_view name) {
    m_mutating.fetch_add(1);
    if (auto rule = fire(Op::remove, name)) return injected(*rule, Op::remove, name);
    return m_inner->remove(name);
}

}  // namespace coffer::store

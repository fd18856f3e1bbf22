#include "coffer/store/mem/mem_store.h"

#include <chrono>

namespace coffer::store {

namespace {

std::string describe(std::string_view name) {
    return "mem:" + std::string(name);
}

int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

Status MemStore::put(std::string_view name, ByteView data, PutMode mode) {
    TRY(validate_name(name));
    Bytes copy(data.begin(), data.end());  // copy outside the lock
    std::lock_guard lock(m_mu);
    auto it = m_objects.find(name);
    if (it != m_objects.end()) {
        if (mode == PutMode::create_only) {
            return already_exists("put " + describe(name) + ": object exists");
        }
        it->second = {std::move(copy), now_ns()};
    } else {
        m_objects.emplace(std::string(name), Object{std::move(copy), now_ns()});
    }
    return ok_status();
}

Result<Bytes> MemStore::get(std::string_view name) {
    TRY(validate_name(name));
    std::lock_guard lock(m_mu);
    auto it = m_objects.find(name);
    if (it == m_objects.end()) return not_found("get " + describe(name) + ": no such object");
    return it->second.data;
}

Result<Bytes> MemStore::get_range(std::string_view name, uint64_t offset, uint64_t length) {
    TRY(validate_name(name));
    std::lock_guard lock(m_mu);
    auto it = m_objects.find(name);
    if (it == m_objects.end()) return not_found("get " + describe(name) + ": no such object");
    const Bytes& data = it->second.data;
    const uint64_t size = data.size();
    if (offset > size || length > size - offset) {
        return corruption("read " + describe(name) + ": range " + std::to_string(offset) + "+" +
                          std::to_string(length) + " is past the end of the " +
                          std::to_string(size) + "-byte object");
    }
    auto first = data.begin() + static_cast<std::ptrdiff_t>(offset);
    return Bytes(first, first + static_cast<std::ptrdiff_t>(length));
}

Result<ObjectInfo> MemStore::stat(std::string_view name) {
    TRY(validate_name(name));
    std::lock_guard lock(m_mu);
    auto it = m_objects.find(name);
    if (it == m_objects.end()) return not_found("stat " + describe(name) + ": no such object");
    return ObjectInfo{it->first, it->second.data.size(), it->second.mtime_ns};
}

Result<std::vector<ObjectInfo>> MemStore::list(std::string_view prefix) {
    // Same rules as LocalStore: the directory part must be a valid name, the rest may be any
    // partial component.
    if (size_t slash = prefix.rfind('/'); slash != std::string_view::npos) {
        TRY(validate_name(prefix.substr(0, slash)));
    }
    if (prefix.find('\0') != std::string_view::npos ||
        prefix.find('\\') != std::string_view::npos) {
        return invalid_argument("invalid list prefix \"" + std::string(prefix) + "\"");
    }
    std::vector<ObjectInfo> out;
    std::lock_guard lock(m_mu);
    for (auto it = m_objects.lower_bound(prefix);
         it != m_objects.end() && std::string_view(it->first).starts_with(prefix); ++it) {
        out.push_back({it->first, it->second.data.size(), it->second.mtime_ns});
    }
    return out;
}

Status MemStore::remove(std::string_view name) {
    TRY(validate_name(name));
    std::lock_guard lock(m_mu);
    auto it = m_objects.find(name);
    if (it == m_objects.end()) return not_found("remove " + describe(name) + ": no such object");
    m_objects.erase(it);
    return ok_status();
}

}  // namespace coffer::store

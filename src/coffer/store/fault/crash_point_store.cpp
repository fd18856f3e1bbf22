#include "coffer/store/fault/crash_point_store.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

namespace coffer::store {

namespace {

std::atomic<uint64_t> g_calls{0};
std::once_flag g_count_at_exit;

enum class Mode { before, after, torn };

struct Plan {
    uint64_t at = 0;  // 0: never
    Mode mode = Mode::before;
    const char* count_file = nullptr;
};

const Plan& plan() {
    static const Plan p = [] {
        Plan out;
        if (const char* at = std::getenv("COFFER_CRASH_AT"))
            out.at = std::strtoull(at, nullptr, 10);
        if (const char* mode = std::getenv("COFFER_CRASH_MODE")) {
            std::string m = mode;
            out.mode = m == "after" ? Mode::after : m == "torn" ? Mode::torn : Mode::before;
        }
        out.count_file = std::getenv("COFFER_CRASH_COUNT");
        return out;
    }();
    return p;
}

void write_count() {
    FILE* f = std::fopen(plan().count_file, "a");
    if (!f) return;
    std::fprintf(f, "%llu\n", static_cast<unsigned long long>(g_calls.load()));
    std::fclose(f);
}

[[noreturn]] void die() {
    ::kill(::getpid(), SIGKILL);
    std::abort();  // not reached
}

class CrashPointStore final : public Store {
public:
    explicit CrashPointStore(std::shared_ptr<Store> inner) : m_inner(std::move(inner)) {}

    Status put(std::string_view name, ByteView data, PutMode mode) override {
        bool crash = arrive();
        if (crash && plan().mode == Mode::torn) tear(name, data);
        if (crash && plan().mode != Mode::after) die();
        Status st = m_inner->put(name, data, mode);
        if (crash) die();
        return st;
    }
    using Store::put;
    Status remove(std::string_view name) override {
        bool crash = arrive();
        if (crash && plan().mode != Mode::after) die();
        Status st = m_inner->remove(name);
        if (crash) die();
        return st;
    }
    Result<Bytes> get(std::string_view name) override { return m_inner->get(name); }
    Result<Bytes> get_range(std::string_view name, uint64_t offset, uint64_t length) override {
        return m_inner->get_range(name, offset, length);
    }
    Result<ObjectInfo> stat(std::string_view name) override { return m_inner->stat(name); }
    Result<std::vector<ObjectInfo>> list(std::string_view prefix) override {
        return m_inner->list(prefix);
    }
    Result<int64_t> retained_until(std::string_view name) override {
        return m_inner->retained_until(name);
    }
    Capabilities capabilities() const override { return m_inner->capabilities(); }
    std::string location() const override { return m_inner->location(); }

private:
    static bool arrive() {
        uint64_t n = ++g_calls;
        return n == plan().at;
    }
    // What a power cut leaves of a write that was never fsynced: part of it, in the local
    // store's temporary file (LocalStore writes ".tmp-*" beside the object, then renames).
    void tear(std::string_view name, ByteView data) const {
        if (!m_inner->capabilities().has_directories) return;
        std::string object = m_inner->location() + "/" + std::string(name);
        std::string tmp =
            object.substr(0, object.rfind('/') + 1) + ".tmp-torn" + std::to_string(::getpid());
        int fd = ::open(tmp.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
        if (fd < 0) return;
        ssize_t ignored = ::write(fd, data.data(), data.size() / 2);
        (void)ignored;
        ::close(fd);
    }

    std::shared_ptr<Store> m_inner;
};

}  // namespace

std::shared_ptr<Store> with_crash_points(std::shared_ptr<Store> inner) {
    if (plan().at == 0 && !plan().count_file) return inner;
    if (plan().count_file) std::call_once(g_count_at_exit, [] { std::atexit(write_count); });
    return std::make_shared<CrashPointStore>(std::move(inner));
}

}  // namespace coffer::store

// Status and Result<T>: how every coffer layer reports failure.
//
// A Status is either ok or carries a Code from one table and a one-line message that names the
// object involved ("pack 3fa2… failed authentication") and, where there is one, the fix. Context is
// prepended on the way up with with_context(). Result<T> holds either a value or a non-ok Status.
// Both are cheap to move, [[nodiscard]], and never throw. Thread-compatible (plain values).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace coffer {

enum class Code : uint8_t {
    ok = 0,
    not_found,
    already_exists,
    transient,
    io,
    corruption,
    integrity,
    wrong_key,
    lock_held,
    permission,
    invalid_argument,
    cancelled,
    internal,
};

std::string_view code_name(Code code);

class [[nodiscard]] Status {
public:
    Status() = default;
    Status(Code code, std::string message) : m_code(code), m_message(std::move(message)) {}

    static Status ok_status() { return {}; }
    bool ok() const { return m_code == Code::ok; }
    Code code() const { return m_code; }
    const std::string& message() const { return m_message; }

    // "context: message", keeping the code.
    Status with_context(std::string_view context) const;
    std::string to_string() const;

private:
    Code m_code = Code::ok;
    std::string m_message;
};

inline Status ok_status() {
    return {};
}
inline Status not_found(std::string m) {
    return {Code::not_found, std::move(m)};
}
inline Status already_exists(std::string m) {
    return {Code::already_exists, std::move(m)};
}
inline Status transient_error(std::string m) {
    return {Code::transient, std::move(m)};
}
inline Status io_error(std::string m) {
    return {Code::io, std::move(m)};
}
inline Status corruption(std::string m) {
    return {Code::corruption, std::move(m)};
}
inline Status integrity_error(std::string m) {
    return {Code::integrity, std::move(m)};
}
inline Status wrong_key(std::string m) {
    return {Code::wrong_key, std::move(m)};
}
inline Status lock_held(std::string m) {
    return {Code::lock_held, std::move(m)};
}
inline Status permission_denied(std::string m) {
    return {Code::permission, std::move(m)};
}
inline Status invalid_argument(std::string m) {
    return {Code::invalid_argument, std::move(m)};
}
inline Status cancelled(std::string m) {
    return {Code::cancelled, std::move(m)};
}
inline Status internal_error(std::string m) {
    return {Code::internal, std::move(m)};
}

// errno-based I/O error: "<what>: <strerror>", code io (or not_found/permission/already_exists
// where errno says so).
Status errno_status(std::string_view what, int err);

template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : m_v(std::move(value)) {}         // NOLINT: implicit by design
    Result(Status status) : m_v(std::move(status)) {}  // NOLINT

    bool ok() const { return m_v.index() == 0; }
    explicit operator bool() const { return ok(); }

    T& value() & { return std::get<0>(m_v); }
    const T& value() const& { return std::get<0>(m_v); }
    T&& value() && { return std::get<0>(std::move(m_v)); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

    Status status() const { return ok() ? Status{} : std::get<1>(m_v); }

private:
    std::variant<T, Status> m_v;
};

}  // namespace coffer

#define COFFER_CONCAT_INNER(a, b) a##b
#define COFFER_CONCAT(a, b) COFFER_CONCAT_INNER(a, b)

// TRY(expr): return the Status of expr if it is not ok.
#define TRY(expr)                                \
    do {                                         \
        ::coffer::Status _coffer_st = (expr);    \
        if (!_coffer_st.ok()) return _coffer_st; \
    } while (0)

// TRY_ASSIGN(lhs, expr): evaluate a Result-returning expr; return its Status on failure,
// otherwise move its value into lhs (which may be a declaration: `auto x`).
#define TRY_ASSIGN(lhs, expr) TRY_ASSIGN_IMPL(COFFER_CONCAT(_coffer_r, __LINE__), lhs, expr)
#define TRY_ASSIGN_IMPL(tmp, lhs, expr) \
    auto tmp = (expr);                  \
    if (!tmp.ok()) return tmp.status(); \
    lhs = std::move(tmp).value()

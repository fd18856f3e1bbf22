#include "coffer/util/status.h"

#include <cerrno>
#include <cstring>

namespace coffer {

std::string_view code_name(Code code) {
    switch (code) {
        case Code::ok:
            return "ok";
        case Code::not_found:
            return "not_found";
        case Code::already_exists:
            return "already_exists";
        case Code::transient:
            return "transient";
        case Code::io:
            return "io";
        case Code::corruption:
            return "corruption";
        case Code::integrity:
            return "integrity";
        case Code::wrong_key:
            return "wrong_key";
        case Code::lock_held:
            return "lock_held";
        case Code::permission:
            return "permission";
        case Code::invalid_argument:
            return "invalid_argument";
        case Code::cancelled:
            return "cancelled";
        case Code::internal:
            return "internal";
    }
    return "unknown";
}

Status Status::with_context(std::string_view context) const {
    if (ok()) return *this;
    return {m_code, std::string(context) + ": " + m_message};
}

std::string Status::to_string() const {
    if (ok()) return "ok";
    return m_message;
}

Status errno_status(std::string_view what, int err) {
    std::string msg = std::string(what) + ": " + std::strerror(err);
    switch (err) {
        case ENOENT:
            return not_found(std::move(msg));
        case EACCES:
        case EPERM:
            return permission_denied(std::move(msg));
        case EEXIST:
            return already_exists(std::move(msg));
        case EINTR:
        case EAGAIN:
            return transient_error(std::move(msg));
        default:
            return io_error(std::move(msg));
    }
}

}  // namespace coffer

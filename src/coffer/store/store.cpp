#include "coffer/store/store.h"

namespace coffer::store {

namespace {

std::string quoted(std::string_view name) {
    std::string out = "\"";
    for (char c : name) {
        if (c == '\0') {
            out += "\\0";
        } else {
            out += c;
        }
    }
    out += '"';
    return out;
}

}  // namespace

Status validate_name(std::string_view name) {
    auto bad = [&](std::string_view why) {
        return invalid_argument("invalid object name " + quoted(name) + ": " + std::string(why));
    };
    if (name.empty()) return bad("empty");
    if (name.front() == '/') return bad("absolute");
    if (name.find('\0') != std::string_view::npos) return bad("contains NUL");
    if (name.find('\\') != std::string_view::npos) return bad("contains a backslash");
    size_t start = 0;
    while (true) {
        size_t end = name.find('/', start);
        std::string_view component = name.substr(
            start, end == std::string_view::npos ? std::string_view::npos : end - start);
        if (component.empty()) return bad("empty path component");
        if (component == "." || component == "..") return bad("\".\" or \"..\" component");
        if (end == std::string_view::npos) break;
        start = end + 1;
    }
    return ok_status();
}

}  // namespace coffer::store

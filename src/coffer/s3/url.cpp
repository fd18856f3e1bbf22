#include "coffer/s3/url.h"

#include <algorithm>

namespace coffer::s3 {

namespace {

bool unreserved(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// S3's bucket naming rules (the DNS-compatible subset every provider accepts).
bool valid_bucket(std::string_view b) {
    if (b.size() < 3 || b.size() > 63) return false;
    for (char c : b)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-'))
            return false;
    auto edge = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
    return edge(b.front()) && edge(b.back()) && b.find("..") == std::string_view::npos;
}

constexpr std::string_view k_form = R"((expected "s3:http(s)://host[:port]/bucket[/prefix]"))";

}  // namespace

std::string Location::to_string() const {
    std::string out = "s3:" + endpoint + "/" + bucket;
    if (!prefix.empty()) out += "/" + prefix;
    return out;
}

Result<Location> parse_url(std::string_view url) {
    const std::string shown(url.substr(0, 200));
    auto bad = [&](std::string_view what) {
        return invalid_argument("S3 URL \"" + shown + "\": " + std::string(what) + " " +
                                std::string(k_form));
    };
    if (!url.starts_with("s3:")) return bad("does not start with \"s3:\"");
    std::string_view rest = url.substr(3);
    std::string_view scheme;
    if (rest.starts_with("https://"))
        scheme = "https://";
    else if (rest.starts_with("http://"))
        scheme = "http://";
    else
        return bad("needs http:// or https:// after \"s3:\"");
    rest.remove_prefix(scheme.size());
    size_t slash = rest.find('/');
    std::string_view host = rest.substr(0, slash);
    if (host.empty()) return bad("names no host");
    if (host.find('@') != std::string_view::npos)
        return invalid_argument(
            "S3 URL: credentials do not belong in the URL; use AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY or the access_key_id and secret_access_key settings");
    for (char c : host)
        if (c == '?' || c == '#' || static_cast<unsigned char>(c) <= 0x20)
            return bad("has an invalid host");
    if (slash == std::string_view::npos) return bad("names no bucket");
    rest.remove_prefix(slash + 1);
    size_t bucket_end = rest.find('/');
    Location loc;
    loc.endpoint = std::string(scheme) + std::string(host);
    loc.bucket = std::string(rest.substr(0, bucket_end));
    if (loc.bucket.empty()) return bad("names no bucket");
    if (!valid_bucket(loc.bucket))
        return bad("has an invalid bucket name \"" + loc.bucket +
                   "\" (3-63 characters: a-z, 0-9, '.', '-')");
    if (bucket_end != std::string_view::npos) {
        std::string_view prefix = rest.substr(bucket_end + 1);
        while (prefix.ends_with('/')) prefix.remove_suffix(1);
        size_t start = 0;
        while (!prefix.empty() && start <= prefix.size()) {
            size_t end = std::min(prefix.find('/', start), prefix.size());
            std::string_view part = prefix.substr(start, end - start);
            if (part.empty() || part == "." || part == "..")
                return bad("has an empty, \".\" or \"..\" component in its prefix");
            for (char c : part)
                if (static_cast<unsigned char>(c) < 0x20 || c == '\\' || c == '?' || c == '#')
                    return bad("has a control character, '\\', '?' or '#' in its prefix");
            start = end + 1;
        }
        loc.prefix = std::string(prefix);
    }
    return loc;
}

std::string uri_encode(std::string_view s, bool keep_slash) {
    static constexpr char k_hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size());
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        if (unreserved(c) || (keep_slash && c == '/')) {
            out += ch;
        } else {
            out += '%';
            out += k_hex[c >> 4];
            out += k_hex[c & 15];
        }
    }
    return out;
}

std::string uri_decode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 &&
            hex_value(s[i + 2]) >= 0) {
            out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

std::string canonical_query(std::vector<std::pair<std::string, std::string>> params) {
    for (auto& [k, v] : params) {
        k = uri_encode(k, false);
        v = uri_encode(v, false);
    }
    std::sort(params.begin(), params.end());  // by encoded name, then encoded value
    std::string out;
    for (const auto& [k, v] : params) {
        if (!out.empty()) out += '&';
        out += k + "=" + v;
    }
    return out;
}

}  // namespace coffer::s3

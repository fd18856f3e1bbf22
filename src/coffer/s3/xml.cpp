#include "coffer/s3/xml.h"

#include <expat.h>

#include <charconv>
#include <cstdio>
#include <ctime>
#include <functional>
#include <memory>

#include "coffer/s3/url.h"
#include "coffer/util/text.h"

namespace coffer::s3::xml {

namespace {

// Walks a document with expat, calling on_end(path, text) as each element closes; path is the
// element names from the root joined with '/' ("ListBucketResult/Contents/Key") and text the
// element's own character data. Namespaces are not expanded (S3's default namespace is just an
// attribute to expat), so names compare as written.
class Walker {
public:
    using OnEnd = std::function<void(const std::string& path, const std::string& text)>;

    explicit Walker(OnEnd on_end) : m_on_end(std::move(on_end)) {}

    // Empty on success, else expat's description with the line.
    std::string parse(std::string_view body) {
        std::unique_ptr<XML_ParserStruct, decltype(&XML_ParserFree)> parser(
            XML_ParserCreate("UTF-8"), XML_ParserFree);
        if (!parser) return "out of memory";
        m_parser = parser.get();
        XML_SetUserData(parser.get(), this);
        XML_SetElementHandler(parser.get(), &Walker::start, &Walker::end);
        XML_SetCharacterDataHandler(parser.get(), &Walker::chars);
        // No DTDs or entity expansion beyond the predefined ones: a server has no business
        // sending them, and refusing them closes the "billion laughs" door.
        XML_SetEntityDeclHandler(parser.get(), &Walker::entity_decl);
        if (body.size() > static_cast<size_t>(INT32_MAX)) return "document too large";
        if (XML_Parse(parser.get(), body.data(), static_cast<int>(body.size()), 1) ==
            XML_STATUS_ERROR) {
            return std::string(XML_ErrorString(XML_GetErrorCode(parser.get()))) + " at line " +
                   std::to_string(XML_GetCurrentLineNumber(parser.get()));
        }
        return "";
    }

private:
    static void start(void* self_v, const XML_Char* name, const XML_Char**) {
        auto* self = static_cast<Walker*>(self_v);
        self->m_lengths.push_back(self->m_path.size());
        if (!self->m_path.empty()) self->m_path += '/';
        self->m_path += name;
        self->m_text.emplace_back();
    }
    static void end(void* self_v, const XML_Char*) {
        auto* self = static_cast<Walker*>(self_v);
        self->m_on_end(self->m_path, self->m_text.back());
        self->m_text.pop_back();
        self->m_path.resize(self->m_lengths.back());
        self->m_lengths.pop_back();
    }
    static void chars(void* self_v, const XML_Char* s, int len) {
        auto* self = static_cast<Walker*>(self_v);
        if (!self->m_text.empty()) self->m_text.back().append(s, static_cast<size_t>(len));
    }
    static void entity_decl(void* self_v, const XML_Char*, int, const XML_Char*, int,
                            const XML_Char*, const XML_Char*, const XML_Char*, const XML_Char*) {
        XML_StopParser(static_cast<Walker*>(self_v)->m_parser, XML_FALSE);
    }

    OnEnd m_on_end;
    XML_Parser m_parser = nullptr;
    std::string m_path;
    std::vector<size_t> m_lengths;
    std::vector<std::string> m_text;
};

bool parse_u64(std::string_view s, uint64_t& out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

}  // namespace

Result<int64_t> parse_timestamp(std::string_view text) {
    std::string t(text.substr(0, 64));
    int y, mo, d, h, mi, sec, consumed = 0;
    if (std::sscanf(t.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec,
                    &consumed) != 6 ||
        mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return invalid_argument("timestamp \"" + t + "\" is not ISO 8601 UTC");
    size_t pos = static_cast<size_t>(consumed);
    int64_t nanos = 0;
    if (pos < t.size() && t[pos] == '.') {
        int digits = 0;
        for (++pos; pos < t.size() && t[pos] >= '0' && t[pos] <= '9'; ++pos, ++digits)
            if (digits < 9) nanos = nanos * 10 + (t[pos] - '0');
        for (; digits < 9; ++digits) nanos *= 10;
    }
    if (pos + 1 != t.size() || t[pos] != 'Z')
        return invalid_argument("timestamp \"" + t + "\" is not ISO 8601 UTC");
    // Nanoseconds since 1970 in 64 bits end in 2262; a server's clock beyond is not believed.
    if (y < 1970 || y > 2261)
        return invalid_argument("timestamp \"" + t + "\" is outside 1970..2261");
    return utc_seconds(y, mo, d, h, mi, sec) * 1000000000 + nanos;
}

Result<ListPage> parse_list_page(std::string_view body) {
    ListPage page;
    ListEntry current;
    bool have_key = false;
    bool url_encoded = false;
    std::string problem;
    std::string root;
    Walker walker([&](const std::string& path, const std::string& text) {
        if (path.find('/') == std::string::npos) root = path;
        if (path == "ListBucketResult/Contents/Key") {
            current.key = text;
            have_key = true;
        } else if (path == "ListBucketResult/Contents/Size") {
            if (!parse_u64(text, current.size) && problem.empty())
                problem = "entry size \"" + text.substr(0, 40) + "\" is not a number";
        } else if (path == "ListBucketResult/Contents/ETag") {
            // Quoted in listings as in headers; callers compare the bare hex (as head() gives).
            current.etag = text;
            if (current.etag.size() >= 2 && current.etag.front() == '"' &&
                current.etag.back() == '"')
                current.etag = current.etag.substr(1, current.etag.size() - 2);
        } else if (path == "ListBucketResult/Contents/LastModified") {
            auto t = parse_timestamp(text);
            if (!t.ok() && problem.empty()) problem = t.status().message();
            current.last_modified_ns = t.ok() ? *t : 0;
        } else if (path == "ListBucketResult/Contents") {
            if (!have_key && problem.empty()) problem = "an entry has no key";
            page.entries.push_back(std::move(current));
            current = {};
            have_key = false;
        } else if (path == "ListBucketResult/IsTruncated") {
            page.truncated = text == "true";
        } else if (path == "ListBucketResult/NextContinuationToken") {
            page.next_token = text;
        } else if (path == "ListBucketResult/EncodingType") {
            url_encoded = text == "url";
        }
    });
    if (std::string err = walker.parse(body); !err.empty())
        return corruption("listing is not well-formed XML: " + err);
    if (root != "ListBucketResult")
        return corruption("listing is not a ListBucketResult document" +
                          (root.empty() ? std::string() : " (got <" + root + ">)"));
    if (!problem.empty()) return corruption("listing: " + problem);
    if (url_encoded)
        for (auto& e : page.entries) e.key = uri_decode(e.key);
    return page;
}

Error parse_error(std::string_view body) {
    Error e;
    if (body.empty()) return e;
    Walker walker([&](const std::string& path, const std::string& text) {
        if (path == "Error/Code") e.code = text;
        if (path == "Error/Message") e.message = text;
    });
    if (!walker.parse(body).empty()) return {};
    return e;
}

}  // namespace coffer::s3::xml

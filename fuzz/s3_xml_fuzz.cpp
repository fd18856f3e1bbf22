// S3 XML bodies (s3/xml.h): ListObjectsV2 pages, error documents, timestamps.
//
// Checks: an accepted page, written back as a ListBucketResult (keys URL-encoded, text escaped),
// parses to the same page; every key survives uri_encode/uri_decode; a failure is
// Code::corruption. An accepted timestamp, printed back as S3 does, parses to the same instant.
#include <cstdio>
#include <ctime>
#include <string>

#include "coffer/s3/url.h"
#include "coffer/s3/xml.h"
#include "fuzz_common.h"

using namespace coffer;
using namespace coffer::s3;

namespace {

// XML character data for any bytes the parser can have produced (valid UTF-8, XML characters).
std::string escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '&':
                out += "&amp;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&apos;";
                break;
            case '\r':
                out += "&#13;";
                break;
            case '\n':
                out += "&#10;";
                break;
            case '\t':
                out += "&#9;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

std::string timestamp(int64_t ns) {
    int64_t secs = ns / 1000000000, nanos = ns % 1000000000;
    if (nanos < 0) {
        nanos += 1000000000;
        --secs;
    }
    time_t t = static_cast<time_t>(secs);
    struct tm tm {};
    gmtime_r(&t, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<long long>(nanos));
    return buf;
}

std::string write_page(const xml::ListPage& page) {
    std::string out =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult "
        "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><EncodingType>url</EncodingType>";
    out += std::string("<IsTruncated>") + (page.truncated ? "true" : "false") + "</IsTruncated>";
    for (const auto& e : page.entries) {
        out += "<Contents><Key>" + escape(uri_encode(e.key, true)) + "</Key>";
        out += "<Size>" + std::to_string(e.size) + "</Size>";
        out += "<ETag>&quot;" + escape(e.etag) + "&quot;</ETag>";
        if (e.last_modified_ns != 0)
            out += "<LastModified>" + timestamp(e.last_modified_ns) + "</LastModified>";
        out += "</Contents>";
    }
    out += "<NextContinuationToken>" + escape(page.next_token) + "</NextContinuationToken>";
    return out + "</ListBucketResult>";
}

void check_timestamp(std::string_view text) {
    auto t = xml::parse_timestamp(text);
    if (!t.ok()) {
        FUZZ_CHECK(t.status().code() == Code::invalid_argument);
        return;
    }
    std::string printed = timestamp(*t);
    auto back = xml::parse_timestamp(printed);
    FUZZ_CHECK_MSG(back.ok() && *back == *t, std::string(text) + " -> " + printed);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::init();
    std::string_view body(reinterpret_cast<const char*>(data), size);
    if (size <= 64) check_timestamp(body);
    (void)xml::parse_error(body);

    auto page = xml::parse_list_page(body);
    if (!page.ok()) {
        FUZZ_CHECK_MSG(page.status().code() == Code::corruption, page.status().to_string());
        return 0;
    }
    for (const auto& e : page->entries) {
        FUZZ_CHECK(uri_decode(uri_encode(e.key, true)) == e.key);
        FUZZ_CHECK(uri_decode(uri_encode(e.key, false)) == e.key);
    }
    std::string again = write_page(*page);
    auto back = xml::parse_list_page(again);
    FUZZ_CHECK_MSG(back.ok(), back.status().to_string() + "\n" + again);
    FUZZ_CHECK(back->truncated == page->truncated && back->next_token == page->next_token);
    FUZZ_CHECK(back->entries.size() == page->entries.size());
    for (size_t i = 0; i < page->entries.size(); ++i) {
        const auto &a = page->entries[i], &b = back->entries[i];
        FUZZ_CHECK_MSG(a.key == b.key, "key '" + a.key + "' came back as '" + b.key + "'");
        FUZZ_CHECK(a.size == b.size);
        FUZZ_CHECK_MSG(a.etag == b.etag, "etag '" + a.etag + "' came back as '" + b.etag + "'");
        FUZZ_CHECK(a.last_modified_ns == b.last_modified_ns);
    }
    return 0;
}

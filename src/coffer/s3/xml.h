// The few S3 XML documents coffer reads, parsed with expat: a ListObjectsV2 page and an error
// body. Internal to coffer_s3. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "coffer/util/status.h"

namespace coffer::s3::xml {

struct ListEntry {
    std::string key;
    uint64_t size = 0;
    std::string etag;              // without its quotes
    int64_t last_modified_ns = 0;  // LastModified; 0 when absent
};

struct ListPage {
    std::vector<ListEntry> entries;
    bool truncated = false;
    std::string next_token;  // NextContinuationToken; required when truncated
};

// Parses a ListBucketResult. Keys are URL-decoded when the page says EncodingType "url".
// Code::corruption when the body is not well-formed XML, is not a ListBucketResult, or has an
// entry without a key or with a size that is not a number.
Result<ListPage> parse_list_page(std::string_view body);

struct Error {
    std::string code;     // "AccessDenied"; empty when the body is not an S3 error document
    std::string message;  // "Access Denied"
};

// An ISO 8601 UTC timestamp as S3 writes them ("2026-11-23T16:46:00.000Z", fraction
// optional) -> ns since the Unix epoch. Code::invalid_argument otherwise.
Result<int64_t> parse_timestamp(std::string_view text);

// Best effort: an empty Error when the body is empty or not an <Error> document.
Error parse_error(std::string_view body);

}  // namespace coffer::s3::xml

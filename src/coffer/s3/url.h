// S3 locations and the URI encoding SigV4 expects.
//
// A coffer S3 URL is "s3:http(s)://host[:port]/bucket[/prefix]": the endpoint, then a bucket
// and an optional key prefix, addressed path-style (http://host/bucket/key), which every
// S3-compatible server (MinIO, Ceph, AWS) accepts and which needs no wildcard DNS or
// certificates. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "coffer/util/status.h"

namespace coffer::s3 {

struct Location {
    std::string endpoint;  // "http://127.0.0.1:9000", no trailing slash
    std::string bucket;    // "backups"
    std::string prefix;    // "" or "hosts/a" (no leading or trailing '/')

    // Back to "s3:<endpoint>/<bucket>[/<prefix>]". Holds no credentials.
    std::string to_string() const;
};

// Parses "s3:http(s)://host[:port]/bucket[/prefix]". A trailing '/' on the prefix is dropped.
// Code::invalid_argument naming what is wrong: scheme, missing host or bucket, an invalid bucket
// name (3-63 characters of a-z, 0-9, '.', '-'), empty or "."/".." prefix components, or
// credentials in the URL ("user:secret@host" would end up in messages and process lists).
Result<Location> parse_url(std::string_view url);

// RFC 3986 percent-encoding as SigV4 canonicalizes it: every byte except A-Z a-z 0-9 - . _ ~
// becomes %XX (upper-case hex); '/' is kept when keep_slash (object keys in paths).
std::string uri_encode(std::string_view s, bool keep_slash);
// Reverses uri_encode (and any %xx); '+' stays '+'. Malformed escapes are kept literally.
std::string uri_decode(std::string_view s);

// The canonical query string SigV4 signs: each name and value uri_encode()d, sorted by name then
// value, joined as "a=1&b=2". Sending exactly this string makes the signature independent of the
// libcurl version: curl before 8.3 signs the query as sent, without sorting or encoding it (curl
// issues 9717 and 11794), and later versions canonicalize it, which leaves this form unchanged.
std::string canonical_query(std::vector<std::pair<std::string, std::string>> params);

}  // namespace coffer::s3

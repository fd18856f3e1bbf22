// S3 client: the handful of S3 operations coffer needs (objects, listings, buckets), over
// libcurl with SigV4 signing done by libcurl (CURLOPT_AWS_SIGV4) and XML read with expat.
// Used by the S3 store driver and by the s3 bucket backup source, so it knows nothing of
// coffer's repository format.
//
// Addressing is path-style (endpoint/bucket/key). Every request carries x-amz-content-sha256
// (signed) and every upload a Content-MD5, so the server rejects a body damaged in transit.
// TLS peers are always verified (against ca_file when given).
//
// Errors: Code::not_found for 404; Code::permission for 401/403; Code::already_exists for a
// failed If-None-Match precondition or a bucket someone else owns; Code::transient when a
// retryable failure (5xx, 429 SlowDown, 400 RequestTimeout/BadDigest, timeouts, resets, bodies
// shorter than their Content-Length) persisted through every attempt; anything else permanent.
// Retryable failures are retried in here with exponential backoff and full jitter, because only
// here is the HTTP status (503 SlowDown vs 403) still known. Messages are one line,
// "s3 PUT bucket/key: 403 AccessDenied: Access Denied", and never contain credentials.
//
// Thread-safe: any call may run concurrently with any other. At most `connections` requests are
// in flight per client; further callers wait. Idle connections are kept for reuse.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "coffer/util/bytes.h"
#include "coffer/util/status.h"

namespace coffer::s3 {

struct Options {
    std::string endpoint;  // "http(s)://host[:port]" (see url.h), required
    // Explicit values win; empty ones come from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
    // AWS_SESSION_TOKEN and AWS_DEFAULT_REGION (then "us-east-1").
    std::string access_key_id;
    std::string secret_access_key;
    std::string session_token;
    std::string region;
    std::string ca_file;        // PEM bundle trusted instead of the system's, for private CAs
    unsigned connections = 8;   // requests in flight at once (>= 1)
    unsigned max_attempts = 5;  // tries per request, first included (>= 1)
    std::chrono::milliseconds initial_backoff{200};  // before the 2nd try; doubles per try
    std::chrono::milliseconds max_backoff{10'000};
    std::chrono::seconds connect_timeout{10};
    // A transfer moving less than 1 byte/s for this long is aborted (and retried). There is no
    // total timeout: a large object over a slow link is not a failure.
    std::chrono::seconds stall_timeout{60};
    // S3 Object Lock for the objects a repository store writes (S3Store reads these; the
    // client itself only sends what PutOptions asks for). Mode "GOVERNANCE" or "COMPLIANCE";
    // empty: no retention.
    std::string object_lock_mode;
    unsigned object_lock_days = 0;
};

struct ObjectMeta {
    uint64_t size = 0;
    std::string etag;  // as the server sent it, quotes removed
    std::string content_type;
    std::map<std::string, std::string> metadata;  // x-amz-meta-<name> (lower-case) -> value
    std::string lock_mode;     // x-amz-object-lock-mode, when the object has a retention
    std::string retain_until;  // x-amz-object-lock-retain-until-date, as sent
};

struct Object {
    Bytes data;
    ObjectMeta meta;
};

struct PutOptions {
    std::string content_type = "application/octet-stream";
    // Sent as x-amz-meta-<name>. Names: lower-case letters, digits, '-', '_' and '.'; values
    // printable ASCII. Anything else is Code::invalid_argument (S3 would mangle it).
    std::map<std::string, std::string> metadata;
    // Adds If-None-Match: *; the server refuses to replace an existing object with
    // Code::already_exists (AWS since 2024, MinIO, Ceph; servers that ignore it overwrite).
    bool if_none_match = false;
    // S3 Object Lock: the object cannot be deleted or overwritten (in COMPLIANCE mode not even
    // by the root account) before retain_until (Unix seconds). The bucket must have Object
    // Lock enabled; a bucket without it answers 400 InvalidRequest.
    std::string lock_mode;  // "GOVERNANCE" or "COMPLIANCE"; empty: no retention
    int64_t retain_until = 0;
};

struct ListEntry {
    std::string key;
    uint64_t size = 0;
    std::string etag;              // quotes removed, as in ObjectMeta
    int64_t last_modified_ns = 0;  // LastModified, ns since the Unix epoch
};

class Client {
public:
    // Validates the options and resolves credentials. Code::invalid_argument for a bad
    // endpoint, Code::permission when no credentials are found. Makes no request.
    static Result<std::unique_ptr<Client>> create(Options options);
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // Stores data under key, replacing any object there (atomically, as S3 does).
    Status put(std::string_view bucket, std::string_view key, ByteView data,
               const PutOptions& options = {});
    Result<Object> get(std::string_view bucket, std::string_view key);
    // Up to length bytes from offset: fewer, possibly none, when the object ends first (the
    // caller decides whether a short read is an error). length 0 returns nothing after checking
    // the object exists.
    Result<Bytes> get_range(std::string_view bucket, std::string_view key, uint64_t offset,
                            uint64_t length);
    Result<ObjectMeta> head(std::string_view bucket, std::string_view key);
    // Deletes key. S3 answers success for a missing key too; so does this.
    Status remove(std::string_view bucket, std::string_view key);
    // Calls each() for every object whose key starts with prefix, in key order, page by page
    // (ListObjectsV2 with continuation tokens), stopping at the first non-ok Status it returns.
    // A page that fails after its retries fails the whole listing: callers must not take what
    // each() saw so far for the complete list.
    Status list(std::string_view bucket, std::string_view prefix,
                const std::function<Status(const ListEntry&)>& each);
    Result<std::vector<ListEntry>> list(std::string_view bucket, std::string_view prefix);
    // Creates the bucket (in the client's region). Ok when it exists and is ours already.
    Status create_bucket(std::string_view bucket);
    // True when the bucket exists and we may use it; false when it does not exist.
    Result<bool> bucket_exists(std::string_view bucket);

    const std::string& endpoint() const { return m_options.endpoint; }
    const std::string& region() const { return m_options.region; }

    struct Request;
    struct Response;

private:
    explicit Client(Options options);
    // Runs req, retrying retryable failures. Any HTTP status that is not retryable is returned
    // as a Response for the caller to judge; only transport failures and exhausted retries
    // come back as a Status.
    Result<Response> perform(const Request& req);
    Result<Response> perform_once(const Request& req, void* handle);
    void* acquire_handle();
    void release_handle(void* handle);

    Options m_options;
    std::string m_sigv4;  // "aws:amz:<region>:s3"
    std::mutex m_mu;
    std::condition_variable m_cv;
    std::vector<void*> m_idle;  // CURL* handles keeping their connections open
    unsigned m_in_use = 0;
};

}  // namespace coffer::s3

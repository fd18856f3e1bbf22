// S3Store: a Store on an S3 bucket (AWS, MinIO, Ceph, ...), under an optional key prefix.
//
// Object "packs/ab/<id>" is the key "<prefix>/packs/ab/<id>". S3 PUTs are atomic (a reader
// sees the old object or the new one, never a mix) and durable when they return, which is the
// Store contract for put(); list() pages through ListObjectsV2 and fails rather than return a
// partial list. Keys under the prefix that are not valid store names (a console's "dir/"
// markers, say) are left out of listings.
//
// Not atomic across writers on plain S3 (HEAD, then PUT/DELETE; see put() and remove()):
// - put(create_only) checks with HEAD, then PUTs with If-None-Match: *. Servers that honour the
//   precondition (AWS since 2024, MinIO, Ceph) make it atomic; on others two writers racing
//   on one name may both succeed and the later PUT wins. That is acceptable because coffer
//   names objects by content (packs, index, snapshots: same name, same bytes) or uniquely
//   (keys, locks carry random IDs), so the race has no loser worth protecting. Within one
//   process, calls on one name are serialized, so they have exactly one winner.
// - remove() checks with HEAD so that a missing object is Code::not_found, as the contract
//   asks; a concurrent remover may also see success.
// Retries happen in the S3 client (see s3/client.h); errors that persist come back as
// Code::transient. Thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "coffer/s3/client.h"
#include "coffer/s3/url.h"
#include "coffer/store/store.h"

namespace coffer::store {

class S3Store final : public Store {
public:
    // Opens "s3:http(s)://host[:port]/bucket[/prefix]". Makes no request: a missing bucket or
    // bad credentials show up on the first operation.
    static Result<std::unique_ptr<S3Store>> open(std::string_view url, s3::Options options);
    // As open(), then creates the bucket when it does not exist yet (for `coffer init`).
    static Result<std::unique_ptr<S3Store>> create(std::string_view url, s3::Options options);
    // On a client the caller already has (tests, the s3 source sharing a connection pool).
    S3Store(std::shared_ptr<s3::Client> client, s3::Location location);

    Status put(std::string_view name, ByteView data, PutMode mode) override;
    using Store::put;
    Result<Bytes> get(std::string_view name) override;
    Result<Bytes> get_range(std::string_view name, uint64_t offset, uint64_t length) override;
    Result<ObjectInfo> stat(std::string_view name) override;
    Result<std::vector<ObjectInfo>> list(std::string_view prefix) override;
    Status remove(std::string_view name) override;
    // From HEAD's x-amz-object-lock-retain-until-date (GOVERNANCE or COMPLIANCE alike).
    Result<int64_t> retained_until(std::string_view name) override;
    // PUT replaces atomically; keys are flat strings, not directories.
    Capabilities capabilities() const override { return {true, false}; }
    // "s3:http://host:port/bucket/prefix": no credentials.
    std::string location() const override { return m_location.to_string(); }

    // S3 Object Lock retention for every object written from now on, except locks/ (see
    // docs/cli.md for the bucket setup). mode "GOVERNANCE" or "COMPLIANCE"; days 0 turns it
    // off. Deleting a retained object fails (or, in a versioned bucket, only hides it) until
    // its retention ends; prune must expect that. open() applies the options' object_lock_*.
    void set_object_lock(std::string mode, unsigned days);

    s3::Client& client() { return *m_client; }
    const s3::Location& s3_location() const { return m_location; }

private:
    std::string key_of(std::string_view name) const;
    s3::PutOptions put_options(std::string_view name) const;
    Status put_create_only(std::string_view name, const std::string& key, ByteView data);

    std::shared_ptr<s3::Client> m_client;
    s3::Location m_location;
    std::string m_key_prefix;  // "<prefix>/" or ""
    // Names with a create_only put or a remove in progress in this process.
    std::mutex m_busy_mu;
    std::condition_variable m_busy_cv;
    std::set<std::string, std::less<>> m_busy;
    std::atomic<bool> m_no_conditional_put{false};
    std::string m_lock_mode;
    unsigned m_lock_days = 0;  // the server answered 501 to If-None-Match
};

}  // namespace coffer::store

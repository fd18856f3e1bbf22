#include "coffer/store/s3/s3_store.h"

#include "coffer/s3/xml.h"

#include <ctime>

namespace coffer::store {

namespace {

// Holds a name in S3Store's busy set for the duration of a HEAD-then-write sequence.
class NameGuard {
public:
    NameGuard(std::mutex& mu, std::condition_variable& cv, std::set<std::string, std::less<>>& busy,
              const std::string& name)
        : m_mu(mu), m_cv(cv), m_busy(busy), m_name(name) {
        std::unique_lock lock(m_mu);
        m_cv.wait(lock, [&] { return m_busy.find(m_name) == m_busy.end(); });
        m_busy.insert(m_name);
    }
    ~NameGuard() {
        {
            std::lock_guard lock(m_mu);
            m_busy.erase(m_name);
        }
        m_cv.notify_all();
    }
    NameGuard(const NameGuard&) = delete;
    NameGuard& operator=(const NameGuard&) = delete;

private:
    std::mutex& m_mu;
    std::condition_variable& m_cv;
    std::set<std::string, std::less<>>& m_busy;
    const std::string& m_name;
};

}  // namespace

S3Store::S3Store(std::shared_ptr<s3::Client> client, s3::Location location)
    : m_client(std::move(client)), m_location(std::move(location)) {
    if (!m_location.prefix.empty()) m_key_prefix = m_location.prefix + "/";
}

Result<std::unique_ptr<S3Store>> S3Store::open(std::string_view url, s3::Options options) {
    TRY_ASSIGN(s3::Location loc, s3::parse_url(url));
    options.endpoint = loc.endpoint;
    std::string lock_mode = options.object_lock_mode;
    unsigned lock_days = options.object_lock_days;
    TRY_ASSIGN(auto client, s3::Client::create(std::move(options)));
    auto store =
        std::make_unique<S3Store>(std::shared_ptr<s3::Client>(std::move(client)), std::move(loc));
    store->set_object_lock(lock_mode, lock_days);
    return store;
}

void S3Store::set_object_lock(std::string mode, unsigned days) {
    m_lock_mode = days ? std::move(mode) : std::string();
    m_lock_days = days;
}

s3::PutOptions S3Store::put_options(std::string_view name) const {
    s3::PutOptions o;
    // Locks are the only objects a writer must delete again soon; everything else is kept for
    // the retention period, against a stolen key or a compromised host deleting backups.
    if (!m_lock_mode.empty() && !name.starts_with("locks/")) {
        o.lock_mode = m_lock_mode;
        o.retain_until = static_cast<int64_t>(std::time(nullptr)) + int64_t{m_lock_days} * 86400;
    }
    return o;
}

Result<std::unique_ptr<S3Store>> S3Store::create(std::string_view url, s3::Options options) {
    TRY_ASSIGN(auto store, open(url, std::move(options)));
    TRY_ASSIGN(bool exists, store->m_client->bucket_exists(store->m_location.bucket));
    if (!exists) TRY(store->m_client->create_bucket(store->m_location.bucket));
    return store;
}

std::string S3Store::key_of(std::string_view name) const {
    return m_key_prefix + std::string(name);
}

Status S3Store::put(std::string_view name, ByteView data, PutMode mode) {
    TRY(validate_name(name));
    const std::string key = key_of(name);
    if (mode == PutMode::create_only) {
        NameGuard guard(m_busy_mu, m_busy_cv, m_busy, key);
        return put_create_only(name, key, data);
    }
    return m_client->put(m_location.bucket, key, data, put_options(name));
}

Status S3Store::put_create_only(std::string_view name, const std::string& key, ByteView data) {
    auto head = m_client->head(m_location.bucket, key);
    if (head.ok())
        return already_exists("put " + location() + "/" + std::string(name) + ": object exists");
    if (head.status().code() != Code::not_found) return head.status();
    s3::PutOptions options = put_options(name);
    options.if_none_match = !m_no_conditional_put.load();
    Status st = m_client->put(m_location.bucket, key, data, options);
    if (options.if_none_match && st.code() == Code::io &&
        st.message().find(": 501") != std::string::npos) {
        // The server does not implement conditional PUTs; the HEAD above is all we have.
        m_no_conditional_put = true;
        options.if_none_match = false;
        st = m_client->put(m_location.bucket, key, data, options);
    }
    if (st.code() == Code::already_exists) {
        // A retried PUT can find its own first attempt in place: that is success, not a lost
        // race. Equal bytes under one name are the same object either way.
        auto existing = m_client->get(m_location.bucket, key);
        if (existing.ok() && existing->data.size() == data.size() &&
            std::equal(data.begin(), data.end(), existing->data.begin()))
            return ok_status();
        return already_exists("put " + location() + "/" + std::string(name) + ": object exists");
    }
    return st;
}

Result<Bytes> S3Store::get(std::string_view name) {
    TRY(validate_name(name));
    TRY_ASSIGN(s3::Object obj, m_client->get(m_location.bucket, key_of(name)));
    return std::move(obj.data);
}

Result<Bytes> S3Store::get_range(std::string_view name, uint64_t offset, uint64_t length) {
    TRY(validate_name(name));
    const std::string key = key_of(name);
    auto past_end = [&](const std::string& detail) {
        return corruption("read " + location() + "/" + std::string(name) + ": range " +
                          std::to_string(offset) + "+" + std::to_string(length) +
                          " is past the end of the object" + detail);
    };
    if (length > UINT64_MAX - offset) {
        TRY(m_client->head(m_location.bucket, key).status());
        return past_end("");
    }
    if (length == 0) {
        TRY_ASSIGN(s3::ObjectMeta meta, m_client->head(m_location.bucket, key));
        if (offset > meta.size) return past_end(" (" + std::to_string(meta.size) + " bytes)");
        return Bytes{};
    }
    TRY_ASSIGN(Bytes data, m_client->get_range(m_location.bucket, key, offset, length));
    // A short read is never success.
    if (data.size() != length) return past_end(" (got " + std::to_string(data.size()) + " bytes)");
    return data;
}

Result<ObjectInfo> S3Store::stat(std::string_view name) {
    TRY(validate_name(name));
    TRY_ASSIGN(s3::ObjectMeta meta, m_client->head(m_location.bucket, key_of(name)));
    return ObjectInfo{std::string(name), meta.size};
}

Result<std::vector<ObjectInfo>> S3Store::list(std::string_view prefix) {
    // The same rules as the local store: the directory part of the prefix must be a valid name.
    if (size_t slash = prefix.rfind('/'); slash != std::string_view::npos)
        TRY(validate_name(prefix.substr(0, slash))
                .with_context("invalid list prefix \"" + std::string(prefix) + "\""));
    if (prefix.find('\0') != std::string_view::npos || prefix.find('\\') != std::string_view::npos)
        return invalid_argument("invalid list prefix \"" + std::string(prefix) + "\"");
    std::vector<ObjectInfo> out;
    TRY(m_client->list(m_location.bucket, key_of(prefix), [&](const s3::ListEntry& e) {
        std::string_view name = std::string_view(e.key).substr(m_key_prefix.size());
        if (validate_name(name).ok())
            out.push_back({std::string(name), e.size, e.last_modified_ns});
        return ok_status();
    }));
    return out;
}

Result<int64_t> S3Store::retained_until(std::string_view name) {
    TRY(validate_name(name));
    TRY_ASSIGN(s3::ObjectMeta meta, m_client->head(m_location.bucket, key_of(name)));
    if (meta.retain_until.empty()) return int64_t{0};
    auto until = s3::xml::parse_timestamp(meta.retain_until);
    if (!until.ok())
        return corruption("object " + std::string(name) + ": the server's retain-until date \"" +
                          meta.retain_until.substr(0, 40) + "\" is not ISO 8601");
    return *until;
}

Status S3Store::remove(std::string_view name) {
    TRY(validate_name(name));
    const std::string key = key_of(name);
    NameGuard guard(m_busy_mu, m_busy_cv, m_busy, key);
    // S3 deletes a missing key "successfully"; the contract wants not_found.
    TRY(m_client->head(m_location.bucket, key).status());
    return m_client->remove(m_location.bucket, key);
}

}  // namespace coffer::store

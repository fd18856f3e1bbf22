#include "coffer/s3/client.h"

#include <curl/curl.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <random>
#include <thread>

#include "coffer/crypto/crypto.h"
#include "coffer/s3/url.h"
#include "coffer/s3/xml.h"

namespace coffer::s3 {

struct Client::Request {
    const char* method = "GET";
    std::string bucket;
    std::string key;  // empty for bucket-level requests
    std::vector<std::pair<std::string, std::string>> query;
    std::vector<std::string> headers;  // "Name: value"
    ByteView body;
    bool nobody = false;  // HEAD: no response body
    // "PUT bucket/key", for messages.
    std::string what() const {
        return std::string("s3 ") + method + " " + bucket + (key.empty() ? "" : "/" + key);
    }
};

struct Client::Response {
    long status = 0;
    std::map<std::string, std::string> headers;  // lower-case names
    Bytes body;

    std::string header(const std::string& name) const {
        auto it = headers.find(name);
        return it == headers.end() ? std::string() : it->second;
    }
};

namespace {

constexpr std::string_view k_empty_sha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

std::string base64(ByteView data) {
    static constexpr char k_alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    size_t i = 0;
    for (; i + 2 < data.size(); i += 3) {
        uint32_t v = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8) | data[i + 2];
        for (int s = 18; s >= 0; s -= 6) out += k_alphabet[(v >> s) & 63];
    }
    if (i + 1 == data.size()) {
        uint32_t v = uint32_t{data[i]} << 16;
        out += k_alphabet[(v >> 18) & 63];
        out += k_alphabet[(v >> 12) & 63];
        out += "==";
    } else if (i + 2 == data.size()) {
        uint32_t v = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8);
        out += k_alphabet[(v >> 18) & 63];
        out += k_alphabet[(v >> 12) & 63];
        out += k_alphabet[(v >> 6) & 63];
        out += '=';
    }
    return out;
}

std::string env_or(const std::string& value, const char* name) {
    if (!value.empty()) return value;
    const char* v = std::getenv(name);
    return v ? std::string(v) : std::string();
}

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::string trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() &&
           (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
        s.remove_suffix(1);
    return std::string(s);
}

bool parse_u64(std::string_view s, uint64_t& out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

// Transport failures worth another try: the server or the path to it may recover.
bool retryable_curl(CURLcode rc) {
    switch (rc) {
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_CONNECT:
        case CURLE_WEIRD_SERVER_REPLY:
        case CURLE_HTTP2:
        case CURLE_PARTIAL_FILE:
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_HTTP2_STREAM:
            return true;
        default:
            return false;
    }
}

// HTTP answers worth another try. S3 reports some transient conditions as 400: a request body
// that arrived too slowly (RequestTimeout) or damaged (BadDigest, XAmzContentSHA256Mismatch,
// IncompleteBody); a resend fixes those.
bool retryable_http(long status, const std::string& code) {
    if (status == 501) return false;  // NotImplemented: asking again will not help
    if (status >= 500 || status == 429) return true;
    if (status == 400)
        return code == "RequestTimeout" || code == "BadDigest" ||
               code == "XAmzContentSHA256Mismatch" || code == "IncompleteBody";
    if (status == 409) return code == "OperationAborted" || code == "ConditionalRequestConflict";
    return false;
}

// "s3 PUT bucket/key: 403 AccessDenied: Access Denied". Only the status, S3's error code and
// its message: the request itself (and so the credentials) never goes into a message.
Status http_error(const std::string& what, const Client::Response& r) {
    xml::Error e = xml::parse_error(as_chars(r.body));
    std::string msg = what + ": " + std::to_string(r.status);
    if (!e.code.empty()) msg += " " + e.code;
    if (!e.message.empty()) msg += ": " + e.message;
    if (e.code.empty() && e.message.empty()) {
        switch (r.status) {
            case 403:
                msg += " Forbidden";
                break;
            case 404:
                msg += " Not Found";
                break;
            case 412:
                msg += " Precondition Failed";
                break;
            case 416:
                msg += " Range Not Satisfiable";
                break;
            default:
                break;
        }
    }
    for (char& c : msg)
        if (c == '\n' || c == '\r') c = ' ';
    switch (r.status) {
        case 404:
            return not_found(msg);
        case 401:
        case 403:
            return permission_denied(msg);
        case 412:
            return already_exists(msg);
        case 416:
            return corruption(msg);
        case 409:
            if (e.code == "BucketAlreadyExists") return already_exists(msg);
            return io_error(msg);
        case 400:
            if (e.code == "ExpiredToken" || e.code == "InvalidToken" ||
                e.code == "AuthorizationHeaderMalformed")
                return permission_denied(msg);
            return invalid_argument(msg);
        default:
            if (retryable_http(r.status, e.code)) return transient_error(msg);
            return io_error(msg);
    }
}

size_t write_body(char* data, size_t size, size_t n, void* user) {
    auto* body = static_cast<Bytes*>(user);
    body->insert(body->end(), reinterpret_cast<uint8_t*>(data),
                 reinterpret_cast<uint8_t*>(data) + size * n);
    return size * n;
}

// Collects response headers. Stops the transfer at a 206 whose Content-Range starts past the
// end of the object: s3rver answers such a range with "Content-Range: bytes 0-0/0" and a
// Content-Length of 1 but sends no body, so waiting for it would stall (S3 answers 416).
struct HeaderSink {
    std::map<std::string, std::string>* headers;
    bool partial = false;   // the status line said 206
    bool past_end = false;  // ... and the range starts past the end of the object
};

bool range_past_end(std::string_view cr);

size_t write_header(char* data, size_t size, size_t n, void* user) {
    auto* sink = static_cast<HeaderSink*>(user);
    std::string_view line(data, size * n);
    if (line.starts_with("HTTP/")) {
        sink->headers->clear();  // a new response (after 100 Continue, say) starts over
        size_t sp = line.find(' ');
        sink->partial = sp != std::string_view::npos && line.substr(sp + 1).starts_with("206");
    } else if (size_t colon = line.find(':'); colon != std::string_view::npos) {
        std::string name = lower(std::string(line.substr(0, colon)));
        std::string value = trim(line.substr(colon + 1));
        if (sink->partial && name == "content-range" && range_past_end(value)) {
            sink->past_end = true;
            return 0;  // aborts the transfer
        }
        (*sink->headers)[name] = std::move(value);
    }
    return size * n;
}

struct UploadCursor {
    ByteView data;
    size_t offset = 0;
};

size_t read_body(char* out, size_t size, size_t n, void* user) {
    auto* c = static_cast<UploadCursor*>(user);
    size_t len = std::min(size * n, c->data.size() - c->offset);
    if (len) std::memcpy(out, c->data.data() + c->offset, len);
    c->offset += len;
    return len;
}

int seek_body(void* user, curl_off_t offset, int origin) {
    auto* c = static_cast<UploadCursor*>(user);
    if (origin != SEEK_SET || offset < 0 || static_cast<uint64_t>(offset) > c->data.size())
        return CURL_SEEKFUNC_CANTSEEK;
    c->offset = static_cast<size_t>(offset);
    return CURL_SEEKFUNC_OK;
}

struct HeaderList {
    curl_slist* list = nullptr;
    ~HeaderList() { curl_slist_free_all(list); }
    bool add(const std::string& h) {
        curl_slist* next = curl_slist_append(list, h.c_str());
        if (!next) return false;
        list = next;
        return true;
    }
};

// Full jitter: a random delay in [0, min(max, initial * 2^(attempt-1))], so that many clients
// failing together do not retry together.
std::chrono::milliseconds backoff(const Options& o, unsigned attempt) {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    auto cap = o.initial_backoff.count();
    for (unsigned i = 1; i < attempt && cap < o.max_backoff.count(); ++i) cap *= 2;
    cap = std::min<long long>(cap, o.max_backoff.count());
    if (cap <= 0) return std::chrono::milliseconds(0);
    std::uniform_int_distribution<long long> dist(cap / 2, cap);  // never retry instantly
    return std::chrono::milliseconds(dist(rng));
}

bool valid_meta_name(std::string_view n) {
    return !n.empty() && std::all_of(n.begin(), n.end(), [](char c) {
        // '.' too: it is a valid header-name character and buckets do carry such names.
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    });
}

bool valid_meta_value(std::string_view v) {
    return std::all_of(v.begin(), v.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

ObjectMeta meta_from(const Client::Response& r) {
    ObjectMeta m;
    parse_u64(r.header("content-length"), m.size);
    m.etag = r.header("etag");
    if (m.etag.size() >= 2 && m.etag.front() == '"' && m.etag.back() == '"')
        m.etag = m.etag.substr(1, m.etag.size() - 2);
    m.content_type = r.header("content-type");
    for (const auto& [name, value] : r.headers)
        if (name.starts_with("x-amz-meta-")) m.metadata[name.substr(11)] = value;
    m.lock_mode = r.header("x-amz-object-lock-mode");
    m.retain_until = r.header("x-amz-object-lock-retain-until-date");
    return m;
}

// True for "bytes <first>-<last>/<size>" with first >= size: a range that starts past the end.
bool range_past_end(std::string_view cr) {
    if (!cr.starts_with("bytes ")) return false;
    cr.remove_prefix(6);
    size_t dash = cr.find('-'), slash = cr.find('/');
    if (dash == std::string_view::npos || slash == std::string_view::npos || slash < dash)
        return false;
    uint64_t first = 0, size = 0;
    return parse_u64(cr.substr(0, dash), first) && parse_u64(cr.substr(slash + 1), size) &&
           first >= size;
}

void global_init() {
    static const CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    (void)rc;  // a failure shows up as curl_easy_init() returning null
}

}  // namespace

Client::Client(Options options) : m_options(std::move(options)) {
    m_sigv4 = "aws:amz:" + m_options.region + ":s3";
}

Client::~Client() {
    for (void* h : m_idle) curl_easy_cleanup(static_cast<CURL*>(h));
}

Result<std::unique_ptr<Client>> Client::create(Options o) {
    if (!(o.endpoint.starts_with("http://") || o.endpoint.starts_with("https://")) ||
        o.endpoint.find('@') != std::string::npos)
        return invalid_argument("S3 endpoint \"" + o.endpoint.substr(0, 200) +
                                "\" is not http(s)://host[:port]");
    while (o.endpoint.ends_with('/')) o.endpoint.pop_back();
    o.access_key_id = env_or(o.access_key_id, "AWS_ACCESS_KEY_ID");
    o.secret_access_key = env_or(o.secret_access_key, "AWS_SECRET_ACCESS_KEY");
    o.session_token = env_or(o.session_token, "AWS_SESSION_TOKEN");
    o.region = env_or(o.region, "AWS_DEFAULT_REGION");
    if (o.region.empty()) o.region = "us-east-1";
    if (o.access_key_id.empty() || o.secret_access_key.empty())
        return permission_denied(
            "no S3 credentials for " + o.endpoint +
            ": set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or access_key_id and "
            "secret_access_key in the configuration)");
    // The region goes into the signing scope string, whose fields are ':'-separated.
    if (o.region.find_first_of(": \r\n") != std::string::npos)
        return invalid_argument("S3 region \"" + o.region + "\" is not valid");
    if (o.connections == 0) o.connections = 1;
    if (o.max_attempts == 0) o.max_attempts = 1;
    TRY(crypto::init());
    global_init();
    return std::unique_ptr<Client>(new Client(std::move(o)));
}

void* Client::acquire_handle() {
    std::unique_lock lock(m_mu);
    m_cv.wait(lock, [&] { return m_in_use < m_options.connections; });
    ++m_in_use;
    if (!m_idle.empty()) {
        void* h = m_idle.back();
        m_idle.pop_back();
        return h;
    }
    lock.unlock();
    CURL* h = curl_easy_init();
    if (!h) {
        lock.lock();
        --m_in_use;
        m_cv.notify_one();
    }
    return h;
}

void Client::release_handle(void* handle) {
    {
        std::lock_guard lock(m_mu);
        --m_in_use;
        if (handle) m_idle.push_back(handle);
    }
    m_cv.notify_one();
}

Result<Client::Response> Client::perform_once(const Request& req, void* handle) {
    CURL* h = static_cast<CURL*>(handle);
    curl_easy_reset(h);  // keeps the connection cache, drops every option

    std::string url = m_options.endpoint + "/" + uri_encode(req.bucket, false);
    if (!req.key.empty()) url += "/" + uri_encode(req.key, true);
    if (!req.query.empty()) url += "?" + canonical_query(req.query);

    HeaderList headers;
    bool ok = headers.add("Expect:");  // no 100-continue round trip before each upload
    std::string sha =
        req.body.empty() ? std::string(k_empty_sha256) : crypto::sha256(req.body).hex();
    // Signed by curl like every x-amz-* header, and checked by the server against the body.
    ok = ok && headers.add("x-amz-content-sha256: " + sha);
    if (!m_options.session_token.empty())
        ok = ok && headers.add("x-amz-security-token: " + m_options.session_token);
    for (const auto& hdr : req.headers) ok = ok && headers.add(hdr);
    if (!ok) return internal_error(req.what() + ": out of memory");

    Response resp;
    char errbuf[CURL_ERROR_SIZE] = {};
    UploadCursor cursor{req.body, 0};
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    // Keys may contain "." and ".." segments; without this curl would squash them and address
    // another object (outside a prefix, even).
    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!m_options.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, m_options.ca_file.c_str());
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(m_options.connect_timeout.count() * 1000));
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, static_cast<long>(m_options.stall_timeout.count()));
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, m_sigv4.c_str());
    curl_easy_setopt(h, CURLOPT_USERNAME, m_options.access_key_id.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, m_options.secret_access_key.c_str());
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.list);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp.body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, write_header);
    HeaderSink sink{&resp.headers};
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &sink);
    if (std::strcmp(req.method, "PUT") == 0) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, read_body);
        curl_easy_setopt(h, CURLOPT_READDATA, &cursor);
        curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, seek_body);
        curl_easy_setopt(h, CURLOPT_SEEKDATA, &cursor);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
    } else if (req.nobody) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (std::strcmp(req.method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method);
    }

    CURLcode rc = curl_easy_perform(h);
    if (sink.past_end) {
        resp.status = 416;
        resp.body.clear();
        return resp;
    }
    if (rc != CURLE_OK) {
        std::string detail = errbuf[0] ? std::string(errbuf) : curl_easy_strerror(rc);
        std::string msg = req.what() + ": " + detail;
        return retryable_curl(rc) ? transient_error(msg) : io_error(msg);
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp.status);
    // curl catches a body cut short of its Content-Length when the connection closes; this also
    // catches one the server itself miscounted.
    uint64_t declared = 0;
    if (!req.nobody && parse_u64(resp.header("content-length"), declared) &&
        declared != resp.body.size())
        return transient_error(req.what() + ": response body has " +
                               std::to_string(resp.body.size()) + " bytes, Content-Length says " +
                               std::to_string(declared));
    return resp;
}

Result<Client::Response> Client::perform(const Request& req) {
    Status last;
    for (unsigned attempt = 1; attempt <= m_options.max_attempts; ++attempt) {
        if (attempt > 1) std::this_thread::sleep_for(backoff(m_options, attempt - 1));
        void* h = acquire_handle();
        if (!h) return internal_error(req.what() + ": cannot create a curl handle");
        auto r = perform_once(req, h);
        // A handle whose transfer failed may hold a broken connection; curl discards those
        // itself, so the handle is always reusable.
        release_handle(h);
        if (!r.ok()) {
            last = r.status();
            if (last.code() != Code::transient) return last;
            continue;
        }
        if (r->status >= 300) {
            xml::Error e = xml::parse_error(as_chars(r->body));
            if (retryable_http(r->status, e.code)) {
                last = http_error(req.what(), *r);
                continue;
            }
        }
        return r;
    }
    return transient_error(last.message() + " (gave up after " +
                           std::to_string(m_options.max_attempts) + " attempts)");
}

Status Client::put(std::string_view bucket, std::string_view key, ByteView data,
                   const PutOptions& options) {
    Request req;
    req.method = "PUT";
    req.bucket = bucket;
    req.key = key;
    req.body = data;
    if (key.empty()) return invalid_argument(req.what() + ": empty key");
    req.headers.push_back("Content-MD5: " + base64(crypto::md5(data)));
    req.headers.push_back("Content-Type: " + options.content_type);
    for (const auto& [name, value] : options.metadata) {
        if (!valid_meta_name(name) || !valid_meta_value(value))
            return invalid_argument(req.what() + ": metadata \"" + name.substr(0, 64) +
                                    "\" needs a name of a-z, 0-9, '-', '_' and a printable "
                                    "ASCII value");
        req.headers.push_back("x-amz-meta-" + name + ": " + value);
    }
    if (options.if_none_match) req.headers.push_back("If-None-Match: *");
    if (!options.lock_mode.empty()) {
        if (options.lock_mode != "GOVERNANCE" && options.lock_mode != "COMPLIANCE")
            return invalid_argument(req.what() +
                                    ": object lock mode must be GOVERNANCE or "
                                    "COMPLIANCE");
        char until[32];
        time_t t = static_cast<time_t>(options.retain_until);
        struct tm tm {};
        gmtime_r(&t, &tm);
        strftime(until, sizeof until, "%Y-%m-%dT%H:%M:%SZ", &tm);
        req.headers.push_back("x-amz-object-lock-mode: " + options.lock_mode);
        req.headers.push_back(std::string("x-amz-object-lock-retain-until-date: ") + until);
    }
    TRY_ASSIGN(Response r, perform(req));
    if (r.status / 100 != 2) return http_error(req.what(), r);
    return ok_status();
}

Result<Object> Client::get(std::string_view bucket, std::string_view key) {
    Request req;
    req.bucket = bucket;
    req.key = key;
    TRY_ASSIGN(Response r, perform(req));
    if (r.status != 200) return http_error(req.what(), r);
    Object obj;
    obj.meta = meta_from(r);
    obj.data = std::move(r.body);
    obj.meta.size = obj.data.size();
    return obj;
}

Result<Bytes> Client::get_range(std::string_view bucket, std::string_view key, uint64_t offset,
                                uint64_t length) {
    if (length == 0) {
        TRY(head(bucket, key).status());
        return Bytes{};
    }
    Request req;
    req.bucket = bucket;
    req.key = key;
    uint64_t last = length - 1 > UINT64_MAX - offset ? UINT64_MAX : offset + length - 1;
    req.headers.push_back("Range: bytes=" + std::to_string(offset) + "-" + std::to_string(last));
    TRY_ASSIGN(Response r, perform(req));
    if (r.status == 416) return Bytes{};  // the object ends before offset
    if (r.status == 200) {
        // The server ignored Range and sent the whole object: cut the range out of it.
        if (offset >= r.body.size()) return Bytes{};
        size_t end = static_cast<size_t>(std::min<uint64_t>(last + 1, r.body.size()));
        return Bytes(r.body.begin() + static_cast<ptrdiff_t>(offset),
                     r.body.begin() + static_cast<ptrdiff_t>(end));
    }
    if (r.status != 206) return http_error(req.what(), r);
    // Content-Range: bytes <first>-<last>/<size>; a server answering another range than the one
    // asked for would otherwise hand back the wrong bytes.
    std::string cr = r.header("content-range");
    std::string expect = "bytes " + std::to_string(offset) + "-";
    if (!cr.starts_with(expect))
        return corruption(req.what() + ": asked for bytes from " + std::to_string(offset) +
                          ", server sent Content-Range \"" + cr.substr(0, 80) + "\"");
    if (r.body.size() > length) r.body.resize(static_cast<size_t>(length));
    return std::move(r.body);
}

Result<ObjectMeta> Client::head(std::string_view bucket, std::string_view key) {
    Request req;
    req.method = "HEAD";
    req.nobody = true;
    req.bucket = bucket;
    req.key = key;
    TRY_ASSIGN(Response r, perform(req));
    if (r.status != 200) return http_error(req.what(), r);
    return meta_from(r);
}

Status Client::remove(std::string_view bucket, std::string_view key) {
    Request req;
    req.method = "DELETE";
    req.bucket = bucket;
    req.key = key;
    if (key.empty()) return invalid_argument(req.what() + ": empty key");
    TRY_ASSIGN(Response r, perform(req));
    if (r.status / 100 != 2) return http_error(req.what(), r);
    return ok_status();
}

Status Client::list(std::string_view bucket, std::string_view prefix,
                    const std::function<Status(const ListEntry&)>& each) {
    std::string token;
    for (uint64_t page_no = 1;; ++page_no) {
        Request req;
        req.bucket = bucket;
        req.query = {{"list-type", "2"}, {"encoding-type", "url"}};
        if (!prefix.empty()) req.query.emplace_back("prefix", std::string(prefix));
        if (!token.empty()) req.query.emplace_back("continuation-token", token);
        std::string what = req.what() + " (list \"" + std::string(prefix) + "\", page " +
                           std::to_string(page_no) + ")";
        auto r = perform(req);
        if (!r.ok()) return Status(r.status().code(), what + ": " + r.status().message());
        if (r->status != 200) return http_error(what, *r);
        auto page = xml::parse_list_page(as_chars(r->body));
        if (!page.ok()) return page.status().with_context(what);
        for (const auto& e : page->entries) {
            // A listing answers for the prefix asked; anything else means a confused server.
            if (!e.key.starts_with(prefix))
                return corruption(what + ": server listed \"" + e.key.substr(0, 200) +
                                  "\", which is outside the prefix");
            TRY(each(ListEntry{e.key, e.size, e.etag, e.last_modified_ns}));
        }
        if (!page->truncated) return ok_status();
        if (page->next_token.empty() || page->next_token == token)
            return corruption(what + ": the page is truncated but has no new continuation token");
        token = std::move(page->next_token);
    }
}

Result<std::vector<ListEntry>> Client::list(std::string_view bucket, std::string_view prefix) {
    std::vector<ListEntry> out;
    TRY(list(bucket, prefix, [&](const ListEntry& e) {
        out.push_back(e);
        return ok_status();
    }));
    return out;
}

Status Client::create_bucket(std::string_view bucket) {
    Request req;
    req.method = "PUT";
    req.bucket = bucket;
    // us-east-1 is the default location and AWS rejects it spelled out.
    std::string body;
    if (m_options.region != "us-east-1")
        body =
            "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
            "<LocationConstraint>" +
            m_options.region + "</LocationConstraint></CreateBucketConfiguration>";
    req.body = as_bytes(body);
    TRY_ASSIGN(Response r, perform(req));
    if (r.status / 100 == 2) return ok_status();
    if (r.status == 409) {
        std::string code = xml::parse_error(as_chars(r.body)).code;
        if (code == "BucketAlreadyOwnedByYou") return ok_status();
        // s3rver (and some older servers) say BucketAlreadyExists for a bucket of our own;
        // only if we can use it is it ours.
        if (code == "BucketAlreadyExists") {
            auto usable = bucket_exists(bucket);
            if (usable.ok() && *usable) return ok_status();
        }
    }
    return http_error(req.what(), r);
}

Result<bool> Client::bucket_exists(std::string_view bucket) {
    Request req;
    req.method = "HEAD";
    req.nobody = true;
    req.bucket = bucket;
    TRY_ASSIGN(Response r, perform(req));
    if (r.status == 200) return true;
    if (r.status == 404) return false;
    return http_error(req.what(), r);
}

}  // namespace coffer::s3

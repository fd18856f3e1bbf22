#include "coffer/drill/checks.h"

#include <sqlite3.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>

#include <curl/curl.h>

#include "coffer/crypto/crypto.h"
#include "coffer/source/pg.h"
#include "coffer/source/process.h"
#include "coffer/util/file.h"
#include "coffer/util/text.h"

namespace coffer::drill {

namespace {

std::string env_name(const std::string& source) {
    std::string out;
    for (unsigned char c : source) out += std::isalnum(c) ? char(std::toupper(c)) : '_';
    return out;
}

std::string basename_of(const std::string& path) {
    size_t slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string scratch_path(const config::SourceConfig& src, const Scratch& s) {
    std::string dir = s.dir + "/" + src.name;
    return src.type == config::SourceType::sqlite ? dir + "/" + basename_of(src.path) : dir;
}

Result<std::string> sqlite_value(const std::string& path, const std::string& sql) {
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
        std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
        sqlite3_close(db);
        return io_error("open " + path + ": " + msg);
    }
    sqlite3_stmt* st = nullptr;
    std::string out;
    Status status;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
        status = invalid_argument(sqlite3_errmsg(db));
    } else {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            const unsigned char* v = sqlite3_column_text(st, 0);
            out = v ? reinterpret_cast<const char*>(v) : "";
        } else if (rc != SQLITE_DONE) {
            status = invalid_argument(sqlite3_errmsg(db));
        }
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    if (!status.ok()) return status;
    return out;
}

Result<std::string> postgres_value(const config::SourceConfig& src, const std::string& database,
                                   const std::string& sql) {
    TRY_ASSIGN(source::pg::Target target, source::pg::parse_dsn(src.drill_dsn_or_dsn()));
    TRY_ASSIGN(auto conn, source::pg::Conn::open(target, database));
    TRY_ASSIGN(auto rows, conn->query(sql));
    return rows.empty() || rows[0].empty() ? std::string() : rows[0][0];
}

size_t discard(char*, size_t size, size_t n, void*) {
    return size * n;
}

// The URL for the report: without user info (user:password@) or query, which may hold tokens.
std::string shown_url(const std::string& url) {
    std::string out = url.substr(0, url.find_first_of("?#"));
    size_t scheme = out.find("://");
    size_t host = scheme == std::string::npos ? 0 : scheme + 3;
    size_t at = out.find('@', host), slash = out.find('/', host);
    if (at != std::string::npos && (slash == std::string::npos || at < slash))
        out.erase(host, at + 1 - host);
    return out;
}

CheckResult http_check(const config::DrillCheck& c) {
    CheckResult r{c.name, false, ""};
    CURL* curl = curl_easy_init();
    if (!curl) {
        r.detail = "curl_easy_init failed";
        return r;
    }
    curl_easy_setopt(curl, CURLOPT_URL, c.http.c_str());
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    CURLcode rc = CURLE_OK;
    // ca_file replaces the system's CAs: without clearing CAPATH, curl would trust both.
    if (!c.ca_file.empty()) rc = curl_easy_setopt(curl, CURLOPT_CAINFO, c.ca_file.c_str());
    if (!c.ca_file.empty() && rc == CURLE_OK)
        rc = curl_easy_setopt(curl, CURLOPT_CAPATH, static_cast<const char*>(nullptr));
    if (rc == CURLE_OK) rc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(curl);
    if (rc != CURLE_OK) {
        r.detail = "GET " + shown_url(c.http) + " failed: " + curl_easy_strerror(rc);
        return r;
    }
    r.ok = status == c.expect_status;
    r.detail = "GET " + shown_url(c.http) + ": " + std::to_string(status) +
               (r.ok ? "" : ", expected " + std::to_string(c.expect_status));
    return r;
}

// The restored copy of a live path below root, each component opened with O_NOFOLLOW: a key
// backed up as a symlink would otherwise lead out of the scratch copy to the live key.
Result<SecretBytes> read_restored_secret(const std::string& root, const std::string& live_path) {
    int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return errno_status("open " + root, errno);
    size_t pos = 1;
    while (pos < live_path.size()) {
        size_t end = live_path.find('/', pos);
        bool last = end == std::string::npos;
        std::string part = live_path.substr(pos, last ? std::string::npos : end - pos);
        int next = ::openat(fd, part.c_str(),
                            O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (last ? 0 : O_DIRECTORY));
        int err = errno;
        ::close(fd);
        if (next < 0)
            return err == ELOOP || err == ENOTDIR
                       ? invalid_argument("'" + part +
                                          "' is a symlink in the backup, not the key itself")
                       : errno_status("open " + part, err);
        fd = next;
        pos = last ? live_path.size() : end + 1;
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (1 << 20)) {
        ::close(fd);
        return invalid_argument("not a regular file of at most 1 MiB");
    }
    SecretBytes out(static_cast<size_t>(st.st_size));
    size_t got = 0;
    while (got < out.size()) {
        ssize_t n = ::read(fd, out.data() + got, out.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += static_cast<size_t>(n);
    }
    ::close(fd);
    if (got != out.size()) return io_error("short read");
    return out;
}

CheckResult decrypt_check(const config::DrillCheck& c, const config::SourceConfig& source,
                          const Scratch& scratch) {
    CheckResult r{c.name, false, ""};
    auto key_file = read_restored_secret(scratch_path(source, scratch), c.key_file);
    if (!key_file.ok()) {
        r.detail = "the restored key file " + c.key_file +
                   " is not readable: " + key_file.status().message();
        return r;
    }
    auto key = crypto::key_from_text(key_file->view());
    if (!key) {
        r.detail = "the restored key file " + c.key_file + " " + std::string(k_key_formats);
        return r;
    }
    auto canary = read_file(c.decrypt);
    if (!canary.ok()) {
        r.detail = "canary " + c.decrypt + ": " + canary.status().message();
        return r;
    }
    if (canary->size() < crypto::k_gcm_nonce_size + crypto::k_gcm_tag_size) {
        r.detail = "canary " + c.decrypt + " is too short for nonce, ciphertext and tag";
        return r;
    }
    ByteView all(*canary);
    auto plain = crypto::aes_gcm_open(key->view(), all.first(crypto::k_gcm_nonce_size), {},
                                      all.subspan(crypto::k_gcm_nonce_size));
    if (!plain.ok()) {
        r.detail = "canary " + c.decrypt + " does not decrypt with the restored key " + c.key_file +
                   " (wrong or damaged key material)";
        return r;
    }
    std::string text(as_chars(*plain));
    // The plaintext is a canary, not a secret: it may be named in the report.
    r.ok = text == c.expect;
    r.detail = r.ok ? "canary decrypts with the restored key " + c.key_file
                    : "canary decrypts, but to '" + printable_excerpt(text, 40) +
                          "', not the expected text";
    return r;
}

bool as_number(const std::string& s, double& out) {
    if (s.empty()) return false;
    char* end = nullptr;
    out = std::strtod(s.c_str(), &end);
    return end && *end == '\0';
}

}  // namespace

std::vector<std::string> scratch_environment(const config::SetConfig& set, const Scratch& s) {
    std::vector<std::string> env = {"COFFER_DRILL_DIR=" + s.dir};
    for (const auto& src : set.sources) {
        std::string key = "COFFER_DRILL_" + env_name(src.name);
        auto db = s.databases.find(src.name);
        auto prefix = s.prefixes.find(src.name);
        if (prefix != s.prefixes.end()) {
            env.push_back(key + "_URL=" + prefix->second);
        } else if (db != s.databases.end()) {
            if (auto target = source::pg::parse_dsn(src.drill_dsn_or_dsn()); target.ok()) {
                env.push_back(key + "_DSN=" + target->conninfo(db->second));
                if (!target->password.empty()) env.push_back("PGPASSWORD=" + target->password);
            }
        } else {
            env.push_back(key + "_PATH=" + scratch_path(src, s));
        }
    }
    return env;
}

bool expectation_met(const std::string& expect, const std::string& result, std::string& why) {
    std::string e = expect;
    while (!e.empty() && e.front() == ' ') e.erase(0, 1);
    std::string op = "=";
    for (const char* candidate : {"<=", ">=", "!=", "==", "<", ">", "="})
        if (e.rfind(candidate, 0) == 0) {
            op = candidate == std::string("==") ? "=" : candidate;
            e = e.substr(std::string(candidate).size());
            break;
        }
    while (!e.empty() && e.front() == ' ') e.erase(0, 1);
    double a = 0, b = 0;
    bool numeric = as_number(result, a) && as_number(e, b);
    bool met = false;
    if (numeric) {
        met = op == "="    ? a == b
              : op == "!=" ? a != b
              : op == "<"  ? a < b
              : op == "<=" ? a <= b
              : op == ">"  ? a > b
                           : a >= b;
    } else if (op == "=" || op == "!=") {
        met = (result == e) == (op == "=");
    } else {
        why = "'" + printable_excerpt(result, 60) + "' is not a number to compare with " + op;
        return false;
    }
    why = "'" + printable_excerpt(result, 60) + "', expected " + op + " " + e;
    return met;
}

std::vector<CheckResult> run_checks(const config::SetConfig& set, const Scratch& scratch) {
    std::vector<CheckResult> out;
    const auto env = scratch_environment(set, scratch);
    for (const auto& c : set.drill_checks) {
        CheckResult r{c.name, false, ""};
        if (!c.sql.empty()) {
            const config::SourceConfig* src = set.find_source(c.source);
            Result<std::string> value = not_found("source '" + c.source + "' is not in the set");
            if (src && src->type == config::SourceType::postgres) {
                auto db = scratch.databases.find(src->name);
                value = db == scratch.databases.end()
                            ? Result<std::string>(not_found("no scratch database"))
                            : postgres_value(*src, db->second, c.sql);
            } else if (src) {
                value = sqlite_value(scratch_path(*src, scratch), c.sql);
            }
            if (!value.ok())
                r.detail = "query failed: " + value.status().message();
            else
                r.ok = expectation_met(c.expect.empty() ? "!= " : c.expect, *value, r.detail);
        } else if (!c.command.empty()) {
            Status st = source::run_command(c.command, "drill check '" + c.name + "'", env);
            r.ok = st.ok();
            r.detail = st.ok() ? "exit status 0" : st.message();
        } else if (!c.decrypt.empty()) {
            const config::SourceConfig* src = set.find_source(c.source);
            if (src)
                r = decrypt_check(c, *src, scratch);
            else
                r.detail = "source '" + c.source + "' is not in the set";
        } else {
            r = http_check(c);
        }
        out.push_back(std::move(r));
    }
    return out;
}

}  // namespace coffer::drill

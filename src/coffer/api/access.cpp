#include "coffer/api/access.h"

#include <sodium.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <cctype>
#include <chrono>

#include "coffer/crypto/crypto.h"
#include "coffer/server/sqlite.h"
#include "coffer/util/file.h"

namespace coffer::api {

namespace {

using server::Stmt;

constexpr const char* k_what = "access database";
constexpr std::string_view k_token_prefix = "coffer_";
constexpr size_t k_token_id_hex = 12;
constexpr size_t k_token_secret_bytes = 32;
constexpr size_t k_min_password = 12;

constexpr const char* k_schema = R"sql(
CREATE TABLE IF NOT EXISTS users (
  name TEXT PRIMARY KEY,
  role TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  created_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
  id TEXT PRIMARY KEY,
  user_name TEXT NOT NULL,
  role TEXT NOT NULL,
  secret_sha256 BLOB NOT NULL,
  label TEXT NOT NULL DEFAULT '',
  created_ns INTEGER NOT NULL,
  expires_ns INTEGER NOT NULL DEFAULT 0,
  revoked_ns INTEGER NOT NULL DEFAULT 0,
  last_used_ns INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS sessions (
  id_sha256 BLOB PRIMARY KEY,
  user_name TEXT NOT NULL,
  csrf TEXT NOT NULL,
  expires_ns INTEGER NOT NULL
);
)sql";

// Argon2id at libsodium's "interactive" cost (2 passes, 64 MiB): a login stays well under a
// second on a small host, and failed logins are rate limited on top (api/server.h).
Result<std::string> hash_password(const std::string& password) {
    char out[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str_alg(
            out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
            crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13) != 0)
        return io_error("hash the password: out of memory");
    return std::string(out);
}

// A hash to check against when there is no such user, so that the answer takes as long.
const std::string& dummy_hash() {
    static const std::string h = [] {
        auto r = hash_password("coffer dummy password, never matched");
        return r.ok() ? *r : std::string();
    }();
    return h;
}

Status check_password_rules(const std::string& password) {
    if (password.size() < k_min_password)
        return invalid_argument("the password is shorter than " + std::to_string(k_min_password) +
                                " characters: choose a longer one");
    if (password.find('\0') != std::string::npos || password.find('\n') != std::string::npos)
        return invalid_argument("the password holds a NUL or newline character");
    return ok_status();
}

Role role_or_viewer(const std::string& text) {
    return parse_role(text).value_or(Role::viewer);
}

Bytes secret_digest(std::string_view secret) {
    Id d = crypto::sha256(as_bytes(secret));
    return Bytes(d.view().begin(), d.view().end());
}

bool is_hex(std::string_view s) {
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

}  // namespace

int64_t system_now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

Status check_user_name(const std::string& name) {
    if (name.empty() || name.size() > 64 || name[0] == '.' || name[0] == '-')
        return invalid_argument("user name \"" + name +
                                "\" is not valid: use 1-64 letters, digits, '.', '_' or '-', not "
                                "starting with '.' or '-'");
    for (char c : name)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-'))
            return invalid_argument("user name \"" + name +
                                    "\" is not valid: use letters, digits, '.', '_' or '-'");
    return ok_status();
}

Result<std::unique_ptr<AccessDb>> AccessDb::open(const std::string& dir) {
    TRY(crypto::init());
    TRY(make_dirs(dir, 0700));
    std::string path = dir + "/state.db";
    TRY_ASSIGN(sqlite3 * db, server::open_sqlite(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE));
    std::unique_ptr<AccessDb> a(new AccessDb(db));
    ::chmod(path.c_str(), 0600);
    TRY(a->exec("PRAGMA journal_mode=WAL"));
    TRY(a->exec(k_schema));
    return a;
}

AccessDb::~AccessDb() {
    sqlite3_close_v2(m_db);
}

Status AccessDb::exec(const std::string& sql) {
    return server::exec_sqlite(m_db, sql, k_what);
}

Status AccessDb::add_user(const std::string& name, Role role, const std::string& password) {
    TRY(check_user_name(name));
    TRY(check_password_rules(password));
    TRY_ASSIGN(std::string hash, hash_password(password));
    std::lock_guard lock(m_mu);
    Stmt st(m_db, "INSERT INTO users (name, role, password_hash, created_ns) VALUES (?,?,?,?)",
            k_what);
    st.bind(1, name).bind(2, std::string(role_name(role))).bind(3, hash).bind(4, system_now_ns());
    int rc = st.step();
    if (rc == SQLITE_CONSTRAINT)
        return already_exists("user " + name +
                              " exists already (coffer user set-role, or "
                              "coffer user remove first)");
    if (rc != SQLITE_DONE) return st.error("add user");
    return ok_status();
}

Result<std::vector<User>> AccessDb::list_users() {
    std::lock_guard lock(m_mu);
    Stmt st(m_db, "SELECT name, role, created_ns FROM users ORDER BY name", k_what);
    std::vector<User> out;
    int rc;
    while ((rc = st.step()) == SQLITE_ROW)
        out.push_back({st.text(0), role_or_viewer(st.text(1)), st.i64(2)});
    if (rc != SQLITE_DONE) return st.error("list users");
    return out;
}

Result<std::optional<User>> AccessDb::find_user(const std::string& name) {
    std::lock_guard lock(m_mu);
    Stmt st(m_db, "SELECT name, role, created_ns FROM users WHERE name = ?", k_what);
    st.bind(1, name);
    int rc = st.step();
    if (rc == SQLITE_ROW)
        return std::optional<User>(User{st.text(0), role_or_viewer(st.text(1)), st.i64(2)});
    if (rc != SQLITE_DONE) return st.error("find user");
    return std::optional<User>();
}

Status AccessDb::remove_user(const std::string& name) {
    std::lock_guard lock(m_mu);
    TRY(exec("BEGIN IMMEDIATE"));
    auto run = [&](const char* sql) -> Result<int> {
        Stmt st(m_db, sql, k_what);
        st.bind(1, name);
        if (st.step() != SQLITE_DONE) return st.error("remove user");
        return sqlite3_changes(m_db);
    };
    auto users = run("DELETE FROM users WHERE name = ?");
    Status st = users.status();
    if (st.ok()) st = run("DELETE FROM tokens WHERE user_name = ?").status();
    if (st.ok()) st = run("DELETE FROM sessions WHERE user_name = ?").status();
    if (!st.ok() || *users == 0) {
        (void)exec("ROLLBACK");
        return st.ok() ? not_found("no user " + name + " (coffer user list shows them)") : st;
    }
    return exec("COMMIT");
}

Status AccessDb::set_role(const std::string& name, Role role) {
    std::lock_guard lock(m_mu);
    Stmt st(m_db, "UPDATE users SET role = ? WHERE name = ?", k_what);
    st.bind(1, std::string(role_name(role))).bind(2, name);
    if (st.step() != SQLITE_DONE) return st.error("set role");
    if (sqlite3_changes(m_db) == 0) return not_found("no user " + name);
    return ok_status();
}

Status AccessDb::set_password(const std::string& name, const std::string& password) {
    TRY(check_password_rules(password));
    TRY_ASSIGN(std::string hash, hash_password(password));
    std::lock_guard lock(m_mu);
    Stmt st(m_db, "UPDATE users SET password_hash = ? WHERE name = ?", k_what);
    st.bind(1, hash).bind(2, name);
    if (st.step() != SQLITE_DONE) return st.error("set password");
    if (sqlite3_changes(m_db) == 0) return not_found("no user " + name);
    // A new password ends every session of the old one (a reset after a compromise must lock
    // the intruder out now, not in 8 hours).
    Stmt end(m_db, "DELETE FROM sessions WHERE user_name = ?", k_what);
    end.bind(1, name);
    if (end.step() != SQLITE_DONE) return end.error("end sessions");
    return ok_status();
}

Result<std::optional<User>> AccessDb::check_password(const std::string& name,
                                                     const std::string& password) {
    std::optional<User> user;
    std::string hash;
    {
        std::lock_guard lock(m_mu);
        Stmt st(m_db, "SELECT name, role, created_ns, password_hash FROM users WHERE name = ?",
                k_what);
        st.bind(1, name);
        int rc = st.step();
        if (rc == SQLITE_ROW) {
            user = User{st.text(0), role_or_viewer(st.text(1)), st.i64(2)};
            hash = st.text(3);
        } else if (rc != SQLITE_DONE) {
            return st.error("check password");
        }
    }
    // Outside the lock: Argon2id takes a while and must not hold up other requests.
    const std::string& against = user ? hash : dummy_hash();
    bool match = !against.empty() &&
                 crypto_pwhash_str_verify(against.c_str(), password.data(), password.size()) == 0;
    if (!user || !match) return std::optional<User>();
    return user;
}

Result<NewToken> AccessDb::create_token(const std::string& user, std::optional<Role> role,
                                        int64_t expires_ns, const std::string& label,
                                        int64_t now_ns) {
    TRY_ASSIGN(auto found, find_user(user));
    if (!found) return not_found("no user " + user + " (coffer user add " + user + " first)");
    Role r = role.value_or(found->role);
    if (!role_within(r, found->role))
        return permission_denied("a " + std::string(role_name(r)) +
                                 " token would allow more than " + user + "'s role (" +
                                 std::string(role_name(found->role)) + "): choose --role " +
                                 std::string(role_name(found->role)) + " or less");
    if (expires_ns != 0 && expires_ns <= now_ns)
        return invalid_argument("the token would expire before it is made: give a later expiry");
    NewToken t;
    t.info = {
        to_hex(crypto::random_bytes(k_token_id_hex / 2)), user, r, label, now_ns, expires_ns, 0, 0};
    SecretBytes secret = crypto::random_secret(k_token_secret_bytes);
    std::string secret_hex = to_hex(secret.view());
    Bytes digest = secret_digest(secret_hex);
    t.secret = std::string(k_token_prefix) + t.info.id + "_" + secret_hex;
    secure_wipe(secret_hex.data(), secret_hex.size());
    std::lock_guard lock(m_mu);
    // One statement: a user removed meanwhile (by another process too) gets no token, which
    // would otherwise come back to life with a new user of the same name.
    Stmt st(m_db,
            "INSERT INTO tokens (id, user_name, role, secret_sha256, label, created_ns, "
            "expires_ns) SELECT ?,?,?,?,?,?,? WHERE EXISTS (SELECT 1 FROM users WHERE name = ?)",
            k_what);
    st.bind(1, t.info.id)
        .bind(2, user)
        .bind(3, std::string(role_name(r)))
        .bind(4, ByteView(digest))
        .bind(5, label)
        .bind(6, now_ns)
        .bind(7, expires_ns)
        .bind(8, user);
    if (st.step() != SQLITE_DONE) return st.error("create token");
    if (sqlite3_changes(m_db) != 1) return not_found("no user " + user);
    return t;
}

Result<std::vector<TokenInfo>> AccessDb::list_tokens(const std::string& user) {
    std::lock_guard lock(m_mu);
    Stmt st(m_db,
            "SELECT id, user_name, role, label, created_ns, expires_ns, revoked_ns, last_used_ns "
            "FROM tokens WHERE ? = '' OR user_name = ? ORDER BY created_ns",
            k_what);
    st.bind(1, user).bind(2, user);
    std::vector<TokenInfo> out;
    int rc;
    while ((rc = st.step()) == SQLITE_ROW)
        out.push_back({st.text(0), st.text(1), role_or_viewer(st.text(2)), st.text(3), st.i64(4),
                       st.i64(5), st.i64(6), st.i64(7)});
    if (rc != SQLITE_DONE) return st.error("list tokens");
    return out;
}

Status AccessDb::revoke_token(const std::string& id, int64_t now_ns) {
    std::lock_guard lock(m_mu);
    Stmt st(m_db, "UPDATE tokens SET revoked_ns = ? WHERE id = ? AND revoked_ns = 0", k_what);
    st.bind(1, now_ns).bind(2, id);
    if (st.step() != SQLITE_DONE) return st.error("revoke token");
    if (sqlite3_changes(m_db) == 0) {
        Stmt exists(m_db, "SELECT 1 FROM tokens WHERE id = ?", k_what);
        exists.bind(1, id);
        if (exists.step() == SQLITE_ROW) return ok_status();  // revoked already
        return not_found("no token " + id + " (coffer token list shows them)");
    }
    return ok_status();
}

Result<std::optional<Principal>> AccessDb::authenticate_token(const std::string& token,
                                                              int64_t now_ns, std::string& why) {
    std::string_view t = token;
    const size_t expected = k_token_prefix.size() + k_token_id_hex + 1 + 2 * k_token_secret_bytes;
    if (t.size() != expected || t.substr(0, k_token_prefix.size()) != k_token_prefix ||
        t[k_token_prefix.size() + k_token_id_hex] != '_') {
        why = "malformed token";
        return std::optional<Principal>();
    }
    std::string id(t.substr(k_token_prefix.size(), k_token_id_hex));
    std::string_view secret = t.substr(k_token_prefix.size() + k_token_id_hex + 1);
    if (!is_hex(id) || !is_hex(secret)) {
        why = "malformed token";
        return std::optional<Principal>();
    }
    Bytes presented = secret_digest(secret);
    std::lock_guard lock(m_mu);
    Stmt st(m_db,
            "SELECT t.user_name, t.role, t.secret_sha256, t.expires_ns, t.revoked_ns, u.role, "
            "t.last_used_ns "
            "FROM tokens t JOIN users u ON u.name = t.user_name WHERE t.id = ?",
            k_what);
    st.bind(1, id);
    int rc = st.step();
    if (rc != SQLITE_ROW) {
        if (rc != SQLITE_DONE) return st.error("look up token");
        why = "unknown token " + id;
        return std::optional<Principal>();
    }
    Bytes stored = st.blob(2);
    if (!ct_equal(stored, presented)) {
        why = "wrong secret for token " + id;
        return std::optional<Principal>();
    }
    if (st.i64(4) != 0) {
        why = "revoked token " + id;
        return std::optional<Principal>();
    }
    if (st.i64(3) != 0 && st.i64(3) <= now_ns) {
        why = "expired token " + id;
        return std::optional<Principal>();
    }
    Principal p{st.text(0), role_or_viewer(st.text(1)), role_or_viewer(st.text(5)), "token " + id};
    // Bookkeeping only, to the minute: not a write per request.
    if (now_ns - st.i64(6) > 60LL * 1000000000) {
        Stmt used(m_db, "UPDATE tokens SET last_used_ns = ? WHERE id = ?", k_what);
        used.bind(1, now_ns).bind(2, id);
        (void)used.step();
    }
    return std::optional<Principal>(std::move(p));
}

Result<std::pair<std::string, Session>> AccessDb::create_session(const std::string& user,
                                                                 int64_t expires_ns,
                                                                 int64_t now_ns) {
    std::string cookie = to_hex(crypto::random_bytes(32));
    Session s{user, to_hex(crypto::random_bytes(32)), expires_ns};
    Bytes digest = secret_digest(cookie);
    std::lock_guard lock(m_mu);
    // Expired sessions go whenever a new one is made: the table stays as small as the number
    // of people logged in.
    Stmt purge(m_db, "DELETE FROM sessions WHERE expires_ns <= ?", k_what);
    purge.bind(1, now_ns);
    (void)purge.step();
    Stmt st(m_db,
            "INSERT INTO sessions (id_sha256, user_name, csrf, expires_ns) SELECT ?,?,?,? WHERE "
            "EXISTS (SELECT 1 FROM users WHERE name = ?)",
            k_what);
    st.bind(1, ByteView(digest)).bind(2, user).bind(3, s.csrf).bind(4, expires_ns).bind(5, user);
    if (st.step() != SQLITE_DONE) return st.error("create session");
    if (sqlite3_changes(m_db) != 1) return not_found("no user " + user);
    return std::make_pair(std::move(cookie), std::move(s));
}

Result<std::optional<std::pair<Principal, Session>>> AccessDb::authenticate_session(
    const std::string& cookie, int64_t now_ns) {
    using Out = std::optional<std::pair<Principal, Session>>;
    if (cookie.size() != 64 || !is_hex(cookie)) return Out();
    // Looked up by digest: an equality test in SQL on a SHA-256 of the secret, so timing tells
    // nothing about the secret itself.
    Bytes digest = secret_digest(cookie);
    std::lock_guard lock(m_mu);
    Stmt st(m_db,
            "SELECT s.user_name, s.csrf, s.expires_ns, u.role FROM sessions s JOIN users u ON "
            "u.name = s.user_name WHERE s.id_sha256 = ?",
            k_what);
    st.bind(1, ByteView(digest));
    int rc = st.step();
    if (rc != SQLITE_ROW) {
        if (rc != SQLITE_DONE) return st.error("look up session");
        return Out();
    }
    if (st.i64(2) <= now_ns) return Out();
    Role role = role_or_viewer(st.text(3));
    Principal p{st.text(0), role, role, "session"};
    Session s{st.text(0), st.text(1), st.i64(2)};
    return Out(std::make_pair(std::move(p), std::move(s)));
}

Status AccessDb::end_session(const std::string& cookie) {
    Bytes digest = secret_digest(cookie);
    std::lock_guard lock(m_mu);
    Stmt st(m_db, "DELETE FROM sessions WHERE id_sha256 = ?", k_what);
    st.bind(1, ByteView(digest));
    if (st.step() != SQLITE_DONE) return st.error("end session");
    return ok_status();
}

}  // namespace coffer::api

// Who may use the daemon's HTTPS API: users, their roles, API tokens and dashboard sessions,
// kept in the daemon's state database (<state dir>/state.db; tables users, tokens, sessions).
//
// - A user has one role and an Argon2id password hash (libsodium's crypto_pwhash_str, whose
//   string carries its own parameters and salt). Passwords are never stored or logged.
// - A token is "coffer_<id>_<secret>": the 12-hex id names its row, the secret is 32 random
//   bytes (64 hex) of which only SHA-256 is stored, so the database leaks no usable token. It
//   has a role (at most its user's permissions), an expiry, and can be revoked.
// - A session (the dashboard's cookie) is a random 32-byte id stored as SHA-256, with its own
//   CSRF token and expiry.
// What a token or session may do is the intersection of its role's permissions and its user's
// current role's (policy.h), so demoting or removing a user takes effect on the next request.
// Secrets are compared in constant time. Thread-safe (one connection behind a mutex).
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "coffer/api/policy.h"
#include "coffer/util/bytes.h"
#include "coffer/util/status.h"

struct sqlite3;

namespace coffer::api {

struct User {
    std::string name;
    Role role = Role::viewer;
    int64_t created_ns = 0;
};

struct TokenInfo {
    std::string id;  // the public part, 12 hex digits
    std::string user;
    Role role = Role::viewer;
    std::string label;
    int64_t created_ns = 0;
    int64_t expires_ns = 0;  // 0: never
    int64_t revoked_ns = 0;  // 0: not revoked
    int64_t last_used_ns = 0;
};

struct NewToken {
    TokenInfo info;
    std::string secret;  // the whole "coffer_<id>_<secret>", shown once
};

struct Session {
    std::string user;
    std::string csrf;  // sent back in X-CSRF-Token on every state-changing request
    int64_t expires_ns = 0;
};

// Who a request acts as, once authenticated.
struct Principal {
    std::string user;
    Role role = Role::viewer;  // the token's or session's role
    Role user_role = Role::viewer;
    std::string via;  // "token <id>" or "session"
    bool allows(Permission p) const { return role_allows(role, p) && role_allows(user_role, p); }
};

// The system clock, ns since the epoch: what the API uses when no clock is injected.
int64_t system_now_ns();

// Names are 1-64 characters of [A-Za-z0-9._-], not starting with '.' or '-'.
Status check_user_name(const std::string& name);

class AccessDb {
public:
    // Opens (creating when missing) <dir>/state.db and its access tables; dir is made 0700.
    static Result<std::unique_ptr<AccessDb>> open(const std::string& dir);
    ~AccessDb();

    // Code::already_exists for a taken name; Code::invalid_argument for a bad name or a
    // password shorter than 12 characters.
    Status add_user(const std::string& name, Role role, const std::string& password);
    Result<std::vector<User>> list_users();
    Result<std::optional<User>> find_user(const std::string& name);
    // Removes the user, its tokens and sessions. Code::not_found when there is none.
    Status remove_user(const std::string& name);
    Status set_role(const std::string& name, Role role);
    Status set_password(const std::string& name, const std::string& password);
    // The user when name and password match; nullopt otherwise (which of the two was wrong is
    // not told). A missing user costs as much time as a wrong password.
    Result<std::optional<User>> check_password(const std::string& name,
                                               const std::string& password);

    // A token for user with role (default: the user's), valid until expires_ns (0: never).
    // Code::permission when role allows something the user's role does not.
    Result<NewToken> create_token(const std::string& user, std::optional<Role> role,
                                  int64_t expires_ns, const std::string& label, int64_t now_ns);
    Result<std::vector<TokenInfo>> list_tokens(const std::string& user);  // "" for all users
    Status revoke_token(const std::string& id, int64_t now_ns);  // Code::not_found if unknown
    // The principal for a presented token, or nullopt for a malformed, unknown, wrong,
    // expired or revoked one (the reason lands in why, for the audit log; never the token).
    Result<std::optional<Principal>> authenticate_token(const std::string& token, int64_t now_ns,
                                                        std::string& why);

    // A new session for user until expires_ns; returns the cookie value (shown once). Sessions
    // expired at now_ns are removed meanwhile.
    Result<std::pair<std::string, Session>> create_session(const std::string& user,
                                                           int64_t expires_ns, int64_t now_ns);
    Result<std::optional<std::pair<Principal, Session>>> authenticate_session(
        const std::string& cookie, int64_t now_ns);
    Status end_session(const std::string& cookie);

private:
    explicit AccessDb(sqlite3* db) : m_db(db) {}
    Status exec(const std::string& sql);
    std::mutex m_mu;
    sqlite3* m_db;
};

}  // namespace coffer::api

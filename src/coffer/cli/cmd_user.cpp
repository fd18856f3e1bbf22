// coffer user add|list|remove|set-role|set-password and coffer token create|list|revoke: the
// HTTPS API's users and tokens (api/access.h), managed from the daemon's host. They live in the
// daemon's state directory: --state-dir, else [server] state_dir of the config (--config,
// $COFFER_CONFIG, or /etc/coffer/coffer.toml when it exists), else the default. A token is
// printed once and stored only as a hash. Every change is audited (action user.* / token.*).
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "coffer/api/access.h"
#include "coffer/cli/common.h"
#include "coffer/cli/serve_api.h"
#include "coffer/retention/policy.h"
#include "coffer/util/file.h"

namespace coffer::cli {

namespace {

struct UserArgs {
    std::string state_dir;
    std::string name;
    std::string role;
    std::string password_file;
    std::string user;     // token create --user, token list --user
    std::string expires;  // token create --expires, a duration ("30d"); empty: never
    std::string label;
    std::string id;  // token revoke
};

Result<std::string> state_dir_of(GlobalOptions& g, const UserArgs& a) {
    if (!a.state_dir.empty()) return a.state_dir;
    if (g.config.empty()) {
        const char* env = std::getenv("COFFER_CONFIG");
        struct stat st {};
        if (env && *env)
            g.config = env;
        else if (::stat("/etc/coffer/coffer.toml", &st) == 0)
            g.config = "/etc/coffer/coffer.toml";
    }
    if (!g.config.empty()) {
        TRY_ASSIGN(auto cfg, load_config(g));
        if (!cfg.server.state_dir.empty()) return cfg.server.state_dir;
    }
    return default_daemon_state_dir();
}

Result<std::unique_ptr<api::AccessDb>> open_access(GlobalOptions& g, const UserArgs& a) {
    TRY_ASSIGN(std::string dir, state_dir_of(g, a));
    return api::AccessDb::open(dir);
}

Result<api::Role> role_of(const std::string& text) {
    auto r = api::parse_role(text);
    if (!r)
        return invalid_argument("role \"" + text +
                                "\" is not one of admin, operator, auditor, viewer");
    return *r;
}

// The password from --password-file (or "-": one line of standard input), without its line end.
Result<std::string> read_password(const std::string& path) {
    if (path.empty())
        return invalid_argument(
            "give the password with --password-file FILE (or - for a line "
            "of standard input): it is never taken on the command line");
    std::string text;
    if (path == "-") {
        char c;
        while (::read(0, &c, 1) == 1 && c != '\n' && text.size() < 4096) text += c;
    } else {
        TRY_ASSIGN(SecretBytes bytes, read_secret_file(path));
        text.assign(as_chars(bytes.view()));
    }
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    return text;
}

std::string when(int64_t ns) {
    return ns ? repo::format_rfc3339(ns).substr(0, 19) + "Z" : std::string("-");
}

int run_user_add(GlobalOptions& g, const UserArgs& a) {
    g.audit.target = a.name;
    auto role = role_of(a.role);
    if (!role.ok()) return fail(role.status());
    auto password = read_password(a.password_file);
    if (!password.ok()) return fail(password.status());
    auto db = open_access(g, a);
    if (!db.ok()) return fail(db.status());
    Status st = (*db)->add_user(a.name, *role, *password);
    secure_wipe(password->data(), password->size());
    if (!st.ok()) return fail(st);
    g.audit.details = {{"user", a.name}, {"role", a.role}};
    if (g.json)
        print_json({{"user", a.name}, {"role", a.role}});
    else if (!g.quiet)
        std::printf("user %s added with role %s\n", a.name.c_str(), a.role.c_str());
    return k_exit_ok;
}

int run_user_list(GlobalOptions& g, const UserArgs& a) {
    auto db = open_access(g, a);
    if (!db.ok()) return fail(db.status());
    auto users = (*db)->list_users();
    if (!users.ok()) return fail(users.status());
    if (g.json) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& u : *users)
            out.push_back({{"user", u.name},
                           {"role", api::role_name(u.role)},
                           {"created", when(u.created_ns)}});
        print_json({{"users", out}});
        return k_exit_ok;
    }
    std::printf("%-24s  %-9s  %s\n", "USER", "ROLE", "CREATED");
    for (const auto& u : *users)
        std::printf("%-24s  %-9s  %s\n", u.name.c_str(),
                    std::string(api::role_name(u.role)).c_str(), when(u.created_ns).c_str());
    return k_exit_ok;
}

int run_user_remove(GlobalOptions& g, const UserArgs& a) {
    g.audit.target = a.name;
    auto db = open_access(g, a);
    if (!db.ok()) return fail(db.status());
    if (Status st = (*db)->remove_user(a.name); !st.ok()) return fail(st);
    if (!g.quiet && !g.json)
        std::printf("user %s removed, with its tokens and sessions\n", a.name.c_str());
    if (g.json) print_json({{"removed", a.name}});
    return k_exit_ok;
}

int run_user_set_role(GlobalOptions& g, const UserArgs& a) {
    g.audit.target = a.name;
    auto role = role_of(a.role);
    if (!role.ok()) return fail(role.status());
    auto db = open_access(g, a);
    if (!db.ok()) return fail(db.status());
    if (Status st = (*db)->set_role(a.name, *role); !st.ok()) return fail(st);
    g.audit.details = {{"user", a.name}, {"role", a.role}};
    if (!g.quiet && !g.json)
        std::printf("user %s now has role %s (its tokens and sessions at once)\n", a.name.c_str(),
                    a.role.c_str());
    if (g.json) print_json({{"user", a.name}, {"role", a.role}});
    return k_exit_ok;
}

int run_user_set_password(GlobalOptions& g, const UserArgs& a) {
    g.audit.target = a.name;
    auto password = read_password(a.password_file);
    if (!password.ok()) return fail(password.status());
    auto db = open_access(g, a);
    if (!db.ok()) return fail(db.status());
    Status st = (*db)->set_password(a.name, *password);
    secure_wipe(password->data(), password->size());
    if (!st.ok()) return fail(st);
    if (!g.quiet && !g.json) std::printf("password of %s changed\n", a.name.c_str());
    return k_exit_ok;
}

int run_token_create(GlobalOptions& g, const UserArgs& a) {
    g.audit.target = a.user;
    std::optional<api::Role> role;
    if (!a.role.empty()) {
        auto r = role_of(a.role);
        if (!r.ok()) return fail(r.status());
        role = *r;
    }
    const int64_t now = repo::now_unix_ns();
    int64_t expires = 0;
    if (!a.expires.empty() && a.expires != "never") {
        auto d = retention::parse_duration(a.expires);
        if (!d.ok()) return fail(d.status().with_context("--expires"));
        if (*d <= 0 || *d > 100LL * 366 * 86400)
            return fail(invalid_argument(
                "--expires must be a positive duration of at most 100 years (or 'never')"));
        expires = now + *d * 1000000000;
    }
    auto db = open_access(g, a);
    if (!db.ok()) return fail(db.status());
    auto t = (*db)->create_token(a.user, role, expires, a.label, now);
    if (!t.ok()) return fail(t.status());
    g.audit.details = {{"user", a.user},
                       {"token_id", t->info.id},
                       {"role", api::role_name(t->info.role)},
                       {"expires", when(expires)}};
    if (g.json) {
        print_json({{"token", t->secret},
                    {"id", t->info.id},
                    {"user", a.user},
                    {"role", api::role_name(t->info.role)},
                    {"expires", when(expires)}});
    } else {
        std::printf("%s\n", t->secret.c_str());
        if (!g.quiet)
            std::fprintf(stderr,
                         "token %s for %s (role %s, expires %s): shown once, stored only as a "
                         "hash; send it as \"Authorization: Bearer <token>\"\n",
                         t->info.id.c_str(), a.user.c_str(),
                         std::string(api::role_name(t->info.role)).c_str(), when(expires).c_str());
    }
    secure_wipe(t->secret.data(), t->secret.size());
    return k_exit_ok;
}

int run_token_list(GlobalOptions& g, const UserArgs& a) {
    auto db = open_access(g, a);
    if (!db.ok()) return fail(db.status());
    auto tokens = (*db)->list_tokens(a.user);
    if (!tokens.ok()) return fail(tokens.status());
    const int64_t now = repo::now_unix_ns();
    if (g.json) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& t : *tokens) out.push_back(token_json(t, now));
        print_json({{"tokens", out}});
        return k_exit_ok;
    }
    std::printf("%-12s  %-16s  %-9s  %-8s  %-20s  %s\n", "ID", "USER", "ROLE", "STATUS", "EXPIRES",
                "LABEL");
    for (const auto& t : *tokens)
        std::printf("%-12s  %-16s  %-9s  %-8s  %-20s  %s\n", t.id.c_str(), t.user.c_str(),
                    std::string(api::role_name(t.role)).c_str(),
                    token_json(t, now)["status"].get<std::string>().c_str(),
                    when(t.expires_ns).c_str(), t.label.c_str());
    return k_exit_ok;
}

int run_token_revoke(GlobalOptions& g, const UserArgs& a) {
    g.audit.target = a.id;
    auto db = open_access(g, a);
    if (!db.ok()) return fail(db.status());
    if (Status st = (*db)->revoke_token(a.id, repo::now_unix_ns()); !st.ok()) return fail(st);
    g.audit.details = {{"token_id", a.id}};
    if (!g.quiet && !g.json) std::printf("token %s revoked\n", a.id.c_str());
    if (g.json) print_json({{"revoked", a.id}});
    return k_exit_ok;
}

}  // namespace

void register_user(CLI::App& app, GlobalOptions& g, int& exit_code) {
    auto a = std::make_shared<UserArgs>();
    CLI::App* user = app.add_subcommand("user", "Users of the HTTPS API and dashboard");
    user->require_subcommand(1);
    user->add_option("--state-dir", a->state_dir,
                     "The daemon's state directory (default [server] state_dir)");
    auto run = [&g, &exit_code](const char* action, int (*fn)(GlobalOptions&, const UserArgs&),
                                std::shared_ptr<UserArgs> args) {
        return [&g, &exit_code, action, fn, args] {
            exit_code = fn(g, *args);
            audit_command(g, action, exit_code);
        };
    };
    CLI::App* add = user->add_subcommand("add", "Add a user");
    add->add_option("name", a->name, "User name")->required();
    add->add_option("--role", a->role, "admin, operator, auditor or viewer")->required();
    add->add_option("--password-file", a->password_file,
                    "File holding the password (or - for one line of standard input)")
        ->required();
    add->callback(run("user.add", run_user_add, a));
    CLI::App* list = user->add_subcommand("list", "List the users and their roles");
    list->callback([&g, &exit_code, a] { exit_code = run_user_list(g, *a); });
    CLI::App* remove = user->add_subcommand("remove", "Remove a user, its tokens and sessions");
    remove->add_option("name", a->name, "User name")->required();
    remove->callback(run("user.remove", run_user_remove, a));
    CLI::App* set_role = user->add_subcommand("set-role", "Change a user's role");
    set_role->add_option("name", a->name, "User name")->required();
    set_role->add_option("role", a->role, "admin, operator, auditor or viewer")->required();
    set_role->callback(run("user.set-role", run_user_set_role, a));
    CLI::App* set_password = user->add_subcommand("set-password", "Change a user's password");
    set_password->add_option("name", a->name, "User name")->required();
    set_password->add_option("--password-file", a->password_file, "File holding the password")
        ->required();
    set_password->callback(run("user.set-password", run_user_set_password, a));

    CLI::App* token = app.add_subcommand("token", "API tokens (shown once, stored hashed)");
    token->require_subcommand(1);
    token->add_option("--state-dir", a->state_dir,
                      "The daemon's state directory (default [server] state_dir)");
    CLI::App* create = token->add_subcommand("create", "Create a token and print it once");
    create->add_option("--user", a->user, "Whose token")->required();
    create->add_option("--role", a->role, "At most the user's role (default: the user's)");
    create
        ->add_option("--expires", a->expires,
                     "Lifetime, a duration such as 30d or 12h (default 90d; 'never')")
        ->default_str("90d");
    a->expires = "90d";
    create->add_option("--label", a->label, "What it is for (shown by token list)");
    create->callback(run("token.create", run_token_create, a));
    CLI::App* tlist = token->add_subcommand("list", "List tokens (never their secrets)");
    tlist->add_option("--user", a->user, "Only this user's");
    tlist->callback([&g, &exit_code, a] { exit_code = run_token_list(g, *a); });
    CLI::App* revoke = token->add_subcommand("revoke", "Revoke a token at once");
    revoke->add_option("id", a->id, "Token id (the 12 hex digits after coffer_)")->required();
    revoke->callback(run("token.revoke", run_token_revoke, a));
}

}  // namespace coffer::cli

// Validation of a parsed coffer.toml against the schema in config.h: every key is checked for
// being known, of the right type and in range, and every problem is recorded with its line.
#include "coffer/config/config_check.h"

#include <arpa/inet.h>
#include "coffer/util/text.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>

#include "coffer/schedule/schedule.h"

namespace coffer::config::detail {

namespace {

using Keys = std::vector<std::string_view>;

const Keys k_top_keys = {"repository", "set", "server"};
const Keys k_repository_keys = {
    "url",       "host_key",      "recovery_key_file", "mirrors",
    "cache_dir", "access_key_id", "secret_access_key", "region",
    "ca_file",   "connections",   "object_lock_mode",  "object_lock_days"};
const Keys k_set_keys = {
    "name",         "rpo",        "rto",        "pre_restore", "post_restore",
    "health_check", "min_size",   "max_shrink", "on_shrink",   "tags",
    "retention",    "source",     "schedule",   "timezone",    "drill_schedule",
    "drill_every",  "drill_check"};
const Keys k_drill_check_keys = {"name", "sql",           "source",  "expect",  "command",
                                 "http", "expect_status", "ca_file", "decrypt", "key_file"};
const Keys k_server_keys = {"state_dir", "listen",      "webhook_url", "on_failure",
                            "catch_up",  "prune",       "prune_grace", "prune_max_unused",
                            "tls_cert",  "tls_key",     "metrics_listen"};
const Keys k_retention_keys = {"keep_last",   "keep_within",  "keep_hourly", "keep_daily",
                               "keep_weekly", "keep_monthly", "keep_yearly"};
// More than any schedule needs (keep_last: a snapshot a minute for almost two years), so a
// larger number is taken for a typo.
constexpr int64_t k_max_keep = 1000000;
const Keys k_source_keys = {"name", "type"};

struct TypeInfo {
    SourceType type;
    std::string_view name;
    std::string_view a_name;  // with its article, for messages
    Keys keys;
};

const std::array<TypeInfo, 5> k_types = {{
    {SourceType::postgres,
     "postgres",
     "a postgres",
     {"dsn", "pg_dump", "pg_dumpall", "psql", "roles", "drill_dsn"}},
    {SourceType::sqlite, "sqlite", "a sqlite", {"path"}},
    {SourceType::files, "files", "a files", {"paths", "exclude"}},
    {SourceType::s3,
     "s3",
     "an s3",
     {"url", "access_key_id", "secret_access_key", "region", "drill_url"}},
    {SourceType::command, "command", "a command", {"backup_command", "restore_command"}},
}};

constexpr std::string_view k_name_rule = "use only letters, digits, '_', '.' and '-'";
constexpr std::string_view k_s3_form =
    R"((expected "s3:http(s)://host[:port]/bucket[/prefix]", e.g. "s3:https://s3.example.com/bucket/prefix"))";
constexpr std::string_view k_listen_form =
    R"((expected "host:port" with a literal IP address or localhost, e.g. "127.0.0.1:9180" or "[::1]:9180"; port 0 picks a free one))";
constexpr std::string_view k_repository_url_hint =
    R"((a directory such as "/var/backups/coffer", or "s3:https://host[:port]/bucket/prefix"))";

bool contains(const Keys& keys, std::string_view key) {
    return std::find(keys.begin(), keys.end(), key) != keys.end();
}

std::string join(const Keys& keys, std::string_view quote) {
    std::string out;
    for (size_t i = 0; i < keys.size(); ++i)
        out += (i ? ", " : "") + std::string(quote) + std::string(keys[i]) + std::string(quote);
    return out;
}

// The candidate closest to word when within an edit distance of 2, else empty.
std::string_view closest(std::string_view word, const Keys& candidates) {
    std::string_view best;
    size_t best_distance = 3;
    for (std::string_view c : candidates) {
        size_t gap = word.size() > c.size() ? word.size() - c.size() : c.size() - word.size();
        if (gap >= best_distance) continue;  // cannot be close enough; also bounds the work
        size_t d = edit_distance(word, c);
        if (d < best_distance) {
            best_distance = d;
            best = c;
        }
    }
    return best;
}

int line_of(const toml::node& n) {
    return static_cast<int>(n.source().begin.line);
}

std::string kind_of(const toml::node& n) {
    switch (n.type()) {
        case toml::node_type::string:
            return "a string";
        case toml::node_type::integer:
            return "an integer";
        case toml::node_type::floating_point:
            return "a float";
        case toml::node_type::boolean:
            return "a boolean";
        case toml::node_type::table:
            return "a table";
        case toml::node_type::array:
            return "an array";
        case toml::node_type::date:
            return "a date";
        case toml::node_type::time:
            return "a time";
        case toml::node_type::date_time:
            return "a date-time";
        default:
            return "nothing";
    }
}

// An absolute path with no empty, "." or ".." component (so a prefix test means "inside").
bool plain_absolute(std::string_view path) {
    if (!path.starts_with("/") || path.size() < 2) return false;
    size_t pos = 1;
    while (pos <= path.size()) {
        size_t end = std::min(path.find('/', pos), path.size());
        std::string_view part = path.substr(pos, end - pos);
        if (part.empty() || part == "." || part == "..") return false;
        pos = end + 1;
    }
    return true;
}

// Whether one "s3:..." location contains the other (the same, or a prefix below it).
bool nested_urls(std::string a, std::string b) {
    while (a.ends_with("/")) a.pop_back();
    while (b.ends_with("/")) b.pop_back();
    return a == b || a.starts_with(b + "/") || b.starts_with(a + "/");
}

bool valid_name(std::string_view s) {
    if (s.empty() || s == "." || s == "..") return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '.' || c == '-';
    });
}

// "" when url has the form s3:http(s)://host[:port]/bucket[/prefix], else what is wrong.
std::string s3_url_problem(std::string_view url) {
    std::string_view rest;
    if (url.starts_with("s3:https://"))
        rest = url.substr(11);
    else if (url.starts_with("s3:http://"))
        rest = url.substr(10);
    else
        return R"(must start with "s3:http://" or "s3:https://")";
    size_t slash = rest.find('/');
    if (rest.empty() || slash == 0) return "names no host";
    if (slash == std::string_view::npos || slash + 1 == rest.size() || rest[slash + 1] == '/')
        return "names no bucket";
    return "";
}

// "" when listen is "host:port" with host a literal IPv4 address, a bracketed IPv6 address or
// "localhost", and port 0..65535; else what is wrong. Names are refused so that the address
// the daemon binds never depends on a resolver.
std::string listen_problem(std::string_view listen) {
    size_t colon = listen.rfind(':');
    if (colon == std::string_view::npos) return "has no port";
    std::string host(listen.substr(0, colon));
    std::string_view port = listen.substr(colon + 1);
    if (host.empty()) return "names no host";
    if (port.empty() || port.size() > 5 ||
        port.find_first_not_of("0123456789") != std::string_view::npos ||
        std::stoi(std::string(port)) > 65535)
        return "has no port number 0..65535";
    unsigned char addr[16];
    if (host.front() == '[') {
        if (host.size() < 3 || host.back() != ']' ||
            inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), addr) != 1)
            return "has no IPv6 address between its brackets";
        return "";
    }
    if (host.find(':') != std::string::npos) return "needs brackets around its IPv6 address";
    if (host == "localhost" || inet_pton(AF_INET, host.c_str(), addr) == 1) return "";
    return "names host '" + shown(host) + "', which is not a literal IP address or localhost";
}

// "" when url is an http:// or https:// URL with a host, else what is wrong.
std::string webhook_problem(std::string_view url) {
    std::string_view rest;
    if (url.starts_with("https://"))
        rest = url.substr(8);
    else if (url.starts_with("http://"))
        rest = url.substr(7);
    else
        return R"(must start with "http://" or "https://")";
    if (rest.empty() || rest.front() == '/' || rest.front() == ':' || rest.front() == '?')
        return "names no host";
    for (char c : url)
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
            return "contains white space or a control character";
    return "";
}

// Where a table's messages point and how they start.
struct Scope {
    const toml::table& table;
    std::string label;  // "set 'platform': source 'db'"; empty at the top level
    std::string kind;   // "in [[set.source]]", for unknown keys; may be empty

    std::string prefix() const { return label.empty() ? "" : label + ": "; }
    std::string prefix(std::string_view key) const { return prefix() + std::string(key); }
};

class Walker {
public:
    explicit Walker(std::vector<Problem>& problems) : m_problems(problems) {}

    Config run(const toml::table& root) {
        Config config;
        check_keys(Scope{root, "", "at the top level"}, k_top_keys, nullptr);
        if (const toml::node* n = root.get("repository"); !n)
            add(0, "[repository] url is required " + std::string(k_repository_url_hint));
        else if (const toml::table* t = n->as_table())
            config.repository = repository(*t);
        else
            add(line_of(*n), "repository must be a table ([repository]), not " + kind_of(*n));
        if (const toml::node* n = root.get("server")) {
            if (const toml::table* t = n->as_table())
                config.server = server(*t);
            else
                add(line_of(*n), "server must be a table ([server]), not " + kind_of(*n));
        }

        const toml::node* n = root.get("set");
        if (!n) return config;
        const toml::array* sets = n->as_array();
        if (!sets) {
            add(line_of(*n), "set must be an array of tables ([[set]]), not " + kind_of(*n));
            return config;
        }
        std::map<std::string, int> seen;  // name -> line of its name
        for (size_t i = 0; i < sets->size(); ++i) {
            const toml::node& e = *sets->get(i);
            const toml::table* t = e.as_table();
            if (!t) {
                add(line_of(e), "set #" + std::to_string(i + 1) +
                                    " must be a table ([[set]]), not " + kind_of(e));
                continue;
            }
            int name_line = 0;
            SetConfig set = set_config(*t, i + 1, name_line);
            if (!set.name.empty()) {
                auto [it, fresh] = seen.emplace(set.name, name_line);
                if (!fresh)
                    add(name_line, "duplicate set name '" + set.name + "' (also on line " +
                                       std::to_string(it->second) + "): set names must be unique");
            }
            config.sets.push_back(std::move(set));
        }
        drill_urls_apart(config);
        return config;
    }

private:
    std::vector<Problem>& m_problems;

    void add(int line, std::string message) { m_problems.push_back({line, std::move(message)}); }

    // Flags every key not in allowed. With the source's type known, keys belonging to another
    // type are named as such.
    void check_keys(const Scope& s, const Keys& allowed, const TypeInfo* type) {
        for (auto&& [k, v] : s.table) {
            std::string_view key = k.str();
            if (contains(allowed, key)) continue;
            int line = k.source().begin.line ? static_cast<int>(k.source().begin.line) : line_of(v);
            const TypeInfo* owner = nullptr;
            if (type)
                for (const auto& t : k_types)
                    if (contains(t.keys, key)) owner = &t;
            if (owner) {
                add(line, s.prefix() + "key '" + std::string(key) + "' does not apply to " +
                              std::string(type->a_name) + " source (it is for " +
                              std::string(owner->name) + " sources)");
                continue;
            }
            std::string message = s.prefix() + "unknown key '" + shown(key) + "'";
            if (!s.kind.empty()) message += " " + s.kind;
            if (std::string_view best = closest(key, allowed); !best.empty())
                message += " (did you mean '" + std::string(best) + "'?)";
            else
                message += " (expected one of: " + join(allowed, "") + ")";
            add(line, std::move(message));
        }
    }

    // The string at key; nullopt when absent or not a string (a problem recorded).
    std::optional<std::string> get_string(const Scope& s, std::string_view key) {
        const toml::node* n = s.table.get(key);
        if (!n) return std::nullopt;
        if (const auto* v = n->as_string()) return v->get();
        add(line_of(*n), s.prefix(key) + " must be a string, not " + kind_of(*n));
        return std::nullopt;
    }

    std::optional<bool> get_bool(const Scope& s, std::string_view key) {
        const toml::node* n = s.table.get(key);
        if (!n) return std::nullopt;
        if (const auto* v = n->as_boolean()) return v->get();
        add(line_of(*n), s.prefix(key) + " must be true or false, not " + kind_of(*n));
        return std::nullopt;
    }

    // Records a problem when a required key is absent or empty; hint follows "is required".
    void require(const Scope& s, std::string_view key, const std::optional<std::string>& value,
                 std::string_view hint) {
        const toml::node* n = s.table.get(key);
        if (!n)
            add(line_of(s.table), s.prefix(key) + " is required " + std::string(hint));
        else if (value && value->empty())
            add(line_of(*n), s.prefix(key) + " must not be empty " + std::string(hint));
    }

    // An optional string that must not be empty when given; fallback when absent.
    std::string string_or(const Scope& s, std::string_view key, std::string fallback) {
        auto v = get_string(s, key);
        if (!v) return fallback;
        if (v->empty())
            add(line_of(*s.table.get(key)), s.prefix(key) + " must not be empty (leave it out " +
                                                "for the default \"" + fallback + "\")");
        return *v;
    }

    // An array of non-empty strings; nullopt when absent or wrong.
    std::optional<std::vector<std::string>> get_strings(const Scope& s, std::string_view key) {
        const toml::node* n = s.table.get(key);
        if (!n) return std::nullopt;
        const toml::array* arr = n->as_array();
        if (!arr) {
            add(line_of(*n), s.prefix(key) + " must be an array of strings, not " + kind_of(*n));
            return std::nullopt;
        }
        std::vector<std::string> out;
        bool ok = true;
        for (size_t i = 0; i < arr->size(); ++i) {
            const toml::node& e = *arr->get(i);
            std::string where = s.prefix(key) + ": element " + std::to_string(i + 1);
            if (const auto* v = e.as_string(); !v) {
                add(line_of(e), where + " must be a string, not " + kind_of(e));
                ok = false;
            } else if (v->get().empty()) {
                add(line_of(e), where + " must not be empty");
                ok = false;
            } else {
                out.push_back(v->get());
            }
        }
        if (!ok) return std::nullopt;
        return out;
    }

    // A duration string; zero only when allow_zero. nullopt when absent or invalid.
    std::optional<int64_t> duration(const Scope& s, std::string_view key, bool allow_zero = false) {
        const toml::node* n = s.table.get(key);
        if (!n) return std::nullopt;
        const auto* v = n->as_string();
        if (!v) {
            add(line_of(*n),
                s.prefix(key) + " must be a duration string such as \"1h\", not " + kind_of(*n));
            return std::nullopt;
        }
        auto d = parse_duration(v->get());
        if (!d.ok()) {
            add(line_of(*n), s.prefix(key) + ": " + d.status().message());
            return std::nullopt;
        }
        if (*d == 0 && !allow_zero) {
            add(line_of(*n), s.prefix(key) + " must be longer than zero (e.g. \"1h\")");
            return std::nullopt;
        }
        return *d;
    }

    void check_s3_url(const Scope& s, std::string_view key, int line, const std::string& url) {
        std::string problem = s3_url_problem(url);
        if (!problem.empty())
            add(line,
                s.prefix(key) + " '" + shown(url) + "' " + problem + " " + std::string(k_s3_form));
    }

    // name: required, a string, [A-Za-z0-9_.-]+. Returns "" when invalid (problem recorded).
    std::string name_of(const toml::table& t, const std::string& label, int& name_line) {
        name_line = line_of(t);
        const toml::node* n = t.get("name");
        if (!n) {
            add(name_line, label + ": name is required (" + std::string(k_name_rule) + ")");
            return "";
        }
        name_line = line_of(*n);
        const auto* v = n->as_string();
        if (!v) {
            add(name_line, label + ": name must be a string, not " + kind_of(*n));
            return "";
        }
        const std::string& name = v->get();
        if (!valid_name(name)) {
            add(name_line, label + ": name '" + shown(name) +
                               "' is not valid: " + std::string(k_name_rule) +
                               (name == "." || name == ".." ? ", and not only dots" : ""));
            return "";
        }
        return name;
    }

    RepositoryConfig repository(const toml::table& t) {
        Scope s{t, "[repository]", ""};
        check_keys(s, k_repository_keys, nullptr);
        RepositoryConfig r;
        auto url = get_string(s, "url");
        require(s, "url", url, k_repository_url_hint);
        if (url) r.url = *url;
        if (r.url.starts_with("s3:")) check_s3_url(s, "url", line_of(*t.get("url")), r.url);
        r.host_key = get_string(s, "host_key").value_or("");
        r.recovery_key_file = get_string(s, "recovery_key_file").value_or("");
        r.cache_dir = get_string(s, "cache_dir").value_or("");
        r.mirrors = get_strings(s, "mirrors").value_or(std::vector<std::string>{});
        r.access_key_id = get_string(s, "access_key_id").value_or("");
        r.secret_access_key = get_string(s, "secret_access_key").value_or("");
        if (r.access_key_id.empty() != r.secret_access_key.empty()) {
            const char* given = r.access_key_id.empty() ? "secret_access_key" : "access_key_id";
            const char* missing = r.access_key_id.empty() ? "access_key_id" : "secret_access_key";
            add(line_of(*t.get(given)), s.prefix(given) + " is set but " + missing +
                                            " is not: give both, or neither to use "
                                            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
        }
        r.region = string_or(s, "region", "us-east-1");
        if (!t.get("region")) r.region.clear();  // unset: AWS_DEFAULT_REGION decides
        if (r.region.find_first_of(": \t\r\n") != std::string::npos)
            add(line_of(*t.get("region")),
                s.prefix("region") + " '" + shown(r.region) + "' is not a region name");
        r.ca_file = get_string(s, "ca_file").value_or("");
        if (const toml::node* n = t.get("ca_file"); n && n->is_string() && r.ca_file.empty())
            add(line_of(*n), s.prefix("ca_file") +
                                 " must not be empty (a PEM file of CA "
                                 "certificates; leave it out for the system's)");
        if (const toml::node* n = t.get("connections")) {
            const auto* v = n->as_integer();
            if (!v)
                add(line_of(*n),
                    s.prefix("connections") + " must be an integer, not " + kind_of(*n));
            else if (v->get() < 1 || v->get() > 256)
                add(line_of(*n), s.prefix("connections") + ": " + std::to_string(v->get()) +
                                     " is outside 1..256");
            else
                r.connections = static_cast<unsigned>(v->get());
        }
        if (auto mode = get_string(s, "object_lock_mode")) {
            if (*mode == "governance" || *mode == "compliance")
                r.object_lock_mode = *mode == "governance" ? "GOVERNANCE" : "COMPLIANCE";
            else
                add(line_of(*t.get("object_lock_mode")),
                    s.prefix("object_lock_mode") + " '" + shown(*mode) +
                        "' is not valid: use \"governance\" or \"compliance\"");
        }
        if (const toml::node* n = t.get("object_lock_days")) {
            const auto* v = n->as_integer();
            if (!v)
                add(line_of(*n),
                    s.prefix("object_lock_days") + " must be an integer, not " + kind_of(*n));
            else if (v->get() < 1 || v->get() > 36500)
                add(line_of(*n), s.prefix("object_lock_days") + ": " + std::to_string(v->get()) +
                                     " is outside 1..36500");
            else
                r.object_lock_days = static_cast<unsigned>(v->get());
        }
        if (t.get("object_lock_mode") && !t.get("object_lock_days"))
            add(line_of(*t.get("object_lock_mode")),
                s.prefix("object_lock_mode") +
                    " is set but object_lock_days is not: give both (e.g. object_lock_days = 30)");
        if (!t.get("object_lock_mode") && t.get("object_lock_days"))
            add(line_of(*t.get("object_lock_days")),
                s.prefix("object_lock_days") +
                    " is set but object_lock_mode is not: give both (\"governance\" or "
                    "\"compliance\")");
        bool any_s3_key = false;
        for (std::string_view k : {"access_key_id", "secret_access_key", "region", "ca_file",
                                   "connections", "object_lock_mode", "object_lock_days"})
            any_s3_key = any_s3_key || t.get(k);
        bool any_s3_url = r.url.starts_with("s3:");
        for (const auto& m : r.mirrors) any_s3_url = any_s3_url || m.starts_with("s3:");
        if (any_s3_key && url && !any_s3_url)
            add(line_of(*t.get("url")),
                s.prefix() +
                    "S3 settings (access_key_id, secret_access_key, region, ca_file, "
                    "connections) are given but neither url nor mirrors is an s3: URL");
        const auto* mirrors = t.get("mirrors") ? t.get("mirrors")->as_array() : nullptr;
        for (size_t i = 0; mirrors && i < mirrors->size(); ++i) {
            const auto* m = mirrors->get(i)->as_string();
            if (m && m->get().starts_with("s3:"))
                check_s3_url(s, "mirrors: element " + std::to_string(i + 1),
                             line_of(*mirrors->get(i)), m->get());
        }
        return r;
    }

    SetConfig set_config(const toml::table& t, size_t index, int& name_line) {
        SetConfig set;
        set.line = line_of(t);
        set.name = name_of(t, "set #" + std::to_string(index), name_line);
        Scope s{t, set.name.empty() ? "set #" + std::to_string(index) : "set '" + set.name + "'",
                "in [[set]]"};
        check_keys(s, k_set_keys, nullptr);
        set.rpo_seconds = duration(s, "rpo");
        set.rto_seconds = duration(s, "rto");
        set.drill_every_seconds = duration(s, "drill_every");
        set.pre_restore = get_string(s, "pre_restore").value_or("");
        set.post_restore = get_string(s, "post_restore").value_or("");
        set.health_check = get_string(s, "health_check").value_or("");
        set.tags = get_strings(s, "tags").value_or(std::vector<std::string>{});
        for (const auto& tag : set.tags)
            if (tag == "safety-snapshot")  // cli/common.h: k_safety_tag
                add(line_of(*t.get("tags")),
                    s.prefix("tags") +
                        " must not hold \"safety-snapshot\": that tag marks the snapshot a "
                        "destructive restore takes, never the set's latest backup");

        if (const toml::node* n = t.get("min_size")) {
            if (const auto* v = n->as_integer(); !v)
                add(line_of(*n),
                    s.prefix("min_size") + " must be an integer (bytes), not " + kind_of(*n));
            else if (v->get() < 0)
                add(line_of(*n), s.prefix("min_size") + " must not be negative, not " +
                                     std::to_string(v->get()) + " (bytes; 0 disables the check)");
            else
                set.min_size = static_cast<uint64_t>(v->get());
        }
        if (auto v = fraction(s, "max_shrink", "0.5",
                              "the fraction a source may shrink by; 0.5 is the default, 1 "
                              "disables the check"))
            set.max_shrink = *v;
        if (auto v = get_string(s, "on_shrink")) {
            if (*v == "fail" || *v == "warn")
                set.fail_on_shrink = *v == "fail";
            else
                add(line_of(*t.get("on_shrink")), s.prefix("on_shrink") + ": '" + shown(*v) +
                                                      R"(' is not valid: use "fail" or "warn")");
        }
        set.retention = retention_policy(s);
        schedule_of(s, set);
        drill_schedule_of(s, set);

        const std::string no_sources = s.label +
                                       " has no sources: add at least one [[set.source]] with a "
                                       "name and a type";
        const toml::node* n = t.get("source");
        if (!n) {
            add(set.line, no_sources);
            return set;
        }
        const toml::array* sources = n->as_array();
        if (!sources) {
            add(line_of(*n), s.prefix("source") + " must be an array of tables ([[set.source]]), " +
                                 "not " + kind_of(*n));
            return set;
        }
        if (sources->empty()) add(line_of(*n), no_sources);
        std::map<std::string, int> seen;
        for (size_t i = 0; i < sources->size(); ++i) {
            const toml::node& e = *sources->get(i);
            const toml::table* st = e.as_table();
            if (!st) {
                add(line_of(e), s.prefix() + "source #" + std::to_string(i + 1) +
                                    " must be a table ([[set.source]]), not " + kind_of(e));
                continue;
            }
            int source_name_line = 0;
            SourceConfig src = source_config(*st, s.prefix(), i + 1, source_name_line);
            if (!src.name.empty()) {
                auto [it, fresh] = seen.emplace(src.name, source_name_line);
                if (!fresh)
                    add(source_name_line, s.prefix() + "duplicate source name '" + src.name +
                                              "' (also on line " + std::to_string(it->second) +
                                              "): source names must be unique within a set");
            }
            set.sources.push_back(std::move(src));
        }
        drill_checks_of(s, set);
        return set;
    }

    void drill_checks_of(const Scope& s, SetConfig& set) {
        const toml::node* n = s.table.get("drill_check");
        if (!n) return;
        const toml::array* checks = n->as_array();
        if (!checks) {
            add(line_of(*n), s.prefix("drill_check") +
                                 " must be an array of tables ([[set.drill_check]]), not " +
                                 kind_of(*n));
            return;
        }
        for (size_t i = 0; i < checks->size(); ++i) {
            const toml::table* t = checks->get(i)->as_table();
            if (!t) {
                add(line_of(*checks->get(i)),
                    s.prefix() + "drill_check #" + std::to_string(i + 1) + " must be a table");
                continue;
            }
            DrillCheck c;
            c.line = line_of(*t);
            c.name = get_string(Scope{*t, s.label, ""}, "name").value_or("");
            Scope cs{*t,
                     s.prefix() + "drill_check '" +
                         (c.name.empty() ? "#" + std::to_string(i + 1) : c.name) + "'",
                     "in [[set.drill_check]]"};
            check_keys(cs, k_drill_check_keys, nullptr);
            if (c.name.empty()) add(c.line, cs.prefix("name") + " is required");
            c.sql = get_string(cs, "sql").value_or("");
            c.source = get_string(cs, "source").value_or("");
            c.expect = get_string(cs, "expect").value_or("");
            c.command = get_string(cs, "command").value_or("");
            c.http = get_string(cs, "http").value_or("");
            c.ca_file = get_string(cs, "ca_file").value_or("");
            c.decrypt = get_string(cs, "decrypt").value_or("");
            c.key_file = get_string(cs, "key_file").value_or("");
            if (const toml::node* st = t->get("expect_status")) {
                const auto* v = st->as_integer();
                if (!v || v->get() < 100 || v->get() > 599)
                    add(line_of(*st), cs.prefix("expect_status") + " must be an HTTP status code");
                else
                    c.expect_status = static_cast<int>(v->get());
            }
            int kinds = !c.sql.empty() + !c.command.empty() + !c.http.empty() + !c.decrypt.empty();
            if (kinds != 1) {
                add(c.line, cs.prefix() + "give exactly one of sql, command, http and decrypt");
                continue;
            }
            if (!c.decrypt.empty()) decrypt_check_of(cs, set, c);
            if (!c.sql.empty()) {
                const SourceConfig* src = set.find_source(c.source);
                if (c.source.empty())
                    add(c.line,
                        cs.prefix("source") +
                            " is required with sql: the postgres or sqlite source to query");
                else if (!src)
                    add(c.line, cs.prefix("source") + ": the set has no source '" + c.source + "'");
                else if (src->type != SourceType::postgres && src->type != SourceType::sqlite)
                    add(c.line, cs.prefix("source") + ": '" + c.source +
                                    "' is not a postgres or sqlite source");
            }
            if (!c.http.empty() && !c.http.starts_with("http://") &&
                !c.http.starts_with("https://"))
                add(c.line, cs.prefix("http") + " must be an http:// or https:// URL");
            if (!c.ca_file.empty() && !c.http.starts_with("https://"))
                add(c.line, cs.prefix("ca_file") + " is only for an https:// check");
            if (!c.key_file.empty() && c.decrypt.empty())
                add(c.line, cs.prefix("key_file") + " is only for a decrypt check");
            set.drill_checks.push_back(std::move(c));
        }
    }

    // A drill writes into and then empties its drill_url: never where live data or backups are
    // (the repository, a mirror, any s3 source's url).
    void drill_urls_apart(const Config& config) {
        std::vector<std::pair<std::string, std::string>> live;  // url, what it is
        live.emplace_back(config.repository.url, "the repository");
        for (const auto& m : config.repository.mirrors) live.emplace_back(m, "a mirror");
        for (const auto& set : config.sets)
            for (const auto& src : set.sources)
                if (src.type == SourceType::s3)
                    live.emplace_back(src.url,
                                      "source '" + src.name + "' of set '" + set.name + "'");
        for (const auto& set : config.sets)
            for (const auto& src : set.sources) {
                if (src.drill_url.empty()) continue;
                for (const auto& [url, what] : live)
                    if (url.starts_with("s3:") && nested_urls(url, src.drill_url)) {
                        add(src.line, "set '" + set.name + "': source '" + src.name +
                                          "': drill_url overlaps " + what +
                                          ": drills must put the objects elsewhere (another "
                                          "bucket, or a prefix outside it)");
                        break;
                    }
            }
    }

    // A key-material check: the canary (outside the backup) must decrypt, with the key file
    // restored from a files source, to the expected text.
    void decrypt_check_of(const Scope& cs, const SetConfig& set, const DrillCheck& c) {
        if (!c.decrypt.starts_with("/"))
            add(c.line, cs.prefix("decrypt") + " must be an absolute path (the canary file)");
        if (c.expect.empty())
            add(c.line,
                cs.prefix("expect") + " is required with decrypt: the text the canary decrypts to");
        if (c.key_file.empty()) {
            add(c.line, cs.prefix("key_file") +
                            " is required with decrypt: the key file's absolute live path");
            return;
        }
        if (!plain_absolute(c.key_file)) {
            add(c.line, cs.prefix("key_file") + " '" + shown(c.key_file) +
                            "' must be an absolute path without '.', '..' or empty components");
            return;
        }
        const SourceConfig* src = set.find_source(c.source);
        if (!src || src->type != SourceType::files) {
            add(c.line, cs.prefix("source") +
                            (c.source.empty() ? std::string(" is required with decrypt")
                                              : ": '" + c.source + "' is not a files source") +
                            " (the files source of the set that backs up key_file)");
            return;
        }
        bool inside = false;
        for (const auto& p : src->paths) {
            std::string dir = std::filesystem::path(p).lexically_normal().string();
            while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
            inside =
                inside || c.key_file == dir || c.key_file.starts_with(dir == "/" ? dir : dir + "/");
        }
        if (!inside)
            add(c.line, cs.prefix("key_file") + " '" + shown(c.key_file) +
                            "' is not under any of source '" + c.source + "' paths");
    }

    // A number (integer or float) in 0..1; nullopt when absent or invalid. example and meaning
    // go into the messages.
    std::optional<double> fraction(const Scope& s, std::string_view key, std::string_view example,
                                   std::string_view meaning) {
        const toml::node* n = s.table.get(key);
        if (!n) return std::nullopt;
        std::optional<double> v;
        if (const auto* i = n->as_integer()) v = static_cast<double>(i->get());
        if (const auto* f = n->as_floating_point()) v = f->get();
        if (!v) {
            add(line_of(*n), s.prefix(key) + " must be a number between 0 and 1 (e.g. " +
                                 std::string(example) + "), not " + kind_of(*n));
            return std::nullopt;
        }
        if (!(*v >= 0.0 && *v <= 1.0)) {
            char text[32];
            std::snprintf(text, sizeof text, "%g", *v);
            add(line_of(*n),
                s.prefix(key) + ": " + text + " is outside 0..1 (" + std::string(meaning) + ")");
            return std::nullopt;
        }
        return v;
    }

    // schedule and timezone, each checked on its own line: the expression in UTC, the zone
    // apart, so both problems are reported when both are wrong.
    void drill_schedule_of(const Scope& s, SetConfig& set) {
        const toml::node* node = s.table.get("drill_schedule");
        auto expression = get_string(s, "drill_schedule");
        if (!expression) return;
        if (auto parsed = schedule::Schedule::parse(*expression); !parsed.ok())
            add(line_of(*node), s.prefix("drill_schedule") + ": " + parsed.status().message());
        else if (!s.table.get("schedule"))
            add(line_of(*node), s.prefix("drill_schedule") +
                                    " needs a schedule too: the daemon runs only scheduled sets");
        else
            set.drill_schedule = parsed->expression();
    }

    void schedule_of(const Scope& s, SetConfig& set) {
        const toml::node* expression_node = s.table.get("schedule");
        const toml::node* zone_node = s.table.get("timezone");
        auto expression = get_string(s, "schedule");
        auto zone = get_string(s, "timezone");
        if (expression) {
            if (expression->empty()) {
                add(line_of(*expression_node),
                    s.prefix("schedule") +
                        " must not be empty (e.g. \"30 2 * * *\", \"@daily\", \"@every 6h\"; "
                        "leave it out for a set the daemon does not run)");
            } else if (auto parsed = schedule::Schedule::parse(*expression); !parsed.ok()) {
                add(line_of(*expression_node), s.prefix() + parsed.status().message());
            } else {
                set.schedule = parsed->expression();
            }
        }
        if (zone) {
            if (Status st = schedule::Schedule::check_timezone(*zone); !st.ok())
                add(line_of(*zone_node), s.prefix("timezone") + ": " + st.message());
            else
                set.timezone = *zone;
            if (!expression_node)
                add(line_of(*zone_node),
                    s.prefix("timezone") +
                        " is set but schedule is not: a time zone applies only to a schedule "
                        "(e.g. schedule = \"30 2 * * *\")");
        }
    }

    ServerConfig server(const toml::table& t) {
        Scope s{t, "[server]", ""};
        check_keys(s, k_server_keys, nullptr);
        ServerConfig c;
        if (auto v = get_string(s, "state_dir")) {
            if (!v->starts_with('/'))
                add(line_of(*t.get("state_dir")),
                    s.prefix("state_dir") + " '" + shown(*v) +
                        "' must be an absolute path (leave it out for the default: "
                        "/var/lib/coffer for root, else ~/.local/state/coffer)");
            else
                c.state_dir = *v;
        }
        if (auto v = get_string(s, "listen")) {
            if (std::string problem = listen_problem(*v); !problem.empty())
                add(line_of(*t.get("listen")), s.prefix("listen") + " '" + shown(*v) + "' " +
                                                   problem + " " + std::string(k_listen_form));
            else
                c.listen = *v;
        }
        if (auto v = get_string(s, "metrics_listen")) {
            if (std::string problem = listen_problem(*v); !problem.empty())
                add(line_of(*t.get("metrics_listen")), s.prefix("metrics_listen") + " '" +
                                                           shown(*v) + "' " + problem + " " +
                                                           std::string(k_listen_form));
            else
                c.metrics_listen = *v;
        }
        for (const char* key : {"tls_cert", "tls_key"}) {
            auto v = get_string(s, key);
            if (!v) continue;
            if (!v->starts_with('/'))
                add(line_of(*t.get(key)), s.prefix(key) + " '" + shown(*v) +
                                              "' must be an absolute path to a PEM file");
            else
                (std::string(key) == "tls_cert" ? c.tls_cert : c.tls_key) = *v;
        }
        if (t.contains("tls_cert") != t.contains("tls_key"))
            add(line_of(*t.get(t.contains("tls_cert") ? "tls_cert" : "tls_key")),
                s.prefix(t.contains("tls_cert") ? "tls_cert" : "tls_key") +
                    " needs " + (t.contains("tls_cert") ? "tls_key" : "tls_cert") +
                    " too: give both, or neither for a self-signed certificate");
        if (auto v = get_string(s, "webhook_url")) {
            if (std::string problem = webhook_problem(*v); !problem.empty())
                add(line_of(*t.get("webhook_url")),
                    s.prefix("webhook_url") + " '" + shown(*v) + "' " + problem +
                        R"( (e.g. "https://alerts.example.com/coffer"))");
            else
                c.webhook_url = *v;
        }
        if (auto v = get_string(s, "on_failure")) {
            if (v->empty())
                add(line_of(*t.get("on_failure")),
                    s.prefix("on_failure") +
                        " must not be empty (a shell command, run with sh -c; leave it out for "
                        "none)");
            c.on_failure = *v;
        }
        c.catch_up = get_bool(s, "catch_up").value_or(true);
        c.prune = get_bool(s, "prune").value_or(true);
        if (auto d = duration(s, "prune_grace", true)) c.prune_grace_s = *d;
        if (auto v = fraction(s, "prune_max_unused", "0.2",
                              "the share of a pack's bytes that may be unused before prune "
                              "repacks it; 0.2 is the default"))
            c.prune_max_unused = *v;
        return c;
    }

    // retention = { keep_daily = 7, ... } or [set.retention]; nullopt when absent or invalid.
    std::optional<retention::Policy> retention_policy(const Scope& set) {
        const toml::node* n = set.table.get("retention");
        if (!n) return std::nullopt;
        const toml::table* t = n->as_table();
        if (!t) {
            add(line_of(*n), set.prefix("retention") +
                                 " must be a table (e.g. retention = { keep_daily = 7, "
                                 "keep_within = \"30d\" }), not " +
                                 kind_of(*n));
            return std::nullopt;
        }
        if (t->empty()) {
            add(line_of(*n),
                "retention for " + set.label + " keeps nothing: set at least one keep_* rule");
            return std::nullopt;
        }
        Scope s{*t, set.prefix("retention"), ""};
        check_keys(s, k_retention_keys, nullptr);
        const size_t before = m_problems.size();
        retention::Policy p;
        p.keep_last = keep_count(s, "keep_last");
        p.keep_hourly = keep_count(s, "keep_hourly");
        p.keep_daily = keep_count(s, "keep_daily");
        p.keep_weekly = keep_count(s, "keep_weekly");
        p.keep_monthly = keep_count(s, "keep_monthly");
        p.keep_yearly = keep_count(s, "keep_yearly");
        p.keep_within_s = duration(s, "keep_within");
        if (m_problems.size() != before) return std::nullopt;
        return p;
    }

    std::optional<uint32_t> keep_count(const Scope& s, std::string_view key) {
        const toml::node* n = s.table.get(key);
        if (!n) return std::nullopt;
        const auto* v = n->as_integer();
        if (!v) {
            add(line_of(*n),
                s.prefix(key) + " must be an integer (a count of snapshots), not " + kind_of(*n));
            return std::nullopt;
        }
        if (v->get() < 0 || v->get() > k_max_keep) {
            add(line_of(*n), s.prefix(key) + ": " + std::to_string(v->get()) + " is outside 0.." +
                                 std::to_string(k_max_keep));
            return std::nullopt;
        }
        return static_cast<uint32_t>(v->get());
    }

    SourceConfig source_config(const toml::table& t, const std::string& set_prefix, size_t index,
                               int& name_line) {
        SourceConfig src;
        src.line = line_of(t);
        std::string label = set_prefix + "source #" + std::to_string(index);
        src.name = name_of(t, label, name_line);
        if (!src.name.empty()) label = set_prefix + "source '" + src.name + "'";
        Scope s{t, label, "in [[set.source]]"};

        Keys type_names;
        for (const auto& ti : k_types) type_names.push_back(ti.name);
        const TypeInfo* info = nullptr;
        auto type = get_string(s, "type");
        if (!t.get("type")) {
            add(src.line,
                s.prefix("type") + " is required (one of " + join(type_names, "\"") + ")");
        } else if (type) {
            for (const auto& ti : k_types)
                if (ti.name == *type) info = &ti;
            if (!info) {
                std::string message = s.prefix("type") + " '" + shown(*type) +
                                      "' is not valid: use one of " + join(type_names, "\"");
                if (auto best = closest(*type, type_names); !best.empty())
                    message += " (did you mean '" + std::string(best) + "'?)";
                add(line_of(*t.get("type")), std::move(message));
            }
        }

        Keys allowed = k_source_keys;
        for (const auto& ti : k_types)
            if (!info || info == &ti) allowed.insert(allowed.end(), ti.keys.begin(), ti.keys.end());
        check_keys(s, allowed, info);
        if (info) src.type = info->type;

        // Every value is type-checked whatever the type; requiredness depends on it.
        auto dsn = get_string(s, "dsn");
        auto path = get_string(s, "path");
        auto paths = get_strings(s, "paths");
        auto url = get_string(s, "url");
        auto backup_command = get_string(s, "backup_command");
        src.dsn = dsn.value_or("");
        src.pg_dump = string_or(s, "pg_dump", "pg_dump");
        src.pg_dumpall = string_or(s, "pg_dumpall", "pg_dumpall");
        src.psql = string_or(s, "psql", "psql");
        src.roles = get_bool(s, "roles").value_or(true);
        src.path = path.value_or("");
        src.paths = paths.value_or(std::vector<std::string>{});
        src.exclude = get_strings(s, "exclude").value_or(std::vector<std::string>{});
        src.url = url.value_or("");
        src.access_key_id = get_string(s, "access_key_id").value_or("");
        src.secret_access_key = get_string(s, "secret_access_key").value_or("");
        src.region = get_string(s, "region").value_or("");
        src.drill_dsn = get_string(s, "drill_dsn").value_or("");
        src.drill_url = get_string(s, "drill_url").value_or("");
        src.backup_command = backup_command.value_or("");
        src.restore_command = get_string(s, "restore_command").value_or("");
        if (!info) return src;

        switch (info->type) {
            case SourceType::postgres:
                require(s, "dsn", dsn,
                        R"(for a postgres source (e.g. "postgresql://user@127.0.0.1:5432/db"))");
                break;
            case SourceType::sqlite:
                require(s, "path", path,
                        R"(for a sqlite source (the database file, e.g. "/var/lib/app/state.db"))");
                break;
            case SourceType::files:
                if (!t.get("paths"))
                    require(s, "paths", std::nullopt,
                            R"(for a files source (e.g. paths = ["/etc/app"]))");
                else if (paths && paths->empty())
                    add(line_of(*t.get("paths")),
                        s.prefix("paths") + " must list at least one file or directory");
                break;
            case SourceType::s3:
                require(s, "url", url, std::string("for an s3 source ") + std::string(k_s3_form));
                if (url && !url->empty()) check_s3_url(s, "url", line_of(*t.get("url")), *url);
                if (!src.drill_url.empty())
                    check_s3_url(s, "drill_url", line_of(*t.get("drill_url")), src.drill_url);
                break;
            case SourceType::command:
                require(s, "backup_command", backup_command,
                        "for a command source (a shell command, run with sh -c)");
                break;
        }
        return src;
    }
};

}  // namespace

Config check(const toml::table& root, std::vector<Problem>& problems) {
    return Walker(problems).run(root);
}

std::string shown(std::string_view text) {
    return printable_excerpt(text, 64);
}

size_t edit_distance(std::string_view a, std::string_view b) {
    // d[i][j]: distance between the first i characters of a and the first j of b.
    std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
    for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
    for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
    for (size_t i = 1; i <= a.size(); ++i)
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
        }
    return d[a.size()][b.size()];
}

}  // namespace coffer::config::detail

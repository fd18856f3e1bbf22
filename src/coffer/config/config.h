// coffer.toml: configuration as code. Parses and validates the file into plain structs, and
// reports every error at once, each with its line and what is expected.
//
// Schema (keys not listed are errors):
//   [repository]  url (string, required), host_key (string), recovery_key_file (string),
//                 mirrors (array of strings), cache_dir (string); for an s3: url also
//                 access_key_id, secret_access_key (strings, both or neither; default from
//                 AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY), region (string; default
//                 AWS_DEFAULT_REGION, else "us-east-1"), ca_file (PEM file trusted for TLS
//                 instead of the system's CAs), connections (integer 1..256, requests in
//                 flight at once; default 8), object_lock_mode ("governance" | "compliance")
//                 and object_lock_days (integer 1..36500), both or neither: every repository
//                 object is written with S3 Object Lock retention for that long
//   [[set]]       name (required, [A-Za-z0-9_.-]+, unique), rpo, rto (durations "30s", "15m",
//                 "1h", "7d", "1h30m"), pre_restore, post_restore, health_check (strings, run
//                 with sh -c), min_size (bytes, integer; a source smaller than this fails the
//                 backup; default 1), max_shrink (fraction 0..1: a source shrinking by more
//                 than this against the previous snapshot fails; default 0.5, 1 disables),
//                 on_shrink ("fail" or "warn"; default "fail"), tags (array of strings),
//                 retention (a table, inline or [set.retention]; see below), schedule (when
//                 `coffer serve` backs the set up: a cron expression "30 2 * * *", @daily or
//                 "@every 6h"; absent: never; see docs/schedule.md and schedule/schedule.h),
//                 timezone (IANA name the cron fields are read in, e.g. "Europe/Berlin";
//                 default "UTC"; only with schedule)
//   retention     keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly, keep_yearly
//                 (integers 0..1000000), keep_within (duration, longer than zero); every key
//                 optional but at least one required. Absent: the set has no policy and
//                 retention removes nothing. See docs/retention.md and retention/policy.h
//   [[set.source]] name (required, same charset, unique within the set), type (required:
//                 "postgres" | "sqlite" | "files" | "s3" | "command"), and per type:
//       postgres: dsn (required, a libpq URI or "key=value" string; a password in it is passed
//                 to pg_dump/psql through PGPASSWORD, never argv), pg_dump, pg_dumpall, psql
//                 (program paths, default their names), roles (bool, default true: dump roles
//                 too; needs a superuser), drill_dsn (the server drills use; default dsn)
//       sqlite:   path (required)
//       files:    paths (required, non-empty array), exclude (array of globs)
//       s3:       url (required, "s3:http(s)://host[:port]/bucket[/prefix]"), access_key_id,
//                 secret_access_key, region (strings; default from AWS_* environment),
//                 drill_url (same form, outside url: where drills put the objects back)
//       command:  backup_command (required), restore_command (string)
//   [server]      optional, for `coffer serve`: state_dir (absolute path), listen ("host:port"
//                 of the HTTPS API, host a literal IP address, IPv6 in brackets, or
//                 "localhost"; port 0..65535, 0 picks a free one; default "127.0.0.1:8443"),
//                 tls_cert and tls_key (absolute paths, both or neither), metrics_listen (the
//                 same form; plain-HTTP /metrics and /healthz, default none), webhook_url (http:// or
//                 https:// URL), on_failure (shell command), catch_up, prune (booleans, default
//                 true), prune_grace (duration, may be "0s"; default "1h"), prune_max_unused
//                 (fraction 0..1; default 0.2)
// Plain values; thread-compatible.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "coffer/retention/policy.h"
#include "coffer/util/status.h"

namespace coffer::config {

enum class SourceType { postgres, sqlite, files, s3, command };
std::string_view source_type_name(SourceType t);

struct SourceConfig {
    std::string name;
    SourceType type = SourceType::files;
    int line = 0;  // where the [[set.source]] table starts, for messages
    // postgres
    std::string dsn;
    std::string pg_dump = "pg_dump";
    std::string pg_dumpall = "pg_dumpall";
    std::string psql = "psql";
    bool roles = true;      // dump roles (pg_dumpall --roles-only) and recreate missing ones
    std::string drill_dsn;  // the server drills load their scratch database on; empty: dsn's
    // sqlite
    std::string path;
    // files
    std::vector<std::string> paths;
    std::vector<std::string> exclude;
    // s3
    std::string url;
    std::string access_key_id;
    std::string secret_access_key;
    std::string region;
    std::string drill_url;  // "s3:..." bucket/prefix drills put the objects under; empty: files
    // command
    std::string backup_command;
    std::string restore_command;

    // The server a drill loads this postgres source's scratch database on.
    const std::string& drill_dsn_or_dsn() const { return drill_dsn.empty() ? dsn : drill_dsn; }
};

// A check a drill runs on its scratch restore ([[set.drill_check]]; docs/drills.md). Exactly
// one of sql, command, http and decrypt is set.
struct DrillCheck {
    std::string name;
    int line = 0;
    std::string sql;      // run against source's scratch copy (postgres or sqlite)
    std::string source;   // for sql and decrypt
    std::string expect;   // sql: "[op] value", op one of = != < <= > >= (default =); decrypt:
                          // the plaintext the canary must decrypt to
    std::string command;  // must exit 0; the scratch targets are in COFFER_DRILL_* variables
    std::string http;     // an http:// or https:// GET that must answer expect_status
    int expect_status = 200;
    std::string ca_file;   // for https: PEM CA certificates trusted instead of the system's
    std::string decrypt;   // a canary file: AES-256-GCM, nonce (12) | ciphertext | tag (16)
    std::string key_file;  // for decrypt: the key's live path, inside the files source
};

struct SetConfig {
    std::string name;
    int line = 0;
    std::optional<int64_t> rpo_seconds;
    std::optional<int64_t> rto_seconds;
    std::string pre_restore;
    std::string post_restore;
    std::string health_check;
    uint64_t min_size = 1;
    double max_shrink = 0.5;
    bool fail_on_shrink = true;
    std::vector<std::string> tags;
    std::optional<retention::Policy> retention;  // nullopt: no [set.retention], keep everything
    std::string schedule;                        // empty: the daemon never runs this set
    std::string timezone = "UTC";                // of schedule; both valid for Schedule::parse
    std::string drill_schedule;  // empty: the daemon runs no drill of this set (drills.md)
    std::optional<int64_t> drill_every_seconds;  // status flags a set with no drill this recent
    std::vector<SourceConfig> sources;
    std::vector<DrillCheck> drill_checks;

    const SourceConfig* find_source(std::string_view name) const;
};

struct RepositoryConfig {
    std::string url;
    std::string host_key;
    std::string recovery_key_file;
    std::string cache_dir;
    std::vector<std::string> mirrors;
    // S3 repositories (see s3/client.h); empty / 0 means the default.
    std::string access_key_id;
    std::string secret_access_key;
    std::string region;
    std::string ca_file;
    unsigned connections = 0;
    std::string object_lock_mode;  // "GOVERNANCE" or "COMPLIANCE" (upper-cased); empty: none
    unsigned object_lock_days = 0;
};

// [server]: the daemon's settings. Every field has its default when the table is absent.
struct ServerConfig {
    // Where the run history lives. Empty (the default) leaves the choice to the caller:
    // /var/lib/coffer for root, else $XDG_STATE_HOME/coffer or ~/.local/state/coffer.
    std::string state_dir;
    // "host:port" of the HTTPS API, the dashboard, /metrics and /healthz; host a literal IP
    // ("[::1]" for IPv6) or "localhost"; port 0 picks a free one.
    std::string listen = "127.0.0.1:8443";
    // The API's certificate and key (PEM, absolute paths, both or neither); neither: a
    // self-signed pair made on first start in <state_dir>/tls.
    std::string tls_cert, tls_key;
    // Also serve /metrics and /healthz over plain HTTP here (for a Prometheus without TLS);
    // empty (the default): not.
    std::string metrics_listen;
    std::string webhook_url;  // http(s) URL, POSTed a JSON event on a failed run or RPO violation
    std::string on_failure;   // shell command run (sh -c) on the same events; empty: none
    bool catch_up = true;     // run a job once at start-up when its last scheduled time passed
                              // while the daemon was down
    bool prune = true;        // prune after applying retention
    int64_t prune_grace_s = 3600;   // key prune_grace, a duration; 0 allowed
    double prune_max_unused = 0.2;  // key prune_max_unused, fraction 0..1
};

struct Config {
    std::string path;  // the file it came from
    RepositoryConfig repository;
    ServerConfig server;
    std::vector<SetConfig> sets;

    const SetConfig* find_set(std::string_view name) const;
};

struct Problem {
    int line = 0;         // 0 when the problem has no single line
    std::string message;  // "set 'platform': source 'db': dsn is required (a PostgreSQL URI)"
    std::string to_string(const std::string& path) const;  // "coffer.toml:12: ..."
};

// Parses and validates. On failure returns Code::invalid_argument whose message is the first
// problem ("<path>:<line>: <message>"); every problem is appended to *problems when given.
Result<Config> load(const std::string& path, std::vector<Problem>* problems = nullptr);
Result<Config> parse(std::string_view text, const std::string& path,
                     std::vector<Problem>* problems = nullptr);

// "30s", "15m", "1h", "7d", "2w", "1h30m" -> seconds. Code::invalid_argument otherwise.
// One parser for the whole program: it lives in retention, next to its inverse format_duration.
using retention::parse_duration;

}  // namespace coffer::config

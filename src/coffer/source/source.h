// Sources of a backup set: how each configured source type is read into a snapshot (as a
// backup::SourceInput) and written back on restore, and the checks that prove it came back.
//
// Layout of a source's directory in a snapshot:
//   files:   the paths, as in a plain backup ("/" -> "etc" -> "platform" -> …)
//   command: "stdout" (what backup_command printed)
//   sqlite:  "database.sqlite" (an online-backup copy) and "checks.json" (row counts per table
//            and PRAGMA integrity_check of the copy)
//   postgres: "database.sql" (pg_dump, plain), "globals.sql" (pg_dumpall --roles-only, unless
//            roles = false) and "checks.json" (row counts per "schema.table" taken in the
//            dump's snapshot, and the database's owner, encoding and locale)
//   s3:      "objects.bin" (every object's bytes, back to back, in key order) and
//            "manifest.json" (key, size, sha256, md5, content_type, metadata of each)
// Thread-compatible; one restore at a time.
#pragma once

#include <string>
#include <vector>

#include "coffer/backup/backup.h"
#include "coffer/config/config.h"

namespace coffer::source {

struct Check {
    std::string source;
    std::string name;  // "row count public.users", "integrity_check", "exit status"
    bool ok = false;
    std::string detail;  // "1200 rows, 1200 recorded"
};

struct RestoreRequest {
    const config::SourceConfig* source = nullptr;
    Id tree;  // the source's directory in the snapshot
    // Alternative target (files, sqlite, command; postgres writes its dump files here): restore
    // here instead of over the live data.
    std::string target_dir;
    // Alternative target (postgres): load into this new database instead of the live one.
    std::string into_database;
    // Alternative target (s3): put the objects into this empty bucket/prefix ("s3:...").
    std::string into_bucket;
};

// Builds what the backup engine reads for this source.
Result<backup::SourceInput> backup_input(const config::SourceConfig& source);

// Restores one source and returns the checks it ran. A failed check is a Check with ok=false,
// not an error; errors mean the restore itself could not be done.
Result<std::vector<Check>> restore(repo::Repository& repository, const RestoreRequest& request);

// One line on what the source's live target holds now, for the confirmation prompt.
std::string describe_current(const config::SourceConfig& source);

// Type-specific halves, used by the dispatch in source.cpp.
Result<backup::SourceInput> command_backup(const config::SourceConfig& source);
Result<std::vector<Check>> command_restore(repo::Repository& repository, const RestoreRequest& r);
Result<backup::SourceInput> sqlite_backup(const config::SourceConfig& source);
Result<std::vector<Check>> sqlite_restore(repo::Repository& repository, const RestoreRequest& r);
Result<backup::SourceInput> postgres_backup(const config::SourceConfig& source);
Result<std::vector<Check>> postgres_restore(repo::Repository& repository, const RestoreRequest& r);
std::string postgres_describe(const config::SourceConfig& source);
// The names drills give their scratch databases and scratch prefixes. Nothing else is ever
// dropped or emptied by a drill, so no live database or bucket can be.
inline constexpr std::string_view k_scratch_database_prefix = "coffer_drill_";
inline constexpr std::string_view k_scratch_prefix_prefix = "coffer-drill-";

// Drops a scratch database a drill made on the source's server. Refuses any name that does not
// start with "coffer_drill_", so it can never drop a live database.
Status postgres_drop_scratch(const config::SourceConfig& source, const std::string& name);
Result<backup::SourceInput> s3_backup(const config::SourceConfig& source);
// Deletes every object under a scratch prefix a drill filled (url "s3:.../coffer-drill-<id>");
// ok when the bucket or the objects are already gone. Refuses a url whose last prefix segment
// does not start with "coffer-drill-".
Status s3_empty_scratch(const config::SourceConfig& source, const std::string& url);
Result<std::vector<Check>> s3_restore(repo::Repository& repository, const RestoreRequest& r);
std::string s3_describe(const config::SourceConfig& source);
Result<std::vector<Check>> files_restore(repo::Repository& repository, const RestoreRequest& r);

}  // namespace coffer::source

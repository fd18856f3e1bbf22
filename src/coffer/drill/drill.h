// A restore drill: restores one snapshot of a backup set into scratch targets that never touch
// production, runs the restore's own checks, measures RTO and RPO, cleans up, and returns the
// result as JSON (the shape report.h renders).
//
// Scratch targets: a PostgreSQL source is loaded into a new database coffer_drill_<id> on its
// drill_dsn server, else its own (restore --into-database); an s3 source with a drill_url puts
// its objects under <drill_url>/coffer-drill-<id> (restore --into-bucket); every other source
// (files, SQLite, a command's output, an s3 bucket's objects without drill_url) goes into
// <scratch dir>/<source name> (restore --target). Nothing is written to a live target and no
// hook (pre_restore, post_restore) runs. The scratch targets are removed at the end unless keep
// is set; only databases named coffer_drill_* and prefixes named coffer-drill-* are ever removed.
// Before it makes each of them, the drill records it (leftovers.h); a drill first removes what
// killed drills recorded, and fails while something an earlier drill made cannot be removed.
//
// Then the set's own [[set.drill_check]]s run against the scratch targets (checks.h).
// RTO is the wall time from start to the last check; RPO is the snapshot's age at the start of
// the drill and the worst gap between consecutive snapshots of the set (and from the newest to
// now). Each is compared with the set's rto and rpo. Not thread-safe (one drill at a time).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "coffer/config/config.h"
#include "coffer/repo/repository.h"

namespace coffer::drill {

struct Options {
    std::string scratch_parent;  // where the scratch directory is made ($TMPDIR or /tmp)
    std::string records_dir;     // where drills record what they make (leftovers.h); lasting
    bool keep = false;           // leave the scratch targets for inspection
};

// set_snapshots: every snapshot of the set, oldest first (for the RPO gaps); chosen among them.
// Returns the drill's JSON; a Status only when the drill could not start (no such source type
// support, scratch directory not creatable). A failure part-way is "ok": false with "error".
// config: the whole configuration, whose sources an earlier drill's record is checked against.
Result<nlohmann::json> run(repo::Repository& repository, const config::Config& config,
                           const config::SetConfig& set, const repo::Snapshot& chosen,
                           const std::vector<repo::Snapshot>& set_snapshots,
                           const Options& options);

}  // namespace coffer::drill

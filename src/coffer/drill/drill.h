// A restore drill: restores one snapshot of a backup set into scratch targets that never touch
// production, runs the restore's own checks, measures RTO and RPO, cleans up, and returns the
// result as JSON (the shape report.h renders).
//
// Scratch targets: a PostgreSQL source is loaded into a new database coffer_drill_<id> on its
// own server (restore --into-database); every other source (files, SQLite, a command's output,
// an s3 bucket's objects) goes into <scratch dir>/<source name> (restore --target). Nothing is
// written to a live target and no hook (pre_restore, post_restore) runs. The scratch targets are
// removed at the end unless keep is set; only databases whose names start with coffer_drill_
// are ever dropped.
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
    bool keep = false;           // leave the scratch targets for inspection
};

// set_snapshots: every snapshot of the set, oldest first (for the RPO gaps); chosen among them.
// Returns the drill's JSON; a Status only when the drill could not start (no such source type
// support, scratch directory not creatable). A failure part-way is "ok": false with "error".
Result<nlohmann::json> run(repo::Repository& repository, const config::SetConfig& set,
                           const repo::Snapshot& chosen,
                           const std::vector<repo::Snapshot>& set_snapshots,
                           const Options& options);

}  // namespace coffer::drill

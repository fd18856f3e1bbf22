// An audit log export: a directory an auditor can verify with nothing else (coffer audit verify
// --offline DIR), and by hand with the README it contains.
//
//   entries.ndjson      {"index": i, "leaf": "<base64 of the leaf's exact bytes>"} per line
//   checkpoints.ndjson  {"size": n, "note": "<base64 of the signed note>"} per line, as written
//   keys.ndjson         the key registry as the log defines it (informative: the verifier
//                       rebuilds it from the entries)
//   manifest.json       origin, counts, and the SHA-256 of each file above
//   README.md           what the files are and how to check them
// The verifier never re-serializes an entry: it hashes the decoded leaf bytes. Its trust anchor
// (a verifier key or a checkpoint seen before) comes from the command line, never from the
// export. Refuses to write into an existing non-empty directory.
#pragma once

#include <string>
#include <vector>

#include "coffer/audit/log_verify.h"
#include "coffer/util/status.h"

namespace coffer::audit {

Status write_export(const std::string& dir, const std::vector<std::string>& leaves,
                    const std::vector<std::string>& checkpoints);

// Checks the manifest's hashes, then the log. A Status only when the export cannot be read at
// all (missing files, bad manifest); everything about the log itself is in the Report.
Result<Report> verify_export(const std::string& dir, const TrustAnchor& anchor);

}  // namespace coffer::audit

// All-or-nothing restores into a target that is new or empty (restore.cpp's internal helper).
//
// The tree is restored into a staging directory and only then made the target, so a restore
// killed part-way never leaves a target that looks restored and is not:
//   - a target that does not exist is staged beside it, in <parent>/.<name>.coffer-partial-XXXXXX,
//     and renamed into place: the target exists complete, or not at all;
//   - an empty target directory (a fresh volume's mount point, say) is staged inside it, in
//     <target>/.coffer-partial-XXXXXX, whose entries then move up one rename each: while a
//     .coffer-partial-* directory is in the target, the restore is not finished.
// Staging directories of restores that were killed (util/staging.h) are removed first, and a
// target holding nothing else counts as empty. A target holding one beside other entries was
// killed while they moved up: it is refused, naming it, until emptied or overwritten.
#pragma once

#include <functional>
#include <string>

#include "coffer/restore/restore.h"

namespace coffer::restore {

// Calls restore_into(staging directory) and moves the result to target as described above.
// A failed restore_into leaves the target as it was.
Result<Outcome> restore_staged(
    const std::string& target,
    const std::function<Result<Outcome>(const std::string&)>& restore_into);

// Removes the staging directories that killed restores left inside target: an --overwrite
// restore, once complete, replaces what they stood for.
Status remove_abandoned_staging(const std::string& target);

}  // namespace coffer::restore

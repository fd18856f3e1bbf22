// The files source: restored into a staging directory beside each path, then swapped in with
// one renameat2(RENAME_EXCHANGE), so a reader, or a crash, sees the old tree or the new one,
// never a mixture or neither; the old tree is removed after.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "coffer/restore/restore.h"
#include "coffer/source/source.h"
#include "coffer/util/crash_step.h"
#include "coffer/util/file.h"
#include "coffer/util/staging.h"

namespace coffer::source {

namespace fs = std::filesystem;

namespace {

constexpr const char* k_staging_prefix = ".coffer-restore-";

// Puts the restored tree at path in one step: an exchange where path exists (the old tree
// lands in the staging directory), a rename where it does not. A crash leaves path old or new.
Status swap_in(const std::string& restored, const std::string& path, const std::string& parent) {
    struct stat st {};
    bool exists = ::lstat(path.c_str(), &st) == 0;
    unsigned flags = exists ? RENAME_EXCHANGE : RENAME_NOREPLACE;
    if (::renameat2(AT_FDCWD, restored.c_str(), AT_FDCWD, path.c_str(), flags) != 0) {
        if (errno != EINVAL)
            return errno_status(
                (exists ? "swap the restored tree in at " : "move restored ") + path, errno);
        // A filesystem without renameat2 flags: a directory cannot be renamed over a
        // non-empty one, so the old tree moves aside first, leaving a moment without path.
        if (exists) {
            // Never swept: after a crash here it holds the only copy of the old tree.
            TRY_ASSIGN(StagingDir old, StagingDir::create(parent, ".coffer-old-"));
            std::string aside = old.path() + "/" + fs::path(path).filename().string();
            if (::rename(path.c_str(), aside.c_str()) != 0)
                return errno_status("move " + path + " aside", errno);
            if (::rename(restored.c_str(), path.c_str()) != 0) {
                int e = errno;
                if (::rename(aside.c_str(), path.c_str()) != 0)  // put it back
                    return errno_status("move restored " + path + " into place (the old tree " +
                                            "is in " + aside + ")",
                                        e);
                return errno_status("move restored " + path + " into place", e);
            }
            TRY(fsync_dir(parent));
            old.remove();
        } else if (::rename(restored.c_str(), path.c_str()) != 0) {
            return errno_status("move restored " + path + " into place", errno);
        }
    }
    return fsync_dir(parent);
}

}  // namespace

Result<std::vector<Check>> files_restore(repo::Repository& repository, const RestoreRequest& r) {
    const auto& src = *r.source;
    std::vector<Check> checks;
    auto outcome_check = [&](const std::string& what, const restore::Outcome& o) {
        std::string detail =
            std::to_string(o.files) + " files, " + std::to_string(o.bytes) + " bytes";
        if (!o.errors.empty()) detail += "; first error: " + o.errors.front();
        checks.push_back({src.name, "restore " + what, o.errors.empty(), detail});
    };
    if (!r.target_dir.empty()) {
        restore::Options opts;
        opts.target = r.target_dir;
        TRY_ASSIGN(auto outcome, restore::restore_tree(repository, r.tree, opts));
        outcome_check("into " + r.target_dir, outcome);
        return checks;
    }
    for (const auto& configured : src.paths) {
        std::string path = fs::absolute(configured).lexically_normal().string();
        while (path.size() > 1 && path.back() == '/') path.pop_back();
        auto node = restore::find_node(repository, r.tree, path);
        if (!node.ok()) {
            checks.push_back({src.name, "restore " + path, false,
                              "not in the snapshot (was it added to the config later?)"});
            continue;
        }
        std::string parent = fs::path(path).parent_path().string();
        // Staging directories of a restore that was killed are removed first; a running
        // restore's are locked and stay.
        TRY(sweep_staging(parent, k_staging_prefix).status());
        TRY_ASSIGN(StagingDir staging, StagingDir::create(parent, k_staging_prefix));
        restore::Options opts;
        opts.target = staging.path();
        opts.includes = {path};
        opts.overwrite = true;  // the staging directory is ours and empty: no second staging
        auto outcome = restore::restore_tree(repository, r.tree, opts);
        if (!outcome.ok() || !outcome->errors.empty()) {
            staging.remove();  // the live path is untouched
            if (!outcome.ok()) return outcome.status().with_context("source '" + src.name + "'");
            outcome_check(path, *outcome);
            continue;
        }
        TRY(swap_in(staging.path() + path, path, parent));
        crash_step("files-swapped");
        staging.remove();  // now the old tree
        outcome_check(path, *outcome);
    }
    return checks;
}

}  // namespace coffer::source

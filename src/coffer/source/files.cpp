// The files source: restored into a staging directory beside each path, then swapped in, so a
// reader sees the old tree or the new one, never a mixture; the old tree is removed after.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "coffer/restore/restore.h"
#include "coffer/source/source.h"

namespace coffer::source {

namespace fs = std::filesystem;

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
        std::string staging_tmpl = parent + "/.coffer-restore-XXXXXX";
        if (!mkdtemp(staging_tmpl.data()))
            return errno_status("create staging directory in " + parent, errno);
        std::string staging = staging_tmpl;
        restore::Options opts;
        opts.target = staging;
        opts.includes = {path};
        auto outcome = restore::restore_tree(repository, r.tree, opts);
        std::error_code ec;
        if (!outcome.ok() || !outcome->errors.empty()) {
            fs::remove_all(staging, ec);  // the live path is untouched
            if (!outcome.ok()) return outcome.status().with_context("source '" + src.name + "'");
            outcome_check(path, *outcome);
            continue;
        }
        std::string old;
        struct stat st {};
        if (lstat(path.c_str(), &st) == 0) {
            std::string old_tmpl = parent + "/.coffer-old-XXXXXX";
            if (!mkdtemp(old_tmpl.data())) return errno_status("create " + old_tmpl, errno);
            old = old_tmpl + "/" + fs::path(path).filename().string();
            if (::rename(path.c_str(), old.c_str()) != 0)
                return errno_status("move " + path + " aside", errno);
        }
        if (::rename((staging + path).c_str(), path.c_str()) != 0) {
            int e = errno;
            if (!old.empty()) ::rename(old.c_str(), path.c_str());  // put it back
            fs::remove_all(staging, ec);
            return errno_status("move restored " + path + " into place", e);
        }
        fs::remove_all(staging, ec);
        if (!old.empty()) fs::remove_all(fs::path(old).parent_path(), ec);
        outcome_check(path, *outcome);
    }
    return checks;
}

}  // namespace coffer::source

// coffer ls: lists the files of a snapshot (needs the recovery key: names are sealed).
#include <sys/stat.h>

#include <cstdio>

#include "coffer/cli/common.h"
#include "coffer/restore/restore.h"

namespace coffer::cli {

namespace {

struct LsArgs {
    std::string snapshot;
    std::string path;
};

std::string mode_string(const repo::Node& n) {
    std::string s = n.kind == repo::NodeKind::dir       ? "d"
                    : n.kind == repo::NodeKind::symlink ? "l"
                                                        : "-";
    const char* rwx = "rwxrwxrwx";
    for (int i = 0; i < 9; ++i) s += (n.mode & (0400 >> i)) ? rwx[i] : '-';
    if (n.mode & S_ISUID) s[3] = (n.mode & 0100) ? 's' : 'S';
    if (n.mode & S_ISGID) s[6] = (n.mode & 0010) ? 's' : 'S';
    if (n.mode & S_ISVTX) s[9] = (n.mode & 0001) ? 't' : 'T';
    return s;
}

const char* kind_name(repo::NodeKind k) {
    return k == repo::NodeKind::dir ? "dir" : k == repo::NodeKind::symlink ? "symlink" : "file";
}

int run_ls(GlobalOptions& g, const LsArgs& a) {
    auto opened = open_repository(g, KeyNeed::recovery);
    if (!opened.ok()) return fail(opened.status());
    auto& repository = *opened->repo;
    auto snap = repository.find_snapshot(a.snapshot);
    if (!snap.ok()) return fail(snap.status());
    Status st = repository.load_index();
    if (!st.ok()) return fail(st);
    std::string prefix = a.path;
    if (!prefix.empty() && prefix[0] != '/') prefix = "/" + prefix;
    while (prefix.size() > 1 && prefix.back() == '/') prefix.pop_back();
    auto selected = [&](const std::string& p) {
        return prefix.empty() || prefix == "/" || p == prefix ||
               (p.size() > prefix.size() && p.compare(0, prefix.size(), prefix) == 0 &&
                p[prefix.size()] == '/');
    };
    nlohmann::json arr = nlohmann::json::array();
    size_t count = 0;
    st = restore::walk(repository, snap->tree, [&](const std::string& p, const repo::Node& n) {
        if (!selected(p)) return ok_status();
        ++count;
        if (g.json) {
            nlohmann::json j = {{"path", p},
                                {"type", kind_name(n.kind)},
                                {"mode", n.mode},
                                {"uid", n.uid},
                                {"gid", n.gid},
                                {"size", n.size},
                                {"mtime", repo::format_rfc3339(n.mtime_ns)}};
            if (n.kind == repo::NodeKind::symlink) j["link_target"] = n.link_target;
            arr.push_back(std::move(j));
        } else {
            std::string line =
                mode_string(n) + " " + std::to_string(n.uid) + "/" + std::to_string(n.gid);
            std::printf("%s %12llu %s %s%s\n", line.c_str(),
                        static_cast<unsigned long long>(n.size),
                        repo::format_rfc3339(n.mtime_ns).substr(0, 19).c_str(), p.c_str(),
                        n.kind == repo::NodeKind::symlink ? (" -> " + n.link_target).c_str() : "");
        }
        return ok_status();
    });
    if (!st.ok()) return fail(st);
    if (g.json) print_json(arr);
    if (!prefix.empty() && count == 0)
        return fail(not_found("path " + prefix + " is not in snapshot " + snap->id.short_hex()));
    return k_exit_ok;
}

}  // namespace

void register_ls(CLI::App& app, GlobalOptions& g, int& exit_code) {
    auto args = std::make_shared<LsArgs>();
    CLI::App* cmd = app.add_subcommand("ls", "List files in a snapshot (needs the recovery key)");
    cmd->add_option("snapshot", args->snapshot, "Snapshot id, unique prefix, or 'latest'")
        ->required();
    cmd->add_option("path", args->path, "Only this path and what is below it");
    cmd->add_option("--file", g.backup_file, "List a backup file ('coffer export') instead");
    cmd->callback([&g, &exit_code, args] { exit_code = run_ls(g, *args); });
}

}  // namespace coffer::cli

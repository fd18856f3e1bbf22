// coffer snapshots: lists snapshots with the host key alone.
#include <cstdio>
#include <iostream>

#include "coffer/cli/common.h"

namespace coffer::cli {

namespace {

std::string join(const std::vector<std::string>& v, const char* sep) {
    std::string out;
    for (size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + v[i];
    return out;
}

int run_snapshots(GlobalOptions& g) {
    auto opened = open_repository(g, KeyNeed::host_or_recovery);
    if (!opened.ok()) return fail(opened.status());
    auto list = opened->repo->list_snapshots();
    if (!list.ok()) return fail(list.status());
    if (g.json) {
        nlohmann::json arr = nlohmann::json::array();
        for (const auto& s : *list)
            arr.push_back({{"id", s.id.hex()},
                           {"short_id", s.id.short_hex()},
                           {"time", repo::format_rfc3339(s.time_ns)},
                           {"hostname", s.hostname},
                           {"paths", s.paths},
                           {"tags", s.tags},
                           {"sequence", s.sequence},
                           {"incomplete", s.incomplete},
                           {"set", s.set},
                           {"size", s.summary.total_bytes},
                           {"added", s.summary.data_added},
                           {"stored", s.summary.packed_added}});
        print_json(arr);
        return k_exit_ok;
    }
    std::printf("%-10s %-20s %-16s %-12s %10s %10s  %s\n", "ID", "Time (UTC)", "Host", "Tags",
                "Size", "Added", "Paths");
    for (const auto& s : *list) {
        std::string time = repo::format_rfc3339(s.time_ns).substr(0, 19);
        time[10] = ' ';
        std::printf("%-10s %-20s %-16s %-12s %10s %10s  %s%s\n", s.id.short_hex().c_str(),
                    time.c_str(), s.hostname.c_str(), join(s.tags, ",").c_str(),
                    human_bytes(s.summary.total_bytes).c_str(),
                    human_bytes(s.summary.data_added).c_str(),
                    (s.set.empty() ? join(s.paths, " ") : "set " + s.set).c_str(),
                    s.incomplete ? " (incomplete)" : "");
    }
    std::printf("%zu snapshot%s\n", list->size(), list->size() == 1 ? "" : "s");
    return k_exit_ok;
}

}  // namespace

void register_snapshots(CLI::App& app, GlobalOptions& g, int& exit_code) {
    CLI::App* cmd = app.add_subcommand("snapshots", "List snapshots (host key suffices)");
    cmd->callback([&g, &exit_code] { exit_code = run_snapshots(g); });
}

}  // namespace coffer::cli

// coffer diff: what changed between two snapshots (needs the recovery key: names are sealed).
// Files added, removed and changed (for s3 sources: objects); for database sources, each
// table's row count in both.
#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "coffer/cli/common.h"
#include "coffer/restore/restore.h"

namespace coffer::cli {

namespace {

struct DiffArgs {
    std::string first;
    std::string second;
    std::string source;
};

struct Entry {
    repo::NodeKind kind;
    uint64_t size;
    uint32_t mode;
    std::vector<Id> content;
    std::string link;
    bool operator==(const Entry&) const = default;
};

Result<std::map<std::string, Entry>> entries(repo::Repository& r, const Id& tree,
                                             const std::string& prefix) {
    std::map<std::string, Entry> out;
    TRY(restore::walk(r, tree, [&](const std::string& p, const repo::Node& n) {
        if (prefix.empty() || p == prefix || p.rfind(prefix + "/", 0) == 0)
            out[p] = {n.kind, n.size, n.mode, n.content, n.link_target};
        return ok_status();
    }));
    return out;
}

// Row counts recorded with a database source ("/<source>/checks.json"), empty if none.
std::map<std::string, int64_t> row_counts(repo::Repository& r, const Id& tree,
                                          const std::string& source) {
    std::map<std::string, int64_t> out;
    auto node = restore::find_node(r, tree, "/" + source + "/checks.json");
    if (!node.ok()) return out;
    auto bytes = restore::read_all(r, *node);
    if (!bytes.ok()) return out;
    auto j = nlohmann::json::parse(as_chars(*bytes), nullptr, false);
    if (j.is_object() && j.contains("tables"))
        for (auto it = j["tables"].begin(); it != j["tables"].end(); ++it)
            out[it.key()] = it.value().get<int64_t>();
    return out;
}

// Object key -> SHA-256 recorded with an s3 source ("/<source>/manifest.json"); empty when the
// snapshot has no such source. A manifest that cannot be read is an error: an empty map would
// show every object as added or removed.
Result<std::map<std::string, std::string>> object_hashes(repo::Repository& r, const Id& tree,
                                                         const std::string& source) {
    std::map<std::string, std::string> out;
    auto node = restore::find_node(r, tree, "/" + source + "/manifest.json");
    if (!node.ok() && node.status().code() == Code::not_found) return out;
    TRY(node.status());
    TRY_ASSIGN(Bytes bytes, restore::read_all(r, *node));
    auto j = nlohmann::json::parse(as_chars(bytes), nullptr, false);
    if (!j.is_object() || !j.contains("objects") || !j["objects"].is_array())
        return corruption("source '" + source + "': manifest.json is damaged");
    for (const auto& o : j["objects"])
        if (o.is_object() && o.contains("key") && o["key"].is_string() && o.contains("sha256") &&
            o["sha256"].is_string())
            out[o["key"].get<std::string>()] = o["sha256"].get<std::string>();
    return out;
}

// An s3 source's files (objects.bin, manifest.json) say only that something changed; list the
// objects instead, as "/<source>/<key>".
Status diff_objects(repo::Repository& r, const repo::Snapshot& s1, const repo::Snapshot& s2,
                    const std::string& only, nlohmann::json& added, nlohmann::json& removed,
                    nlohmann::json& changed) {
    for (const auto& src : s2.sources) {
        if (src.type != "s3" || (!only.empty() && src.name != only)) continue;
        std::string root = "/" + src.name + "/";
        for (auto* list : {&added, &removed, &changed}) {
            nlohmann::json kept = nlohmann::json::array();
            for (const auto& p : *list)
                if (p != root + "objects.bin" && p != root + "manifest.json") kept.push_back(p);
            *list = std::move(kept);
        }
        TRY_ASSIGN(auto before, object_hashes(r, s1.tree, src.name));
        TRY_ASSIGN(auto after, object_hashes(r, s2.tree, src.name));
        for (const auto& [key, hash] : before) {
            auto it = after.find(key);
            if (it == after.end())
                removed.push_back(root + key);
            else if (it->second != hash)
                changed.push_back(root + key);
        }
        for (const auto& [key, hash] : after)
            if (!before.count(key)) added.push_back(root + key);
    }
    for (auto* list : {&added, &removed, &changed}) std::sort(list->begin(), list->end());
    return ok_status();
}

int run_diff(GlobalOptions& g, const DiffArgs& a) {
    auto opened = open_repository(g, KeyNeed::recovery);
    if (!opened.ok()) return fail(opened.status());
    auto& repository = *opened->repo;
    auto s1 = repository.find_snapshot(a.first);
    if (!s1.ok()) return fail(s1.status());
    auto s2 = repository.find_snapshot(a.second);
    if (!s2.ok()) return fail(s2.status());
    if (Status st = repository.load_index(); !st.ok()) return fail(st);
    std::string prefix = a.source.empty() ? "" : "/" + a.source;
    auto e1 = entries(repository, s1->tree, prefix);
    if (!e1.ok()) return fail(e1.status());
    auto e2 = entries(repository, s2->tree, prefix);
    if (!e2.ok()) return fail(e2.status());

    nlohmann::json added = nlohmann::json::array(), removed = nlohmann::json::array(),
                   changed = nlohmann::json::array();
    for (const auto& [path, e] : *e1) {
        auto it = e2->find(path);
        if (it == e2->end())
            removed.push_back(path);
        else if (e.kind != repo::NodeKind::dir && !(it->second == e))
            changed.push_back(path);
    }
    for (const auto& [path, e] : *e2)
        if (!e1->count(path)) added.push_back(path);

    if (Status st = diff_objects(repository, *s1, *s2, a.source, added, removed, changed); !st.ok())
        return fail(st);

    nlohmann::json tables = nlohmann::json::array();
    std::vector<std::string> sources;
    for (const auto& src : s2->sources)
        if (a.source.empty() || src.name == a.source) sources.push_back(src.name);
    for (const auto& src : sources) {
        auto before = row_counts(repository, s1->tree, src);
        auto after = row_counts(repository, s2->tree, src);
        std::set<std::string> names;
        for (const auto& [t, n] : before) names.insert(t);
        for (const auto& [t, n] : after) names.insert(t);
        // -1: the table is absent from that snapshot (created or dropped in between).
        for (const auto& t : names)
            tables.push_back({{"source", src},
                              {"table", t},
                              {"before", before.count(t) ? before[t] : -1},
                              {"after", after.count(t) ? after[t] : -1}});
    }
    if (g.json) {
        print_json({{"from", s1->id.hex()},
                    {"to", s2->id.hex()},
                    {"added", added},
                    {"removed", removed},
                    {"changed", changed},
                    {"tables", tables}});
        return k_exit_ok;
    }
    for (const auto& p : added) std::printf("+ %s\n", p.get<std::string>().c_str());
    for (const auto& p : removed) std::printf("- %s\n", p.get<std::string>().c_str());
    for (const auto& p : changed) std::printf("M %s\n", p.get<std::string>().c_str());
    for (const auto& t : tables) {
        int64_t b = t["before"], af = t["after"];
        std::printf("rows %s/%s: %s -> %s%s\n", t["source"].get<std::string>().c_str(),
                    t["table"].get<std::string>().c_str(),
                    b < 0 ? "(absent)" : std::to_string(b).c_str(),
                    af < 0 ? "(absent)" : std::to_string(af).c_str(), b == af ? "" : "  *");
    }
    std::printf("%zu added, %zu removed, %zu changed\n", added.size(), removed.size(),
                changed.size());
    return k_exit_ok;
}

}  // namespace

void register_diff(CLI::App& app, GlobalOptions& g, int& exit_code) {
    auto args = std::make_shared<DiffArgs>();
    CLI::App* cmd = app.add_subcommand("diff", "Show what changed between two snapshots");
    cmd->add_option("snapshot1", args->first, "Older snapshot (id, prefix or 'latest')")
        ->required();
    cmd->add_option("snapshot2", args->second, "Newer snapshot")->required();
    cmd->add_option("--source", args->source, "Only this source of a backup set");
    cmd->callback([&g, &exit_code, args] { exit_code = run_diff(g, *args); });
}

}  // namespace coffer::cli

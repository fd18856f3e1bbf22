#include "coffer/repo/snapshot.h"

#include <nlohmann/json.hpp>

#include "coffer/repo/json_numbers.h"
#include "coffer/repo/keys.h"

namespace coffer::repo {

using json = nlohmann::json;

std::string Snapshot::to_json() const {
    const SnapshotSummary& s = summary;
    json j = {{"version", 1},
              {"time", format_rfc3339(time_ns)},
              {"time_ns", time_ns},
              {"hostname", hostname},
              {"key_id", key_id},
              {"paths", paths},
              {"tags", tags},
              {"tree", tree.hex()},
              {"refs", refs.hex()},
              {"sequence", sequence},
              {"previous", previous},
              {"incomplete", incomplete},
              {"summary",
               {{"files_new", s.files_new},
                {"files_changed", s.files_changed},
                {"files_unchanged", s.files_unchanged},
                {"dirs", s.dirs},
                {"errors", s.errors},
                {"bytes_read", s.bytes_read},
                {"total_bytes", s.total_bytes},
                {"data_added", s.data_added},
                {"packed_added", s.packed_added},
                {"duration_s", s.duration_s}}}};
    if (!set.empty()) {
        j["set"] = set;
        json arr = json::array();
        for (const auto& src : sources)
            arr.push_back({{"name", src.name},
                           {"type", src.type},
                           {"bytes", src.bytes},
                           {"files", src.files}});
        j["sources"] = arr;
    }
    return j.dump();
}

const SourceSummary* Snapshot::find_source(std::string_view name) const {
    for (const auto& s : sources)
        if (s.name == name) return &s;
    return nullptr;
}

Result<Snapshot> Snapshot::parse(ByteView bytes, const std::string& label) {
    json j = json::parse(as_chars(bytes), nullptr, false);
    if (j.is_discarded() || !j.is_object()) return corruption(label + " is not valid JSON");
    if (!numbers_fit(j)) return corruption(label + " holds a number out of range");
    Snapshot s;
    try {
        if (j.at("version").get<int>() != 1)
            return corruption(label + " has an unknown manifest version");
        s.time_ns = j.at("time_ns").get<int64_t>();
        s.hostname = j.at("hostname").get<std::string>();
        s.key_id = j.at("key_id").get<std::string>();
        s.paths = j.at("paths").get<std::vector<std::string>>();
        s.tags = j.at("tags").get<std::vector<std::string>>();
        auto tree = Id::parse_hex(j.at("tree").get<std::string>());
        auto refs = Id::parse_hex(j.at("refs").get<std::string>());
        if (!tree || !refs) return corruption(label + " has a malformed tree reference");
        s.tree = *tree;
        s.refs = *refs;
        s.sequence = j.at("sequence").get<uint64_t>();
        s.previous = j.at("previous").get<std::string>();
        s.incomplete = j.value("incomplete", false);
        const json& m = j.at("summary");
        s.summary.files_new = m.value("files_new", 0ull);
        s.summary.files_changed = m.value("files_changed", 0ull);
        s.summary.files_unchanged = m.value("files_unchanged", 0ull);
        s.summary.dirs = m.value("dirs", 0ull);
        s.summary.errors = m.value("errors", 0ull);
        s.summary.bytes_read = m.value("bytes_read", 0ull);
        s.summary.total_bytes = m.value("total_bytes", 0ull);
        s.summary.data_added = m.value("data_added", 0ull);
        s.summary.packed_added = m.value("packed_added", 0ull);
        s.summary.duration_s = m.value("duration_s", 0.0);
        s.set = j.value("set", "");
        if (j.contains("sources"))
            for (const json& src : j.at("sources"))
                s.sources.push_back({src.at("name").get<std::string>(),
                                     src.at("type").get<std::string>(), src.value("bytes", 0ull),
                                     src.value("files", 0ull)});
    } catch (const json::exception& e) {
        return corruption(label + " is malformed: " + e.what());
    }
    return s;
}

}  // namespace coffer::repo

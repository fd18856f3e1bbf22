#include "coffer/repo/tombstone.h"

#include <nlohmann/json.hpp>

#include "coffer/repo/json_numbers.h"
#include "coffer/repo/keys.h"

namespace coffer::repo {

using json = nlohmann::json;

std::string Tombstone::to_json() const {
    json list = json::array();
    for (const auto& s : snapshots)
        list.push_back({{"id", s.id.hex()}, {"sequence", s.sequence}, {"time_ns", s.time_ns}});
    json j = {{"version", 1},
              {"time", format_rfc3339(time_ns)},
              {"time_ns", time_ns},
              {"reason", reason},
              {"snapshots", list}};
    return j.dump();
}

Result<Tombstone> Tombstone::parse(ByteView bytes, const std::string& label) {
    json j = json::parse(as_chars(bytes), nullptr, false);
    if (j.is_discarded() || !j.is_object()) return corruption(label + " is not valid JSON");
    if (!numbers_fit(j)) return corruption(label + " holds a number out of range");
    Tombstone t;
    try {
        if (j.at("version").get<int>() != 1) return corruption(label + " has an unknown version");
        t.time_ns = j.at("time_ns").get<int64_t>();
        t.reason = j.value("reason", "");
        for (const auto& s : j.at("snapshots")) {
            auto id = Id::parse_hex(s.at("id").get<std::string>());
            if (!id) return corruption(label + " names a malformed snapshot id");
            t.snapshots.push_back(
                {*id, s.at("sequence").get<uint64_t>(), s.at("time_ns").get<int64_t>()});
        }
    } catch (const std::exception&) {
        return corruption(label + " is malformed");
    }
    return t;
}

}  // namespace coffer::repo

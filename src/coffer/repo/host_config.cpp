#include "coffer/repo/host_config.h"

#include <nlohmann/json.hpp>

#include "coffer/repo/json_numbers.h"
#include "coffer/repo/meta.h"

namespace coffer::repo {

using json = nlohmann::json;

Result<Id> save_host_config(store::Store& store, const KeyRing& keys, HostConfig config) {
    json j = {{"version", 1},
              {"time", format_rfc3339(config.time_ns)},
              {"time_ns", config.time_ns},
              {"host", config.host},
              {"path", config.path},
              {"text", config.text}};
    // The text may hold S3 credentials: every copy made here is wiped.
    secure_wipe(config.text.data(), config.text.size());
    std::string payload;
    try {
        payload = j.dump();
    } catch (const json::exception&) {
        secure_wipe(j["text"].get_ref<std::string&>().data(),
                    j["text"].get_ref<std::string&>().size());
        return invalid_argument("config file " + config.path + " is not UTF-8 text");
    }
    secure_wipe(j["text"].get_ref<std::string&>().data(), j["text"].get_ref<std::string&>().size());
    TRY_ASSIGN(Bytes sealed, seal_meta(keys, MetaType::host_config, as_bytes(payload)));
    secure_wipe(payload.data(), payload.size());
    Id id = crypto::sha256(sealed);
    Status st = store.put(host_config_name(id), sealed, store::PutMode::create_only);
    if (!st.ok() && st.code() != Code::already_exists) return st;
    return id;
}

Result<std::optional<HostConfig>> newest_host_config(store::Store& store, const KeyRing& keys) {
    TRY_ASSIGN(auto objects, store.list("configs/"));
    std::optional<HostConfig> newest;
    for (const auto& o : objects) {
        std::string label = "config copy " + o.name;
        auto id = Id::parse_hex(o.name.substr(8));
        if (!id) return corruption("configs/ holds a stray object " + o.name);
        TRY_ASSIGN(Bytes bytes, store.get(o.name));
        if (crypto::sha256(bytes) != *id)
            return integrity_error(label + " does not match its name");
        TRY_ASSIGN(MetaHeader header, parse_meta_header(bytes, label));
        if (!ct_equal(header.key_id, keys.key_id)) continue;
        TRY_ASSIGN(Bytes payload, open_meta(keys, bytes, MetaType::host_config, label));
        json j = json::parse(as_chars(payload), nullptr, false);
        secure_wipe(payload.data(), payload.size());
        struct WipeText {  // the parsed copy of the text, however this iteration ends
            json& j;
            ~WipeText() {
                if (auto t = j.find("text"); t != j.end() && t->is_string())
                    secure_wipe(t->get_ref<std::string&>().data(),
                                t->get_ref<std::string&>().size());
            }
        } wipe{j};
        HostConfig c;
        c.id = *id;
        try {
            if (!numbers_fit(j) || j.at("version").get<int>() != 1) throw std::runtime_error("v");
            c.time_ns = j.at("time_ns").get<int64_t>();
            c.host = j.at("host").get<std::string>();
            c.path = j.at("path").get<std::string>();
            c.text = j.at("text").get<std::string>();
        } catch (const std::exception&) {
            return corruption(label + " is malformed");
        }
        if (!newest || c.time_ns > newest->time_ns) newest = std::move(c);
    }
    return newest;
}

}  // namespace coffer::repo

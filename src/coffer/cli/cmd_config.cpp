// coffer config check: validates coffer.toml and reports every problem with its line.
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "coffer/cli/common.h"
#include "coffer/config/config.h"

namespace coffer::cli {

namespace {

constexpr const char* k_default_config = "/etc/coffer/coffer.toml";

struct ConfigCheckArgs {
    std::string config;  // --config on the subcommand; wins over the global option
};

// --config on `config check`, else the global --config / COFFER_CONFIG, else the default.
std::string config_path(const GlobalOptions& g, const ConfigCheckArgs& a) {
    if (!a.config.empty()) return a.config;
    if (!g.config.empty()) return g.config;
    if (const char* env = std::getenv("COFFER_CONFIG"); env && *env) return env;
    return k_default_config;
}

int run_config_check(const GlobalOptions& g, const ConfigCheckArgs& a) {
    const std::string path = config_path(g, a);
    std::vector<config::Problem> problems;
    auto cfg = config::load(path, &problems);
    if (!cfg.ok()) {
        Status st = cfg.status();
        if (st.code() == Code::not_found)
            return fail(not_found("config file " + path +
                                  " does not exist: pass --config or set COFFER_CONFIG"));
        // Problems in the file itself are reported one per line; anything else (unreadable
        // file, internal error) as a plain failure.
        if (st.code() != Code::invalid_argument || problems.empty()) return fail(st);
        if (g.json) {
            nlohmann::json list = nlohmann::json::array();
            for (const auto& p : problems)
                list.push_back({{"line", p.line}, {"message", p.message}});
            print_json({{"ok", false}, {"problems", list}});
        } else {
            for (const auto& p : problems) std::fprintf(stderr, "%s\n", p.to_string(path).c_str());
        }
        return k_exit_usage;
    }

    size_t source_count = 0;
    for (const auto& set : cfg->sets) source_count += set.sources.size();
    if (g.json) {
        nlohmann::json sets = nlohmann::json::array();
        for (const auto& set : cfg->sets) {
            nlohmann::json sources = nlohmann::json::array();
            for (const auto& src : set.sources)
                sources.push_back({{"name", src.name},
                                   {"type", std::string(config::source_type_name(src.type))}});
            sets.push_back({{"name", set.name}, {"sources", sources}});
        }
        print_json({{"ok", true}, {"sets", sets}});
        return k_exit_ok;
    }
    std::printf("%s: ok (%zu set%s, %zu source%s)\n", path.c_str(), cfg->sets.size(),
                cfg->sets.size() == 1 ? "" : "s", source_count, source_count == 1 ? "" : "s");
    return k_exit_ok;
}

}  // namespace

void register_config(CLI::App& app, GlobalOptions& g, int& exit_code) {
    auto args = std::make_shared<ConfigCheckArgs>();
    CLI::App* cmd = app.add_subcommand("config", "Work with the configuration file (coffer.toml)");
    cmd->require_subcommand(1);
    CLI::App* check = cmd->add_subcommand(
        "check", "Validate coffer.toml and report every problem with its line (exit 2 if any)");
    check->add_option(
        "--config", args->config,
        std::string("Configuration file (default: $COFFER_CONFIG, else ") + k_default_config + ")");
    check->fallthrough();
    check->callback([&g, &exit_code, args] { exit_code = run_config_check(g, *args); });
}

}  // namespace coffer::cli

// What the route files of `coffer serve`'s API share (serve_api.cpp, serve_api_ops.cpp): times
// as the API writes them, error replies, a run as JSON, a child `coffer` run.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "coffer/cli/serve_api.h"

namespace coffer::cli {

inline std::string iso(int64_t ns) {
    return ns ? repo::format_rfc3339(ns).substr(0, 19) + "Z" : std::string();
}

inline api::ApiReply not_found_set(const std::string& set) {
    return api::ApiReply::error(404, "no set '" + set + "' (GET /api/v1/sets lists them)");
}

inline api::ApiReply from_status(const Status& st) {
    int code = st.code() == Code::not_found          ? 404
               : st.code() == Code::already_exists   ? 409
               : st.code() == Code::invalid_argument ? 400
               : st.code() == Code::permission       ? 403
                                                     : 500;
    return api::ApiReply::error(code, st.message());
}

inline std::string body_string(const api::ApiRequest& r, const char* key) {
    if (!r.body.is_object() || !r.body.contains(key) || !r.body[key].is_string()) return {};
    return r.body[key].get<std::string>();
}

inline std::optional<server::SetPlan> find_plan(const ServeApi& s, const std::string& name) {
    return s.daemon.plan(name);
}

nlohmann::json run_json(const server::Run& r);

// Where a requested job's child keeps its newest progress line (COFFER_PROGRESS_FILE).
inline std::string job_progress_file(const std::string& state_dir, int64_t request_id) {
    return state_dir + "/job-" + std::to_string(request_id) + ".progress";
}

// A child `coffer --config F --json ARGS...`: its exit code, stdout, and the last "coffer: "
// line of its stderr when it failed.
struct Child {
    int exit_code = -1;
    std::string out, error;
};
Child run_child(const ServeApi& s, std::vector<std::string> args);

inline void add_route(std::vector<api::Route>& routes, std::string method, std::string pattern,
                      api::Permission permission,
                      std::function<api::ApiReply(const api::ApiRequest&)> handler,
                      std::string summary) {
    routes.push_back({std::move(method), std::move(pattern), permission, std::move(handler),
                      std::move(summary)});
}

// A route under /api/v1/sets/{set}: the handler gets the set's plan; a set the daemon does not
// run is answered 404 before it is called.
inline void add_set_route(
    const ServeApi& s, std::vector<api::Route>& routes, std::string method, std::string pattern,
    api::Permission permission,
    std::function<api::ApiReply(const api::ApiRequest&, const server::SetPlan&)> handler,
    std::string summary) {
    add_route(
        routes, std::move(method), std::move(pattern), permission,
        [&s, handler = std::move(handler)](const api::ApiRequest& r) {
            const std::string& set = r.params.at("set");
            auto plan = find_plan(s, set);
            if (!plan) return not_found_set(set);
            return handler(r, *plan);
        },
        std::move(summary));
}

// The routes for schedules, pausing, retention, drill reports, mirrors and the audit export.
void add_operation_routes(ServeApi& s, std::vector<api::Route>& routes);

}  // namespace coffer::cli

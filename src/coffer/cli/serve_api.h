// The API routes of `coffer serve` (serve_api.cpp): the daemon's sets and jobs, the
// repository's snapshots, the audit log, users and tokens. Handlers run on the API's worker
// threads: what they share is thread-safe (Daemon, StateDb, AccessDb) or behind repo_mu.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "coffer/api/access.h"
#include "coffer/api/server.h"
#include "coffer/cli/common.h"
#include "coffer/server/daemon.h"
#include "coffer/server/state.h"

namespace coffer::cli {

struct ServeApi {
    GlobalOptions& g;  // read with repo_mu held
    server::Daemon& daemon;
    server::StateDb& db;
    api::AccessDb& access;
    std::string exe;          // this binary, for child `coffer audit ...` runs
    std::string config_path;  // the daemon's config
    std::string state_dir;    // the daemon's state directory (scratch space for exports)
    std::mutex repo_mu;       // one repository read at a time
};

std::vector<api::Route> serve_routes(ServeApi& s);

// A token as `coffer token list --json` and GET /api/v1/tokens show it (never its secret):
// status is "active", "expired" or "revoked" at now_ns.
nlohmann::json token_json(const api::TokenInfo& t, int64_t now_ns);

}  // namespace coffer::cli

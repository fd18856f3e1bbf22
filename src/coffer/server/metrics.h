// Metrics: the daemon's state in the Prometheus text exposition format (version 0.0.4), for
// GET /metrics. Every series is labelled by set; times are Unix seconds, sizes bytes.
// A pure function of its inputs; thread-safe.
#pragma once

#include <string>

#include "coffer/server/daemon.h"
#include "coffer/server/state.h"

namespace coffer::server {

// Reads the run history from db and combines it with the repository facts and RPOs.
Result<std::string> render_metrics(const std::vector<SetPlan>& plans, const Facts& facts,
                                   StateDb& db, int64_t now_ns);

}  // namespace coffer::server

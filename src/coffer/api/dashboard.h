// The dashboard's files (dashboard/index.html, app.js, style.css), built into the binary by
// embed_assets.cmake and served by ApiServer (ServerOptions::assets): "/" is the page, the
// rest under /dashboard/. The page talks only to /api/v1 on the same origin.
#pragma once

#include <map>
#include <string>

#include "coffer/api/server.h"

namespace coffer::api {

std::map<std::string, Asset> dashboard_assets();

}  // namespace coffer::api

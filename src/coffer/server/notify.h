// Notifier: tells someone when a run fails or an RPO is missed, by POSTing the event (JSON) to
// a webhook and/or running a shell command with the event in $COFFER_EVENT. Best effort, with
// a 10 s limit each: a dead receiver never holds up the schedule; failures are returned for
// the caller to log. Thread-compatible.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "coffer/util/status.h"

namespace coffer::server {

class Notifier {
public:
    Notifier(std::string webhook_url, std::string command)
        : m_url(std::move(webhook_url)), m_command(std::move(command)) {}
    bool enabled() const { return !m_url.empty() || !m_command.empty(); }
    // Sends to every configured target; the first failure, if any (the others still run).
    Status notify(const nlohmann::json& event);

private:
    Status post(const std::string& body);
    std::string m_url;
    std::string m_command;
};

}  // namespace coffer::server

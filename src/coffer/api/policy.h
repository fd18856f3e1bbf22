// The API's roles and what each may do. Every endpoint needs exactly one permission (the
// router, api/server.h, names it per route); a role grants a fixed set of them:
//
//   permission       viewer  auditor  operator  admin
//   status           yes     yes      yes       yes    sets, RPO/RTO, schedules, mirrors
//   snapshots        -       yes      yes       yes    snapshot lists, runs, jobs, drill reports
//   run              -       -        yes       yes    backup now, drill now
//   audit            -       yes      -         yes    read, verify and export the audit log
//   manage           -       -        -         yes    restore, schedules, retention, users,
//                                                      tokens
//
// docs/api.md holds the same table per endpoint; the authorization test checks the server
// against it. Plain functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace coffer::api {

enum class Role { viewer, auditor, operator_, admin };
enum class Permission { status, snapshots, run, audit, manage };

bool role_allows(Role role, Permission p);
// True when every permission of a is one of b's (a token's role against its user's).
bool role_within(Role a, Role b);
std::string_view role_name(Role role);
std::optional<Role> parse_role(std::string_view name);
std::string_view permission_name(Permission p);

}  // namespace coffer::api

#include "coffer/api/policy.h"

namespace coffer::api {

bool role_allows(Role role, Permission p) {
    switch (p) {
        case Permission::status:
            return true;
        case Permission::snapshots:
            return role != Role::viewer;
        case Permission::run:
            return role == Role::operator_ || role == Role::admin;
        case Permission::audit:
            return role == Role::auditor || role == Role::admin;
        case Permission::manage:
            return role == Role::admin;
    }
    return false;
}

bool role_within(Role a, Role b) {
    for (Permission p : {Permission::status, Permission::snapshots, Permission::run,
                         Permission::audit, Permission::manage})
        if (role_allows(a, p) && !role_allows(b, p)) return false;
    return true;
}

std::string_view role_name(Role role) {
    switch (role) {
        case Role::viewer:
            return "viewer";
        case Role::auditor:
            return "auditor";
        case Role::operator_:
            return "operator";
        case Role::admin:
            return "admin";
    }
    return "viewer";
}

std::optional<Role> parse_role(std::string_view name) {
    for (Role r : {Role::viewer, Role::auditor, Role::operator_, Role::admin})
        if (role_name(r) == name) return r;
    return std::nullopt;
}

std::string_view permission_name(Permission p) {
    switch (p) {
        case Permission::status:
            return "status";
        case Permission::snapshots:
            return "snapshots";
        case Permission::run:
            return "run";
        case Permission::audit:
            return "audit";
        case Permission::manage:
            return "manage";
    }
    return "manage";
}

}  // namespace coffer::api

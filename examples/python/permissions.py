"""What each role may do in this application: the one table to edit.

Role slugs are the ones defined in roster (`POST /api/v1/tenants/{tenant}/roles`); the
customer's IT admin maps their directory groups to them.
"""

PERMISSIONS: dict[str, frozenset[str]] = {
    "viewer": frozenset({"docs:read"}),
    "editor": frozenset({"docs:read", "docs:edit"}),
    "admin": frozenset({"docs:read", "docs:edit", "docs:delete", "users:manage"}),
}


def allowed(roles: list[str], action: str) -> bool:
    """True when any of the roles grants the action. Unknown roles grant nothing."""
    return any(action in PERMISSIONS.get(role, ()) for role in roles)

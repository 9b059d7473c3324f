// What each role may do in this application: the one table to edit.
//
// Role slugs are the ones defined in roster (POST /api/v1/tenants/{tenant}/roles); the
// customer's IT admin maps their directory groups to them.

export const PERMISSIONS: Readonly<Record<string, ReadonlySet<string>>> = {
  viewer: new Set(["docs:read"]),
  editor: new Set(["docs:read", "docs:edit"]),
  admin: new Set(["docs:read", "docs:edit", "docs:delete", "users:manage"]),
};

/** True when any of the roles grants the action. Unknown roles grant nothing. */
export function allowed(roles: readonly string[], action: string): boolean {
  return roles.some((role) => PERMISSIONS[role]?.has(action) ?? false);
}

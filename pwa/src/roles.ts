// The roles a person can hold: the one list the app uses, mirroring ROLES in sync_server/auth/permissions.py
// (test/roles.test.ts checks the two agree).
export const ROLES = ["surgeon", "nurse", "security_officer", "administrator"] as const;
export type Role = (typeof ROLES)[number];

// Who may open break-glass access (everyone but nurses, who never see a photo).
export const BREAK_GLASS_ROLES: readonly Role[] = ROLES.filter((r) => r !== "nurse");

// Who may be added to a phone and take photos on it: CAPTURE_ROLES in sync_server/auth/permissions.py.
export const CAPTURE_ROLES: readonly Role[] = ["surgeon"];

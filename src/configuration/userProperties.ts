/**
 * What the product knows about Microsoft Graph v1.0 user properties: the one place that says which
 * properties `/users` and `/users/delta` accept differently. USER_SYNC_SELECT is checked against it
 * at start-up (loadSettings), before any request. See docs/mirror.md, "Which properties the mirror
 * tracks".
 *
 * Sources (read 2026-11):
 * - List users (`api-reference/v1.0/api/user-list.md`, "Optional query parameters"): "Certain
 *   properties cannot be returned within a user collection. The following properties are only
 *   supported when retrieving a single user: aboutMe, birthday, hireDate, interests, mySite,
 *   pastProjects, preferredName, responsibilities, schools, skills, mailboxSettings." `/users`
 *   answers them with 501 NotImplemented.
 * - Delta query overview (`concepts/delta-query-overview.md`, "Properties stored outside of the
 *   main data store"): such properties (SharePoint, Exchange) are not tracked by delta, and the way
 *   to tell is that `/users?$select=<property>` answers 501.
 * - `signInActivity`: `/users` returns it at most 500 a page (user-list.md, `$top`), with
 *   AuditLog.Read.All and a Microsoft Entra ID P1/P2 licence (user.md); `/users/delta` answers
 *   400 "$expand/$select is not supported for the following properties: signInActivity"
 *   (microsoftgraph/microsoft-graph-explorer-v4#3189). Graph throttles sign-in activity reads
 *   separately from other user reads, at a much lower rate (Microsoft Graph throttling limits).
 * - `licenseAssignmentStates`: accepted by `/users/delta`, but its changes are not tracked
 *   (microsoftgraph/microsoft-graph-docs#16690).
 * - `manager`: a relationship, not a property. Delta returns it as a `manager@delta` annotation
 *   with ids only (delta-query-overview.md, "Resource representation"); `/users` needs `$expand`.
 */

/** How the product treats a property that `/users` and `/users/delta` do not both accept. */
export type PropertyHandling =
  /** Refused at start-up: `/users` cannot return it in a collection (501), so no run could read it. */
  | "refused"
  /** Read by snapshots (`/users`) only: left out of the mirror's `$select`, because delta cannot track it. */
  | "snapshotsOnly";

export interface UserPropertyRule {
  /** Graph's spelling. */
  name: string;
  handling: PropertyHandling;
  /** Why, in a sentence an operator can act on. */
  reason: string;
  /** The largest `$top` `/users` accepts with this property selected. */
  maxPageSize?: number;
  /** An application permission Graph requires beyond User.Read.All to return the property. */
  extraPermission?: string;
}

const SINGLE_USER_ONLY =
  "Graph returns it only for a single user (GET /users/{id}); listing /users with it answers 501 Not Implemented, and delta cannot track it (it is stored outside the directory).";

/** Properties `/users` and `/users/delta` do not both accept, by Graph's spelling. The one list. */
export const USER_PROPERTY_RULES: readonly UserPropertyRule[] = [
  ...["aboutMe", "birthday", "hireDate", "interests", "mySite", "pastProjects", "preferredName", "responsibilities", "schools", "skills", "mailboxSettings"].map(
    (name): UserPropertyRule => ({ name, handling: "refused", reason: SINGLE_USER_ONLY }),
  ),
  {
    name: "deviceEnrollmentLimit",
    handling: "refused",
    reason: "Graph returns it only for a single user (GET /users/{id}); listing /users with it answers 501 Not Implemented.",
  },
  {
    name: "manager",
    handling: "refused",
    reason:
      "It is a relationship, not a property: /users returns it only with $expand and /users/delta only as a manager@delta annotation holding ids, so a snapshot and the mirror cannot hold the same value. Set USER_SYNC_GROUPS=true instead: every run then keeps each user's manager id as an edge, in the snapshot and the mirror (docs/groups.md, \"Managers\").",
  },
  {
    name: "signInActivity",
    handling: "snapshotsOnly",
    maxPageSize: 500,
    extraPermission: "AuditLog.Read.All",
    reason:
      "/users/delta refuses it (400), so snapshots read it and the mirror does not. /users returns it at most 500 users a page, only with the application permission AuditLog.Read.All (and a Microsoft Entra ID P1 or P2 licence), and Graph limits sign-in activity reads separately from other reads (expect throttling on large directories).",
  },
  {
    name: "licenseAssignmentStates",
    handling: "snapshotsOnly",
    reason: "/users/delta accepts it but does not report its changes, so the mirror would keep a stale value: snapshots read it and the mirror does not.",
  },
];

const RULES = new Map(USER_PROPERTY_RULES.map((rule) => [rule.name.toLowerCase(), rule]));

/** The rule for a property (case-insensitive), when it has one. */
export function userPropertyRule(name: string): UserPropertyRule | undefined {
  return RULES.get(name.trim().toLowerCase());
}

/** Graph's page size limit for a `/users` `$select`: 999, or less when a property lowers it. */
export function maxUsersPageSize(select: readonly string[]): number {
  return Math.min(999, ...select.map((name) => userPropertyRule(name)?.maxPageSize ?? 999));
}

/** The `$select` the mirror sends to `/users/delta`: the selection without snapshot-only properties. */
export function deltaSelectOf(select: readonly string[]): string[] {
  return select.filter((name) => userPropertyRule(name)?.handling !== "snapshotsOnly");
}

/** The selected properties that only snapshots read. */
export function snapshotOnlyProperties(select: readonly string[]): UserPropertyRule[] {
  return select.flatMap((name) => {
    const rule = userPropertyRule(name);
    return rule?.handling === "snapshotsOnly" ? [rule] : [];
  });
}

/** Application permissions the selection needs beyond User.Read.All, with the property that needs each. */
export function extraPermissionsOf(select: readonly string[]): Array<{ property: string; permission: string }> {
  return select.flatMap((name) => {
    const rule = userPropertyRule(name);
    return rule?.extraPermission ? [{ property: rule.name, permission: rule.extraPermission }] : [];
  });
}

/**
 * Problems of a USER_SYNC_SELECT list, one line each (empty when it is usable): every refused
 * property, with its reason.
 */
export function selectProblems(select: readonly string[]): string[] {
  return select.flatMap((name) => {
    const rule = userPropertyRule(name);
    return rule?.handling === "refused" ? [`"${name.trim()}" cannot be synchronized: ${rule.reason} Remove it from USER_SYNC_SELECT.`] : [];
  });
}

/**
 * Every property of the Microsoft Graph v1.0 `user` resource (user.md, "Properties", read 2026-12),
 * in Graph's spelling, and the relationship `manager` (refused above, with its reason). Names with an
 * underscore are extension properties (`extension_<appId>_<name>` directory extensions, schema
 * extensions) and are not checked against it.
 */
export const GRAPH_USER_PROPERTIES: readonly string[] = [
  "aboutMe", "accountEnabled", "ageGroup", "assignedLicenses", "assignedPlans", "authorizationInfo", "birthday", "businessPhones",
  "city", "companyName", "consentProvidedForMinor", "country", "createdDateTime", "creationType", "customSecurityAttributes",
  "deletedDateTime", "department", "deviceEnrollmentLimit", "displayName", "employeeHireDate", "employeeId", "employeeLeaveDateTime",
  "employeeOrgData", "employeeType", "externalUserState", "externalUserStateChangeDateTime", "faxNumber", "givenName", "hireDate",
  "id", "identities", "imAddresses", "interests", "isManagementRestricted", "isResourceAccount", "jobTitle",
  "lastPasswordChangeDateTime", "legalAgeGroupClassification", "licenseAssignmentStates", "mail", "mailboxSettings", "mailNickname",
  "manager", "mobilePhone", "mySite", "officeLocation", "onPremisesDistinguishedName", "onPremisesDomainName",
  "onPremisesExtensionAttributes", "onPremisesImmutableId", "onPremisesLastSyncDateTime", "onPremisesProvisioningErrors",
  "onPremisesSamAccountName", "onPremisesSecurityIdentifier", "onPremisesSyncEnabled", "onPremisesUserPrincipalName", "otherMails",
  "passwordPolicies", "passwordProfile", "pastProjects", "postalCode", "preferredDataLocation", "preferredLanguage", "preferredName",
  "provisionedPlans", "proxyAddresses", "responsibilities", "schools", "securityIdentifier", "serviceProvisioningErrors",
  "showInAddressList", "signInActivity", "signInSessionsValidFromDateTime", "skills", "state", "streetAddress", "surname",
  "usageLocation", "userPrincipalName", "userType",
];

const CATALOGUE = new Set(GRAPH_USER_PROPERTIES);

/** Levenshtein distance, case-insensitive (a few lines: no dependency of the product computes it). */
function editDistance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  let previous = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const current = [i];
    for (let j = 1; j <= y.length; j++) current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[y.length]!;
}

/** The catalogue's property nearest to `name` (same letters in another case first), if one is near enough to be a typo. */
export function nearestUserProperty(name: string): string | undefined {
  const sameLetters = GRAPH_USER_PROPERTIES.find((p) => p.toLowerCase() === name.toLowerCase());
  if (sameLetters) return sameLetters;
  let best: { name: string; distance: number } | undefined;
  for (const property of GRAPH_USER_PROPERTIES) {
    const distance = editDistance(name, property);
    if (best === undefined || distance < best.distance) best = { name: property, distance };
  }
  return best && best.distance <= Math.max(2, Math.floor(name.length / 3)) ? best.name : undefined;
}

/**
 * Names of a USER_SYNC_SELECT list that are not Graph user properties (in Graph's spelling: Graph
 * returns the canonical spelling, so a name in another case would never match its column), one
 * line each naming the nearest known property.
 */
export function unknownPropertyProblems(select: readonly string[]): string[] {
  return select.flatMap((raw) => {
    const name = raw.trim();
    // `id` in any case is the key, always read once (loadSettings puts it first).
    if (name === "" || name.toLowerCase() === "id" || name.includes("_") || !/^[A-Za-z][A-Za-z0-9]*$/.test(name) || CATALOGUE.has(name)) return [];
    const nearest = nearestUserProperty(name);
    return [
      `"${name}" is not a Microsoft Graph user property${nearest ? `: did you mean "${nearest}"?` : "."} Property names are case-sensitive here, in Graph's spelling (https://learn.microsoft.com/graph/api/resources/user); extension properties (extension_<appId>_<name>) are passed as they are.`,
    ];
  });
}

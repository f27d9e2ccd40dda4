/**
 * The analytics lane's columns: a list of typed columns, and what turns one source row (a user, or
 * another kind's object) into cells. The writer (parquetParts.ts) takes a column list and a row
 * stream, so a second kind of object (groups, memberships) plugs in with its own column list.
 *
 * Types (docs/analytics.md, "Columns and types"):
 * - `string`: UTF-8 text. A value that is not a string (a number, an object) is written as its JSON text.
 * - `boolean`: a Parquet BOOLEAN. Anything else is NULL.
 * - `timestamp`: INT64 with the TIMESTAMP logical type (milliseconds, adjusted to UTC). A string
 *   Graph sent (ISO 8601) is parsed; one that does not parse is NULL.
 * - `stringList`: a Parquet LIST of UTF-8 text (3-level, nullable elements); a non-string element is
 *   its JSON text, a value that is not an array is NULL.
 * - `json`: UTF-8 text holding the value's JSON (objects, arrays of objects).
 * - `integer`: a Parquet INT32 (a nested membership's `depth`). Anything but a whole number is NULL.
 * A missing value or JSON null is NULL in every type.
 */
import type { SchemaElement } from "hyparquet";

export type LaneType = "string" | "boolean" | "timestamp" | "stringList" | "json" | "integer";

export interface LaneColumn {
  /** The column's name in the file (Graph's spelling for a property). */
  name: string;
  type: LaneType;
}

/** One row: values by column name (the writer looks names up as laneValue does). */
export type LaneRow = Readonly<Record<string, unknown>>;

/** Graph v1.0 user properties whose type is not text (microsoft.graph.user, read 2026-12). */
const USER_PROPERTY_TYPES: ReadonlyMap<string, LaneType> = new Map(
  [
    ...["accountEnabled", "onPremisesSyncEnabled", "showInAddressList", "isResourceAccount", "isManagementRestricted"].map((name) => [name, "boolean"] as const),
    ...[
      "createdDateTime",
      "deletedDateTime",
      "employeeHireDate",
      "employeeLeaveDateTime",
      "externalUserStateChangeDateTime",
      "lastPasswordChangeDateTime",
      "onPremisesLastSyncDateTime",
      "refreshTokensValidFromDateTime",
      "signInSessionsValidFromDateTime",
    ].map((name) => [name, "timestamp"] as const),
    ...["businessPhones", "imAddresses", "otherMails", "proxyAddresses"].map((name) => [name, "stringList"] as const),
    ...[
      "assignedLicenses",
      "assignedPlans",
      "authorizationInfo",
      "customSecurityAttributes",
      "employeeOrgData",
      "identities",
      "licenseAssignmentStates",
      "onPremisesExtensionAttributes",
      "onPremisesProvisioningErrors",
      "passwordProfile",
      "provisionedPlans",
      "serviceProvisioningErrors",
      "signInActivity",
    ].map((name) => [name, "json"] as const),
  ].map(([name, type]) => [name.toLowerCase(), type]),
);

/** Graph v1.0 group properties whose type is not text (microsoft.graph.group, read 2026-12). */
const GROUP_PROPERTY_TYPES: ReadonlyMap<string, LaneType> = new Map(
  [
    ...["mailEnabled", "securityEnabled", "isAssignableToRole", "onPremisesSyncEnabled", "isManagementRestricted"].map((name) => [name, "boolean"] as const),
    ...["createdDateTime", "deletedDateTime", "expirationDateTime", "renewedDateTime", "onPremisesLastSyncDateTime"].map((name) => [name, "timestamp"] as const),
    ...["groupTypes", "proxyAddresses", "resourceBehaviorOptions", "resourceProvisioningOptions"].map((name) => [name, "stringList"] as const),
    ...["assignedLabels", "assignedLicenses", "onPremisesProvisioningErrors", "serviceProvisioningErrors"].map((name) => [name, "json"] as const),
  ].map(([name, type]) => [name.toLowerCase(), type]),
);

/** The lane's own columns, after the object's: when the snapshot was taken, whose tenant, which run. */
export const LANE_STAMP_COLUMNS: readonly LaneColumn[] = [
  { name: "_snapshotTime", type: "timestamp" },
  { name: "_tenantId", type: "string" },
  { name: "_runId", type: "string" },
];

/** Each item as a lane row (`map`: what of it makes the row, default the item itself), with the lane's stamps. */
export async function* stampedRows<T extends object>(items: AsyncIterable<T>, stamps: Record<string, unknown>, map: (item: T) => object = (item) => item): AsyncIterableIterator<LaneRow> {
  for await (const item of items) yield { ...map(item), ...stamps };
}

/** A user property's lane type: from the table above, else text. */
export function userPropertyType(name: string): LaneType {
  return USER_PROPERTY_TYPES.get(name.toLowerCase()) ?? "string";
}

/** The columns of a users' snapshot: the run's selected properties in USER_SYNC_SELECT order, then the stamps. */
export function userLaneColumns(select: readonly string[]): LaneColumn[] {
  return [...select.map((name) => ({ name, type: userPropertyType(name) })), ...LANE_STAMP_COLUMNS];
}

/** The columns of a groups' set: the groups' selected properties in their $select order (`id` first), then the stamps. */
export function groupLaneColumns(select: readonly string[]): LaneColumn[] {
  return [...select.map((name) => ({ name, type: GROUP_PROPERTY_TYPES.get(name.toLowerCase()) ?? ("string" as const) })), ...LANE_STAMP_COLUMNS];
}

/** A direct membership's columns (export --memberships), without the stamps. */
const MEMBERSHIP_COLUMNS: readonly LaneColumn[] = [
  { name: "groupId", type: "string" },
  { name: "memberId", type: "string" },
  { name: "memberType", type: "string" },
];

/** The columns of a memberships' set: `groupId, memberId, memberType` (with `transitive`: then `depth`, 1 for a direct member), then the stamps. */
export function membershipLaneColumns(options: { transitive?: boolean } = {}): LaneColumn[] {
  return [...MEMBERSHIP_COLUMNS, ...(options.transitive ? [{ name: "depth", type: "integer" as const }] : []), ...LANE_STAMP_COLUMNS];
}

/**
 * The columns of a mirror run's change set (export --changes): what changed, why, when, whose id,
 * the object as the round saw it (JSON, under its kind's noun: `user`, `group`), then the stamps
 * (`_snapshotTime` is the run's start).
 */
export function changeLaneColumns(noun: "user" | "group" = "user"): LaneColumn[] {
  return [
    { name: "change", type: "string" },
    { name: "reason", type: "string" },
    { name: "at", type: "timestamp" },
    { name: "id", type: "string" },
    { name: noun, type: "json" },
    ...LANE_STAMP_COLUMNS,
  ];
}

/**
 * The columns of a groups' mirror run's membership change set: `joined` or `left`, why (the
 * product's reason, and Graph's own in `graphReason`), when, the membership, then the stamps.
 */
export function membershipChangeLaneColumns(): LaneColumn[] {
  return [
    { name: "change", type: "string" },
    { name: "reason", type: "string" },
    { name: "graphReason", type: "string" },
    { name: "at", type: "timestamp" },
    ...MEMBERSHIP_COLUMNS,
    ...LANE_STAMP_COLUMNS,
  ];
}

/**
 * A row's value for a column. Graph answers with its own spelling of a property (`displayName`
 * for a `$select` of `displayname`), so a column without an exact key falls back to the key that
 * differs only in case (as the CSV export does).
 */
export function laneValue(row: LaneRow, column: string): unknown {
  if (Object.hasOwn(row, column)) return row[column];
  const lower = column.toLowerCase();
  for (const key of Object.keys(row)) if (key.toLowerCase() === lower) return row[key];
  return undefined;
}

/** A value as the writer takes it for a column of `type` (null for NULL). */
export function laneCell(type: LaneType, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (type) {
    case "string":
      return typeof value === "string" ? value : JSON.stringify(value);
    case "boolean":
      return typeof value === "boolean" ? value : null;
    case "timestamp": {
      const time = value instanceof Date ? value.getTime() : typeof value === "string" ? Date.parse(value) : Number.NaN;
      return Number.isNaN(time) ? null : new Date(time);
    }
    case "stringList":
      return Array.isArray(value) ? value.map((element: unknown) => (element === null || element === undefined ? null : typeof element === "string" ? element : JSON.stringify(element))) : null;
    case "json":
      return JSON.stringify(value);
    case "integer":
      return Number.isSafeInteger(value) ? value : null;
  }
}

/** The Parquet schema of a column list (every column nullable). */
export function parquetSchemaOf(columns: readonly LaneColumn[]): SchemaElement[] {
  const schema: SchemaElement[] = [{ name: "root", num_children: columns.length }];
  for (const { name, type } of columns) schema.push(...schemaElementsOf(name, type));
  return schema;
}

function schemaElementsOf(name: string, type: LaneType): SchemaElement[] {
  switch (type) {
    case "string":
    case "json":
      return [{ name, type: "BYTE_ARRAY", converted_type: "UTF8", logical_type: { type: "STRING" }, repetition_type: "OPTIONAL" }];
    case "boolean":
      return [{ name, type: "BOOLEAN", repetition_type: "OPTIONAL" }];
    case "integer":
      // The converted type only: hyparquet-writer 0.17 writes the INTEGER logical type so that DuckDB refuses the file ("Invalid data").
      return [{ name, type: "INT32", converted_type: "INT_32", repetition_type: "OPTIONAL" }];
    case "timestamp":
      return [{ name, type: "INT64", converted_type: "TIMESTAMP_MILLIS", logical_type: { type: "TIMESTAMP", isAdjustedToUTC: true, unit: "MILLIS" }, repetition_type: "OPTIONAL" }];
    case "stringList":
      return [
        { name, repetition_type: "OPTIONAL", converted_type: "LIST", logical_type: { type: "LIST" }, num_children: 1 },
        { name: "list", repetition_type: "REPEATED", num_children: 1 },
        { name: "element", type: "BYTE_ARRAY", converted_type: "UTF8", logical_type: { type: "STRING" }, repetition_type: "OPTIONAL" },
      ];
  }
}

/** What DuckDB (and docs/analytics.md) calls each lane type. */
export const LANE_TYPE_SQL: Readonly<Record<LaneType, string>> = {
  string: "VARCHAR",
  json: "VARCHAR",
  boolean: "BOOLEAN",
  timestamp: "TIMESTAMP WITH TIME ZONE",
  stringList: "VARCHAR[]",
  integer: "INTEGER",
};

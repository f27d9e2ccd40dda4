/**
 * Every table name, from a table prefix (src/kinds/tablePrefix.ts) and a suffix declared once: the
 * store-wide tables' here, each object kind's in its descriptor (ObjectKind.tables, and each
 * relationship's edge tables). The stores, a tenant's tables and their deletion derive their names
 * from these functions and nowhere else.
 */
import type { ObjectKind } from "./objectKind.js";

/** The run records and the writer lease of a prefix's stores: `<prefix>Runs`. */
export const RUNS_TABLE_SUFFIX = "Runs";
/** The tenant registry (multi-tenant mode), under the deployment's own prefix: `<prefix>Tenants`. */
export const TENANTS_TABLE_SUFFIX = "Tenants";

/** The tables of one kind for a prefix. */
export interface KindTableNames {
  snapshots: string;
  mirror: string;
  changes: string;
}

export function kindTableNames(prefix: string, kind: ObjectKind): KindTableNames {
  return { snapshots: `${prefix}${kind.tables.snapshots}`, mirror: `${prefix}${kind.tables.mirror}`, changes: `${prefix}${kind.tables.changes}` };
}

export function runsTableName(prefix: string): string {
  return `${prefix}${RUNS_TABLE_SUFFIX}`;
}

export function tenantsTableName(prefix: string): string {
  return `${prefix}${TENANTS_TABLE_SUFFIX}`;
}

/**
 * Every table the stores of a prefix hold for these kinds, in the usual order: the kinds' snapshot
 * tables, the run records, each kind's mirror and change log, then the relationships' edge tables
 * (forward, reverse). For the users alone: `Snapshots`, `Runs`, `Mirror`, `MirrorChanges`.
 */
export function storeTableNames(prefix: string, kinds: readonly ObjectKind[]): string[] {
  const names = kinds.map((kind) => kindTableNames(prefix, kind));
  return [
    ...names.map((n) => n.snapshots),
    runsTableName(prefix),
    ...names.flatMap((n) => [n.mirror, n.changes]),
    ...kinds.flatMap((kind) => kind.relationships.flatMap((r) => [`${prefix}${r.tables.forward}`, `${prefix}${r.tables.reverse}`])),
  ];
}

/**
 * An object kind: what the stages need to know about one kind of directory object (users today;
 * groups next, issue 29) so that the snapshot writer and reader, the one-pass full round, the
 * mirror and its change log, export and diff are written once and take a kind. The users' kind is
 * `USERS` (users.ts); adding a kind is a descriptor, its Graph reader (src/graph/) and, when it
 * carries relationships, their edges: no copy of any stage. See docs/architecture.md, "An object
 * kind".
 */
import type { TableEntity } from "@azure/data-tables";

/**
 * A directory object as Graph returned it for the selected properties: `id` (the immutable object
 * id) is always present; every other value is whatever JSON Graph sent. Structurally the same as
 * GraphUser (src/graph/types.ts), which is the users' name for it.
 */
export type GraphObject = { id: string } & Record<string, unknown>;

/** The Graph side of a kind: where its objects are read. */
export interface KindGraph {
  /** The collection a snapshot pages through, from the Graph origin: `/v1.0/users`. */
  readonly collectionPath: string;
  /** The delta endpoint the mirror follows: `/v1.0/users/delta`. */
  readonly deltaPath: string;
  /** The least-privileged application permission that reads the kind: `User.Read.All`. */
  readonly permission: string;
}

/** What the product knows about the kind's Graph properties. */
export interface KindProperties {
  /** Every property of the Graph resource, in Graph's spelling (a selection is checked against it). */
  readonly catalogue: readonly string[];
  /** The `$select` when its setting is unset; `id` first. */
  readonly defaultSelect: readonly string[];
  /** The setting that names the selection: `USER_SYNC_SELECT`. */
  readonly selectSetting: string;
  /** The delta endpoint's `$select` for a selection: without the properties delta cannot track. */
  deltaSelect(select: readonly string[]): string[];
  /** What is wrong with a selection, one line each (empty when it is usable). */
  selectProblems(select: readonly string[]): string[];
}

/**
 * The suffixes of the kind's own tables; a store's table is `<prefix><suffix>` (kindTableNames,
 * tableNames.ts). Declared here once: the stores, the tenant's tables and their deletion derive
 * every name from them.
 */
export interface KindTableSuffixes {
  /** Point-in-time copies, partitioned per snapshot (`Snapshots`). */
  readonly snapshots: string;
  /** The live mirror, its delta state and its runs (`Mirror`). */
  readonly mirror: string;
  /** The mirror's change log, one partition per run (`MirrorChanges`). */
  readonly changes: string;
}

/** A table entity of the kind's objects, as the stores write it. */
export type KindEntity = TableEntity<Record<string, unknown>>;

/**
 * How one object becomes one table entity and back, losslessly (src/tables/userEntity.ts is the
 * encoding every kind shares today). `encode` throws UserSyncError `user_not_storable` for an
 * object no entity can hold; the stores record it as skipped and write the rest.
 */
export interface EntityCodec<T extends GraphObject> {
  encode(object: T, partitionKey: string): KindEntity;
  decode(entity: Record<string, unknown>): T;
}

/**
 * A relationship a kind carries (a group's `members`, a user's `manager`): not a property, but
 * links to other objects, which Graph's delta reports as an annotation holding ids with their
 * `@odata.type` (and `@removed` when a link goes). Stored as edge rows, in two tables so that both
 * directions are one partition read:
 * - forward, `<prefix><tables.forward>`: PartitionKey the source's id, RowKey the target's id
 *   ("members of G" reads partition G);
 * - reverse, `<prefix><tables.reverse>`: PartitionKey the target's id, RowKey the source's id
 *   ("groups of U" reads partition U).
 * Each row keeps the target's `@odata.type` (`targetType`), so an edge to an object the app may not
 * read (a device, a service principal with only GroupMember.Read.All) still says what it points at.
 * In a snapshot, both keys' PartitionKey is prefixed with the snapshot id (`<snapshotId>-<id>`, ids
 * of one length: no prefix of another), as the objects' partitions are; in the mirror it is the id
 * alone. Designed here; built with the groups issue (issue 29).
 */
export interface Relationship {
  /** Graph's name of the navigation property: `members`, `manager`. */
  readonly name: string;
  /** The annotation delta returns it under: `members@delta`, `manager@delta`. */
  readonly deltaAnnotation: `${string}@delta`;
  /** The name of the reverse direction, for exports and diff: `memberOf`, `directReports`. */
  readonly reverseName: string;
  /** `many` (a group's members) or `one` (a user's manager: a new one replaces the old). */
  readonly cardinality: "one" | "many";
  /** The `@odata.type` values a target may have, e.g. `#microsoft.graph.user`. */
  readonly targetTypes: readonly string[];
  /** The edge tables' suffixes (see above): e.g. `GroupMembers` and `GroupMemberOf`. */
  readonly tables: { readonly forward: string; readonly reverse: string };
  /**
   * Whether one object's links may span pages (a large group's `members@delta` comes about 500 at a
   * time, the same group reappearing on later pages): the reader merges them before the stages see
   * the object.
   */
  readonly spansPages: boolean;
}

/** One edge, as a relationship's reader hands it to the stages (before it is stored as two rows). */
export interface Edge {
  /** The object that carries the relationship (the group; the user whose manager it is). */
  sourceId: string;
  /** The object linked to (the member; the manager). */
  targetId: string;
  /** The target's `@odata.type`, e.g. `#microsoft.graph.user`. */
  targetType: string;
  /** Delta only: the link was removed (`@removed`). */
  removed?: boolean;
}

/** The descriptor of one kind of directory object. */
export interface ObjectKind<T extends GraphObject = GraphObject> {
  /** The kind's name, plural, lower case: `users`. Headers (`USERS`) derive from it. */
  readonly name: string;
  /** One object of the kind in messages: `user` (counts add `s`). */
  readonly noun: string;
  readonly graph: KindGraph;
  readonly properties: KindProperties;
  /** The property that keys an object (its RowKey): Graph's immutable object id. */
  readonly key: "id";
  /**
   * One form for an object whatever the endpoint that returned it (the collection and delta differ
   * in what they leave out, in spelling and in key order): what every store holds.
   */
  canonical(object: T, select: readonly string[]): T;
  /** Two objects hold the same values (`null` equals absent, key order ignored): change detection. */
  sameValues(a: T, b: T): boolean;
  readonly entity: EntityCodec<T>;
  readonly tables: KindTableSuffixes;
  /** The relationships the kind carries (none for users yet: `manager` comes with issue 29). */
  readonly relationships: readonly Relationship[];
}

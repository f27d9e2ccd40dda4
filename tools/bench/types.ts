/**
 * Shapes shared by the benchmark's parent (main.ts), its scenario children (scenario.ts) and the
 * report (summary.ts, report.ts). Everything here is plain JSON: it crosses a process boundary and
 * ends up in bench/results/*.json.
 */

/**
 * - `full-sync`: the product's snapshot sync alone (UserSyncService.runSync), reads overlapping writes.
 * - `full-round`: the scheduled full round as users run it (UserSyncService.runDue when the full
 *   schedule is due): the snapshot and the mirror's full round in one pass over `/users`. A first,
 *   unmeasured run seeds the snapshot and the mirror; the next scheduled run is measured.
 * - `read-ceiling`: the product's GraphUsersClient paging alone, nothing written.
 * - `write-ceiling`: the product's SnapshotStoreClient.upsertUsers page after page, nothing read.
 * - `naive`: every page read into memory, then one upsertEntity per user with a plain TableClient.
 * - `full-round-lane`: the full round with the analytics lane set (USER_SYNC_EXPORT_STORAGE on
 *   Azurite's blob service, USER_SYNC_EXPORT_CONTAINER), run right after `full-round` so that the
 *   two are compared back to back (tools/bench/laneCost.ts).
 */
export type ScenarioKind = "full-sync" | "full-round" | "full-round-lane" | "read-ceiling" | "write-ceiling" | "naive";

/** Graph's largest `$top` for the product's default select (what GraphUsersClient asks for). */
export const GRAPH_PAGE_SIZE = 999;
/** Table the naive baseline writes to. */
export const NAIVE_TABLE = "naiveUsers";

export const SCENARIO_KINDS: readonly ScenarioKind[] = ["full-sync", "full-round", "full-round-lane", "read-ceiling", "write-ceiling", "naive"];

/** The container the lane variant writes to (created before each of its runs, deleted after). */
export const LANE_CONTAINER = "bench-analytics-lane";

/** What the parent asks one child process to run. Holds nothing secret (the connection string travels in SNAPSHOT_STORAGE). */
export interface ScenarioSpec {
  kind: ScenarioKind;
  userCount: number;
  /** Added by the simulated Graph to every page; null for the write ceiling (no Graph at all). */
  latencyInMs: number | null;
  /** Seed and domain of the simulated directory (the write ceiling regenerates the same users). */
  seed: number;
  tenantDomain: string;
  /** host:port of Azurite, to tell table requests from the rest. */
  tableHost: string;
  /** The lane variant: Azurite's table process, whose CPU time during the lane is the lane's read of the snapshot. */
  azuritePid?: number;
}

/** Requests a child sent to the table service, counted at Node's HTTP client (diagnostics_channel). */
export interface TableRequestCounts {
  /** Every HTTP request to the table service: each is one storage transaction. */
  requests: number;
  /** Entity group transactions (`$batch`), up to 100 entities each. */
  batches: number;
  /** Answers 500 or 503 (the service's "slow down"). */
  throttled: number;
}

/** What one child measured and reports back over IPC. */
export interface ScenarioMeasurement {
  kind: ScenarioKind;
  userCount: number;
  latencyInMs: number | null;
  /** Users read (or written, for the write ceiling). */
  users: number;
  /** Entities written to the table service. */
  entitiesWritten: number;
  /** Time of the measured work, from the first request to the last answer, in this process. */
  wallTimeInMs: number;
  /** process.resourceUsage().maxRSS, in bytes. */
  peakRssBytes: number;
  /** CPU time (user + system) of the measuring process during the measured work. */
  processCpuInMs?: number;
  table: TableRequestCounts;
  /**
   * Write ceiling only: median milliseconds per page that upsertUsers spends synchronously (encoding
   * and planning, before its first request), during which nothing else in the process can run.
   */
  writerSyncInMsPerPage?: number;
  /** Full round only: what the measured round did (the seed run before it is not counted anywhere). */
  round?: FullRoundDetails;
}

/** The measured scheduled full round, beyond the common counts. */
export interface FullRoundDetails {
  /** The snapshot's own entity group transactions in the round (its users; checkpoints and the mirror's excluded). */
  snapshotTransactions: number;
  /** The mirror's transactions in the round (users written and the sweep). */
  mirrorTransactions: number;
  /** Mirror users written by the round, and marked `missing` by its sweep. */
  mirrorUsersWritten: number;
  swept: number;
  /** The unmeasured first run that seeded the snapshot and the mirror. */
  seedWallTimeInMs: number;
  /** The lane variant only: what the analytics lane did in the measured round (part of its wall time). */
  lane?: LaneDetails;
}

/** The analytics lane's share of a measured round (`full-round-lane`). */
export interface LaneDetails {
  /** The lane's own time: SnapshotLane.catchUp, which runs after the round's promotion, under its lease. */
  wallTimeInMs: number;
  /** CPU time of the syncing process during the lane (reading the entities back, encoding Parquet, uploading). */
  cpuInMs: number;
  /** Azurite's table service's CPU time during the lane (serving the snapshot's read), where measured. */
  storeBusyInMs?: number;
  /** Sets written (a snapshot set, and change sets when the round changed anything). */
  sets: number;
  rows: number;
  /** Parquet parts written, and their bytes (the manifests' `bytes`); manifest and `_SUCCESS` not included. */
  files: number;
  bytes: number;
  /** The lane's time in the unmeasured seed run (it writes the seed's snapshot). */
  seedWallTimeInMs: number;
}

/** Requests the simulated tenant saw during one run (one cold process). */
export interface TenantRequestCounts {
  graph: number;
  token: number;
  keyVault: number;
  /** GET /certificates/{name}: reads of the client certificate. */
  certificateFetches: number;
  managedIdentity: number;
}

/** One repetition of one scenario, as the parent records it. */
export interface RunRecord extends ScenarioMeasurement {
  /** 1-based repetition number. */
  repeat: number;
  /** Spawn to exit of the child, including Node's start and module loading. */
  processWallTimeInMs: number;
  /** For a full round: the measured round only (its process's seed run took the token and certificate). */
  tenant: TenantRequestCounts;
  /**
   * CPU time Azurite spent while the scenario ran (its measured round, for a full round), from
   * /proc on Linux; absent elsewhere. Azurite is one single-threaded process: near the wall time, it is the bound.
   */
  azuriteCpuInMs?: number;
  /** Full round: Azurite's CPU time during the unmeasured seed run (a first round: inserts into empty tables). */
  seedAzuriteCpuInMs?: number;
  /** CPU time of the benchmark's own process during the run: mostly the simulated tenant building Graph pages. */
  tenantCpuInMs?: number;
}

/** Messages between the benchmark and a full-round child: the child asks for the tenant's counts to be reset before the measured round. */
export type ScenarioMessage =
  | { kind: "result"; ok: true; measurement: ScenarioMeasurement }
  | { kind: "result"; ok: false; error: string }
  | { kind: "reset-tenant-counts" };
export type ParentMessage = { kind: "tenant-counts-reset" };

export interface BenchOptions {
  sizes: number[];
  latencyInMs: number;
  repeat: number;
  /** Repetitions at 1,000,000 users (when that size is included). */
  millionRepeat: number;
  /** Sizes at which the naive baseline runs. */
  naiveSizes: number[];
  /** Runs per full-round scenario (each seeds its stores first, so it takes twice a round). */
  fullRoundRepeat: number;
  /** The scenario kinds measured. */
  scenarios: ScenarioKind[];
  seed: number;
}

export interface BenchEnvironment {
  node: string;
  platform: string;
  arch: string;
  cpuModel: string;
  cpuCount: number;
  totalMemoryBytes: number;
  azuriteVersion: string;
  /** The commit measured, e.g. "610f0e6", with " + uncommitted changes in src/" when the tree differed. */
  productRevision: string;
  /** The product's defaults the figures were measured with. */
  partitionCount: number;
  writeConcurrency: number;
  graphPageSize: number;
  /** os.loadavg() (1, 5, 15 minutes) when the benchmark started and ended: above cpuCount, other work competed for the cores. */
  loadAverageAtStart: number[];
  loadAverageAtEnd: number[];
  /** Azurite storage per size: "memory" or "disk". */
  azuriteStorage: Record<string, "memory" | "disk">;
}

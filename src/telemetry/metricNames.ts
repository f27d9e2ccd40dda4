/**
 * Every metric the product emits: its name, unit and meaning, in one place. The workbook
 * (infra/modules/workbook.bicep), the alerts (infra/modules/monitoring.bicep) and
 * docs/operations.md name these; a test checks that they name nothing else.
 *
 * In Application Insights the metrics land in `customMetrics` under these names, with the
 * dimensions below in `customDimensions`.
 */

/** The dimensions every per-run metric carries. Values are fixed words, never user data. */
export const DIMENSIONS = {
  /** snapshot | full | incremental: a point-in-time snapshot, or a round of the live mirror; none: a run that failed before either started. */
  mode: "mode",
  /** timer | cli | queue (src/shared/syncTrigger.ts) */
  trigger: "trigger",
  /** succeeded | paused | failed */
  outcome: "outcome",
  /** added | updated | removed | restored (the changes metric only). */
  changeKind: "change_kind",
  /** The customer tenant's id, in multi-tenant mode only (docs/tenants.md): one series per tenant. */
  tenantId: "tenant_id",
  /**
   * Failed parts only (outcome failed): the product's error code (src/telemetry/errorTypes.ts), e.g.
   * tenant_not_consented, graph_forbidden, storage_request_failed. In KQL: customDimensions["error.type"].
   */
  errorType: "error.type",
} as const;

export const RUN_MODES = ["snapshot", "full", "incremental", "none"] as const;
export const RUN_OUTCOMES = ["succeeded", "paused", "failed"] as const;
export type RunMode = (typeof RUN_MODES)[number];
export type RunOutcome = (typeof RUN_OUTCOMES)[number];
export type ChangeKind = "added" | "updated" | "removed" | "restored";
export const CHANGE_KINDS: readonly ChangeKind[] = ["added", "updated", "removed", "restored"];

export interface MetricDefinition {
  name: string;
  /** counter: summed per run; histogram: one value per run; gauge: the value at the end of a run. */
  kind: "counter" | "histogram" | "gauge";
  unit: string;
  description: string;
}

const metric = (name: string, kind: MetricDefinition["kind"], unit: string, description: string): MetricDefinition => ({ name, kind, unit, description });

/** Per-run metrics: one data point per snapshot run and per mirror round, with mode, trigger and outcome. */
export const METRICS = {
  runs: metric("usersync.runs", "counter", "{run}", "Runs: one per snapshot run and per mirror round."),
  runDuration: metric("usersync.run.duration", "histogram", "s", "How long a snapshot run or a mirror round took."),
  usersRead: metric("usersync.users.read", "counter", "{user}", "Users read from Microsoft Graph."),
  usersWritten: metric("usersync.users.written", "counter", "{user}", "Users written to Table Storage."),
  usersSkipped: metric("usersync.users.skipped", "counter", "{user}", "Users that could not be stored and were skipped (see: entra-user-sync runs --json)."),
  changes: metric("usersync.changes", "counter", "{user}", "Users the live mirror added, updated, removed or restored (dimension change_kind)."),
  graphRequests: metric("usersync.graph.requests", "counter", "{request}", "Requests sent to Microsoft Graph, every attempt."),
  graphThrottled: metric("usersync.graph.throttled", "counter", "{response}", "Graph answers 429 Too Many Requests."),
  graphWaited: metric("usersync.graph.waited", "counter", "s", "Time waited before retrying Graph (Retry-After or backoff) and pacing pauses."),
  tableTransactions: metric("usersync.table.transactions", "counter", "{transaction}", "Entity group transactions sent to Table Storage."),
} as const;

/** State at the end of a run (dimension trigger only): gauges. */
export const STATE_METRICS = {
  snapshotAge: metric("usersync.snapshot.age", "gauge", "h", "Hours since the latest complete snapshot completed, at the end of a run."),
  mirrorAge: metric("usersync.mirror.age", "gauge", "h", "Hours since the live mirror last completed a round (its delta link was saved), at the end of a run."),
  certificateDaysToExpiry: metric("usersync.certificate.days_to_expiry", "gauge", "d", "Days until the client certificate expires (GRAPH_CREDENTIAL keyVaultCertificate)."),
  snapshotUsers: metric("usersync.snapshot.users", "gauge", "{user}", "Users in the latest complete snapshot (its whole run, however many parts it took), at the end of a run."),
  deltaTokenAge: metric("usersync.delta_token.age", "gauge", "d", "Days since the mirror's saved delta link was issued (Graph stops accepting it after 7), at the end of a run."),
} as const;

/** A run that did nothing because another run held the tenant's writer lease (dimension trigger, and tenant_id). */
export const SKIP_METRICS = {
  leaseContention: metric("usersync.runs.skipped", "counter", "{run}", "Runs that found another run holding the writer lease and did nothing."),
} as const;

/** Multi-tenant mode: the state of the fan-out after each scheduler pass (no dimension: one queue, one registry). */
export const SCHEDULER_METRICS = {
  queueDepth: metric("usersync.queue.depth", "gauge", "{message}", "Messages in the tenant queue (visible or not), after a scheduler pass."),
  poisonDepth: metric("usersync.queue.poison", "gauge", "{message}", "Messages in the tenant queue's poison queue, after a scheduler pass."),
  tenantsRegistered: metric("usersync.tenants.registered", "gauge", "{tenant}", "Tenants the scheduler pass found in the registry."),
  tenantsQueued: metric("usersync.tenants.queued", "gauge", "{tenant}", "Tenants the scheduler pass queued."),
  tenantsSkipped: metric("usersync.tenants.skipped", "gauge", "{tenant}", "Tenants the scheduler pass left alone because they were already queued or running."),
} as const;

/** What a run records (the run's parts and the state at its end). */
export const RUN_METRIC_NAMES: ReadonlySet<string> = new Set([...Object.values(METRICS), ...Object.values(STATE_METRICS)].map((m) => m.name));

export const ALL_METRICS: readonly MetricDefinition[] = [...Object.values(METRICS), ...Object.values(STATE_METRICS), ...Object.values(SKIP_METRICS), ...Object.values(SCHEDULER_METRICS)];
export const METRIC_NAMES: ReadonlySet<string> = new Set(ALL_METRICS.map((m) => m.name));

/** The meter and tracer name (the instrumentation scope). */
export const INSTRUMENTATION_SCOPE = "entra-user-sync";

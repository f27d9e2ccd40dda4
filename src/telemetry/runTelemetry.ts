/**
 * Telemetry around one run (UserSyncService.runDue): a trace with the run's span (the Azure SDK's
 * spans for Key Vault, Tables and Graph requests, and the Graph token's span, nest under it) and,
 * once it returned or threw, the run's metrics. Telemetry never fails a run: a problem recording it
 * is logged as a warning.
 *
 * Only numbers and fixed words are recorded (src/telemetry/runFacts.ts); errors are recorded by
 * their code, never by message (a message can name a user).
 */
import { metrics, SpanStatusCode, trace, type Span, type Tracer } from "@opentelemetry/api";
import { logs } from "@opentelemetry/api-logs";
import type { MirrorRunRecord } from "../mirror/userMirrorClient.js";
import { describeError, isUserSyncError } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";
import type { SyncTrigger } from "../shared/syncTrigger.js";
import type { SyncRunRecord } from "../snapshots/snapshotStoreClient.js";
import type { AppClients } from "../sync/syncClients.js";
import type { DueRunResult, RunReads } from "../sync/userSyncService.js";
import { errorType } from "./errorTypes.js";
import { INSTRUMENTATION_SCOPE } from "./metricNames.js";
import { baselineOf, partsOfFailedRun, partsOfResult, type RunFacts, type RunPartFacts, type SnapshotBaseline } from "./runFacts.js";
import { recordRunMetrics } from "./runMetrics.js";

/** The span names of the product's own spans (the Azure SDK names its own). */
export const SPAN_NAMES = { run: "usersync.run", graphToken: "usersync.graph_token" } as const;

/** What the telemetry reads of the run's clients (from the composition): the stores (run records, ages), the certificate and the Graph token client. */
export type RunTelemetrySource = Pick<AppClients, "store" | "mirror" | "certificates" | "tokens">;

export interface RunTelemetryOptions {
  trigger: SyncTrigger;
  logger: Logger;
  /** Multi-tenant mode: the tenant the run syncs (a `tenant_id` dimension on every metric, an attribute on the run's span). */
  tenantId?: string;
  /** "Now" at the end of the run (tests). */
  now?: () => Date;
}

const READ_TIMEOUT_IN_MS = 10_000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function tracer(): Tracer {
  return trace.getTracer(INSTRUMENTATION_SCOPE);
}

const instrumentedTokens = new WeakSet<object>();

/** Puts a span around the Graph token client's getToken (MSAL's requests are not Azure SDK requests). */
function traceGraphTokens(tokens: RunTelemetrySource["tokens"]): void {
  if (instrumentedTokens.has(tokens)) return;
  instrumentedTokens.add(tokens);
  const getToken = tokens.getToken.bind(tokens);
  tokens.getToken = (options) =>
    tracer().startActiveSpan(SPAN_NAMES.graphToken, async (span) => {
      try {
        const token = await getToken(options);
        span.setAttribute("usersync.token.from_cache", token.fromCache === true);
        return token;
      } catch (error) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: errorType(error) });
        throw error;
      } finally {
        span.end();
      }
    });
}

/**
 * Runs `run` (a runDue call) inside the run's span, then records its metrics. Returns or throws
 * what `run` did. `run` is given a RunReads to pass to runDue (`reads`): what the run read under its
 * lease (the snapshot run it continued, the latest snapshot's pointer, the mirror's delta state) is
 * not read again here; what it did not fill in is.
 */
export async function withRunTelemetry(clients: RunTelemetrySource, options: RunTelemetryOptions, run: (reads: RunReads) => Promise<DueRunResult>): Promise<DueRunResult> {
  const now = options.now ?? (() => new Date());
  traceGraphTokens(clients.tokens);
  const reads: RunReads = {};
  const startedAt = now();
  const attributes = { "usersync.trigger": options.trigger, ...(options.tenantId !== undefined ? { "usersync.tenant_id": options.tenantId } : {}) };
  return tracer().startActiveSpan(SPAN_NAMES.run, { attributes }, async (span) => {
    let result: DueRunResult | undefined;
    let failure: { error: unknown } | undefined;
    try {
      result = await run(reads);
      return result;
    } catch (error) {
      failure = { error };
      throw error;
    } finally {
      await quietly(
        options.logger,
        async () => {
          const facts = await runFacts(clients, { trigger: options.trigger, startedAt, endedAt: now(), result, failure, reads });
          if (options.tenantId !== undefined) facts.tenantId = options.tenantId;
          recordRunMetrics(facts);
          describeSpan(span, facts, failure);
        },
        undefined,
      );
      span.end();
      // The host may freeze or recycle an idle instance before the next periodic export: send now.
      await flushTelemetry(FLUSH_TIMEOUT_IN_MS);
    }
  });
}

/** How long the end of a run waits for its telemetry to be sent. */
export const FLUSH_TIMEOUT_IN_MS = 5_000;

/**
 * Asks the registered SDK providers (if any) to export what they hold, waiting at most `timeoutInMs`:
 * metrics, spans, and log records (in the host, the Functions instrumentation turns each
 * `context.log` line into a log record; they leave with the run's metrics and trace).
 */
export async function flushTelemetry(timeoutInMs: number): Promise<void> {
  type Flushable = { forceFlush?: () => Promise<void>; getDelegate?: () => unknown };
  const tracerProvider = trace.getTracerProvider() as Flushable;
  const providers = [metrics.getMeterProvider() as Flushable, (tracerProvider.getDelegate?.() ?? tracerProvider) as Flushable, logs.getLoggerProvider() as Flushable];
  const flushes = providers.flatMap((p) => (typeof p.forceFlush === "function" ? [p.forceFlush().catch(() => undefined)] : []));
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all(flushes), new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutInMs)))]);
  clearTimeout(timer);
}

/**
 * The snapshot run this run continued, as it was before (its counts so far are not this run's): the
 * unfinished run the run found under its lease. A run that stopped before reading it continued none.
 */
function baselineFrom(reads: RunReads): SnapshotBaseline | undefined {
  return reads.unfinishedSnapshot ? baselineOf(reads.unfinishedSnapshot) : undefined;
}

type RunOutline = { trigger: SyncTrigger; startedAt: Date; endedAt: Date; result?: DueRunResult; failure?: { error: unknown }; reads: RunReads };

async function runFacts(clients: RunTelemetrySource, run: RunOutline): Promise<RunFacts> {
  const abortSignal = AbortSignal.timeout(READ_TIMEOUT_IN_MS);
  const baseline = baselineFrom(run.reads);
  let parts: RunPartFacts[] = [];
  if (run.result) parts = partsOfResult(run.result, baseline);
  else if (run.failure && !isUserSyncError(run.failure.error, "run_in_progress")) {
    const snapshotRuns: SyncRunRecord[] = [];
    for await (const record of clients.store.listRuns({ maxResults: 3, abortSignal })) snapshotRuns.push(record);
    const mirrorRuns: MirrorRunRecord[] = [];
    for await (const record of clients.mirror.listRuns({ maxResults: 3, abortSignal })) mirrorRuns.push(record);
    parts = partsOfFailedRun({ startedAt: run.startedAt, endedAt: run.endedAt, snapshotRuns, mirrorRuns, ...(baseline ? { baseline } : {}) });
    // A run that failed before either part recorded anything still counts as a failed run.
    if (parts.length === 0) parts = [emptyFailedPart(run.endedAt.getTime() - run.startedAt.getTime())];
  }
  const facts: RunFacts = { trigger: run.trigger, parts };
  if (run.failure) {
    if (isUserSyncError(run.failure.error, "run_in_progress")) facts.leaseContended = true;
    else facts.errorType = errorType(run.failure.error);
  }
  const end = run.endedAt.getTime();
  // What a run that returned knows of its end state is not read again (a run that threw may have stopped mid-write: read).
  const known = run.result ? run.reads : {};
  const latest = known.latestSnapshot !== undefined ? known.latestSnapshot : await clients.store.getLatestSnapshot({ abortSignal });
  if (latest) {
    facts.snapshotAgeInHours = Math.max(0, end - latest.completedAt.getTime()) / HOUR;
    facts.snapshotUsers = latest.userCount;
  }
  const state = known.deltaState !== undefined ? known.deltaState : await clients.mirror.getDeltaState({ abortSignal });
  if (state?.state.deltaLink) {
    facts.mirrorAgeInHours = Math.max(0, end - state.state.savedAt.getTime()) / HOUR;
    // Each round saves the delta link Graph returned at its end: the token is as old as that save.
    facts.deltaTokenAgeInDays = Math.max(0, end - state.state.savedAt.getTime()) / DAY;
  }
  const certificate = clients.certificates ? await clients.certificates.getClientCertificate({ abortSignal }).catch(() => undefined) : undefined;
  if (certificate) facts.certificateDaysToExpiry = (certificate.notAfter.getTime() - end) / DAY;
  return facts;
}

/** A run that threw before a snapshot run or a mirror round was recorded (storage, the lease): mode "none". */
function emptyFailedPart(durationInMs: number): RunPartFacts {
  return {
    mode: "none",
    outcome: "failed",
    durationInSeconds: Math.max(0, durationInMs) / 1000,
    usersRead: 0,
    usersWritten: 0,
    usersSkipped: 0,
    graphRequests: 0,
    graphThrottled: 0,
    graphWaitedInSeconds: 0,
    tableTransactions: 0,
  };
}

function describeSpan(span: Span, facts: RunFacts, failure: { error: unknown } | undefined): void {
  span.setAttribute("usersync.modes", facts.parts.map((p) => p.mode).join(","));
  for (const part of facts.parts) {
    span.setAttribute(`usersync.${part.mode}.outcome`, part.outcome);
    span.setAttribute(`usersync.${part.mode}.users_read`, part.usersRead);
    span.setAttribute(`usersync.${part.mode}.users_written`, part.usersWritten);
  }
  if (failure) {
    const code = errorType(failure.error);
    span.setAttribute("usersync.error_code", code);
    span.setAttribute("error.type", code);
    if (code !== "run_in_progress") span.setStatus({ code: SpanStatusCode.ERROR, message: code });
  }
}

async function quietly<T>(logger: Logger, work: () => Promise<T>, fallback: T): Promise<T> {
  try {
    return await work();
  } catch (error) {
    logger.warn(`Could not record this run's telemetry (the run itself is not affected): ${describeError(error)}`);
    return fallback;
  }
}

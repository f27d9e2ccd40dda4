/** `entra-user-sync run`: does what is due, with a progress display and Ctrl+C at checkpoints. */
import { formatCount, formatNumber } from "../shared/counts.js";
import { isUserSyncError } from "../shared/errors.js";
import { formatMirrorSummary, formatSnapshotSummary } from "../sync/runSummary.js";
import type { AppClients } from "../sync/syncClients.js";
import type { DueRunResult, RunDueOptions } from "../sync/userSyncService.js";
import { composeUserSync, type ComposedSync } from "../app/syncService.js";
import { TenantServices } from "../app/tenantServices.js";
import { withRunTelemetry } from "../telemetry/runTelemetry.js";
import { startTelemetry, stopTelemetry } from "../telemetry/telemetrySetup.js";
import { EXIT_PAUSED, ExitCode } from "../shared/exitCodes.js";
import { handleInterrupts, type InterruptHandling } from "./interrupt.js";
import { write, writeError } from "./output.js";
import { createProgressDisplay, progressModeFor, type ProgressDisplay } from "./progress.js";
import { isAbortError, type OperationOptions } from "../shared/abort.js";
import { describeError } from "../shared/errors.js";
import { readTenantHealthFacts } from "../fanout/tenantHealth.js";
import { recordTenantRunOutcome, type TenantRunOutcome } from "../fanout/tenantRecords.js";
import { createTenantError } from "../tenants/tenantErrors.js";
import { errorType } from "../telemetry/errorTypes.js";

export interface RunCommandOptions {
  /** --no-progress turns it off; it is also off when stderr is not a terminal. */
  progress: boolean;
  maxMinutes?: number;
  full: boolean;
  /** Multi-tenant mode: the registered tenant to sync (checked by selectTenant). */
  tenant?: string;
}

/** What the run has committed so far, for the message of a second Ctrl+C. */
interface Seen {
  phase: "starting" | "snapshot" | "mirror";
  pages: number;
  users: number;
  mirrorItems: number;
}

/** Multi-tenant mode: the tenant's registry row around the run (see tenantRowOf). */
interface TenantRow {
  underLease: NonNullable<RunDueOptions["underLease"]>;
  ended: (outcome: TenantRunOutcome) => Promise<void>;
}

/** What the steps of a run share: the display, Ctrl+C, and the tenant's row. */
interface RunView {
  display: ProgressDisplay;
  interrupts: InterruptHandling;
  tenantRow: TenantRow | undefined;
}

export async function runCommand(options: RunCommandOptions): Promise<void> {
  const { tenants, service, clients } = servicesFor(options.tenant);
  const tenantRow = tenants && tenantRowOf(tenants, clients);
  await startTelemetry(process.env);
  const leaseSeconds = Math.round(clients.settings.runControl.leaseDurationInMs / 1000);
  const display = createProgressDisplay(progressModeFor(process.stderr, process.env, options.progress), "Starting user sync…");
  const seen: Seen = { phase: "starting", pages: 0, users: 0, mirrorItems: 0 };
  const interrupts = handleInterrupts({
    onFirst(signal) {
      const key = signal === "SIGINT" ? "Ctrl+C" : signal;
      display.logger.info(`${key}: stopping at the next checkpoint (press Ctrl+C again to stop at once)…`);
    },
    onSecond() {
      display.stop();
      writeError(`\n${whatWasKept(seen, leaseSeconds)}\n`);
    },
  });
  const view: RunView = { display, interrupts, tenantRow };
  try {
    const telemetry = { trigger: "cli" as const, logger: display.logger, ...(options.tenant !== undefined ? { tenantId: clients.settings.tenantId } : {}) };
    const result = await withRunTelemetry(clients, telemetry, (reads) => service.runDue(display.logger, { ...runDueOptions(options, view, seen), reads }));
    await reportResult(result, view);
  } catch (error) {
    if (error instanceof ExitCode) throw error;
    return await reportFailure(error, view);
  } finally {
    interrupts.dispose();
    await stopTelemetry();
  }
}

/**
 * Multi-tenant mode: the tenant's registry row says how the run ended, as a tenant message's run
 * does (the same fenced write: src/fanout/tenantRecords.ts). A message queued for the tenant keeps
 * its marker: the worker that takes it consumes it. The row is not marked running first: a run
 * stopped at once (a second Ctrl+C) could not clear the mark, and the scheduler would pass the
 * tenant by until the mark went stale. The registry is read again once the run holds the
 * tenant's writer lease (a tenant removed meanwhile: the run writes nothing, tenant_removed), and
 * the outcome is fenced by that lease: a run that lost it to a newer run records nothing.
 */
function tenantRowOf(tenants: TenantServices, clients: AppClients): TenantRow {
  const tenantId = clients.settings.tenantId;
  let leaseAcquiredAt: Date | undefined;
  return {
    underLease: async (lease, options: OperationOptions) => {
      leaseAcquiredAt = lease.acquiredAt;
      if ((await tenants.registry.getTenant(tenantId, options)) === undefined) throw createTenantError("tenantRemoved", "", tenantId);
    },
    ended: async (outcome) =>
      recordTenantRunOutcome(tenants.registry, tenantId, { ...outcome, health: await readTenantHealthFacts(clients) }, { consumesQueued: false, leaseAcquiredAt }).then(
        () => undefined,
        (error: unknown) => writeError(`warning: could not record the run's outcome on the tenant's registry row: ${describeError(error)}\n`),
      ),
  };
}

/** runDue's options: --full, --max-minutes, Ctrl+C, the tenant's row, and the progress shown (and kept in `seen`). */
function runDueOptions(options: RunCommandOptions, view: RunView, seen: Seen): RunDueOptions {
  const { display, interrupts, tenantRow } = view;
  return {
    trigger: "cli",
    full: options.full,
    abortSignal: interrupts.signal,
    ...(tenantRow ? { underLease: tenantRow.underLease } : {}),
    ...(options.maxMinutes !== undefined ? { runControl: { maxRunDurationInMs: options.maxMinutes * 60_000 } } : {}),
    onProgress: (s) => {
      Object.assign(seen, { phase: "snapshot", pages: s.pages, users: s.entitiesWritten });
      display.update(`Snapshot: ${formatCount(s.entitiesWritten, "user")} written (${formatCount(s.pages, "page")}, ${formatNumber(s.usersRead)} read)`);
    },
    onMirrorPage: (p) => {
      Object.assign(seen, { phase: "mirror", mirrorItems: p.itemsRead });
      display.update(`Mirror (${p.mode} round): ${formatCount(p.itemsRead, "item")} in ${formatCount(p.pages, "page")}`);
    },
  };
}

/** A run that returned: the tenant's row, the summaries and their warnings; exit 4 when it stopped at a checkpoint. */
async function reportResult(result: DueRunResult, view: RunView): Promise<void> {
  const { display, interrupts, tenantRow } = view;
  const snapshot = result.snapshot;
  const stopped = snapshot?.outcome === "paused" || interrupts.signal.aborted;
  await tenantRow?.ended({ outcome: stopped ? "paused" : "succeeded" });
  if (stopped) display.info("User sync stopped at a checkpoint");
  else display.succeed(snapshot?.resumed ? "User sync complete (resumed)" : "User sync complete");
  if (snapshot) {
    await write(`${formatSnapshotSummary(snapshot, result.snapshotElapsedInMs ?? 0)}\n`);
    const skipped = snapshot.stats.counters.skippedUsers ?? 0;
    if (skipped > 0) writeError(`warning: ${formatCount(skipped, "user")} could not be stored and ${skipped === 1 ? "was" : "were"} skipped; see: entra-user-sync runs --json\n`);
  }
  if (result.mirror) {
    await write(`${formatMirrorSummary(result.mirror)}\n`);
    const skipped = result.mirror.counters.skippedUsers ?? 0;
    if (skipped > 0) writeError(`warning: ${formatCount(skipped, "user")} could not be stored in the mirror and ${skipped === 1 ? "was" : "were"} skipped; see: entra-user-sync runs --json\n`);
  }
  if (stopped) {
    if (!result.mirror) await write("The mirror was not updated this time; run again to continue.\n");
    throw new ExitCode(EXIT_PAUSED);
  }
}

/** A run that threw: the tenant's row, then exit 4 when Ctrl+C stopped it, else the error again. */
async function reportFailure(error: unknown, view: RunView): Promise<never> {
  const { display, interrupts, tenantRow } = view;
  // Another run holding the lease records its own outcome: the row is left to it.
  if (!isUserSyncError(error, "run_in_progress") && !isUserSyncError(error, "tenant_removed")) {
    await tenantRow?.ended(interrupts.signal.aborted && isAbortError(error) ? { outcome: "stopped" } : { outcome: "failed", error: describeError(error), errorCode: errorType(error) });
  }
  if (interrupts.signal.aborted && isAbortError(error)) {
    display.info("User sync stopped");
    await write("User sync stopped before the mirror's round completed; its delta link was not moved, so the next run reads those changes again.\n");
    throw new ExitCode(EXIT_PAUSED);
  }
  display.fail(isUserSyncError(error, "run_in_progress") ? "Another sync is running" : isUserSyncError(error, "tenant_removed") ? "The tenant was removed" : isUserSyncError(error, "lease_lost") ? "User sync stopped: another run took over" : "User sync failed");
  throw error;
}

/** Single-tenant mode's service, or (with --tenant) the registered tenant's and the registry's; with the clients they were built over. */
function servicesFor(tenantId: string | undefined): ComposedSync & { tenants?: TenantServices } {
  if (tenantId === undefined) return composeUserSync(process.env);
  const tenants = new TenantServices(process.env);
  return { tenants, ...tenants.getTenantSync(tenantId) };
}

function whatWasKept(seen: Seen, leaseSeconds: number): string {
  const lease = `If this run still held the writer lease, the next run can start once it expires (USER_SYNC_LEASE_SECONDS, ${formatNumber(leaseSeconds)} s).`;
  if (seen.phase === "starting") return `Stopped at once, before any page was committed: nothing new was kept. ${lease}`;
  if (seen.phase === "snapshot") {
    return (
      `Stopped at once. Kept: the snapshot's checkpoint after ${formatCount(seen.pages, "page")} (${formatCount(seen.users, "user")} written); ` +
      `the next run continues it, and the previous complete snapshot stays the latest. ${lease}`
    );
  }
  const snapshot = seen.pages > 0 ? "the snapshot this run wrote before the mirror's round (see: entra-user-sync runs), and " : "";
  return (
    `Stopped at once. Kept: ${snapshot}the mirror's changes applied so far (${formatCount(seen.mirrorItems, "item")} read); ` +
    `its delta link was not moved, so the next run reads those changes again. ${lease}`
  );
}

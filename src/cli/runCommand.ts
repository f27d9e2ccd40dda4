/** `entra-user-sync run`: does what is due, with a progress display and Ctrl+C at checkpoints. */
import { formatCount, formatNumber } from "../shared/counts.js";
import { isUserSyncError } from "../shared/errors.js";
import { formatMirrorSummary, formatSnapshotSummary } from "../sync/runSummary.js";
import type { UserSyncService } from "../sync/userSyncService.js";
import { createUserSyncService } from "../app/syncService.js";
import { TenantServices } from "../app/tenantServices.js";
import { withRunTelemetry } from "../telemetry/runTelemetry.js";
import { startTelemetry, stopTelemetry } from "../telemetry/telemetrySetup.js";
import { EXIT_PAUSED, ExitCode } from "../shared/exitCodes.js";
import { handleInterrupts } from "./interrupt.js";
import { write, writeError } from "./output.js";
import { createProgressDisplay, progressModeFor } from "./progress.js";
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

export async function runCommand(options: RunCommandOptions): Promise<void> {
  const { tenants, service } = servicesFor(options.tenant);
  /**
   * Multi-tenant mode: the tenant's registry row says how the run ended, as a tenant message's run
   * does (the same fenced write: src/fanout/tenantRecords.ts). A message queued for the tenant keeps
   * its marker: the worker that takes it consumes it. The row is not marked running first: a run
   * stopped at once (a second Ctrl+C) could not clear the mark, and the scheduler would pass the
   * tenant by until the mark went stale. The registry is read again once the run holds the
   * tenant's writer lease (a tenant removed meanwhile: the run writes nothing, tenant_removed), and
   * the outcome is fenced by that lease: a run that lost it to a newer run records nothing.
   */
  let leaseAcquiredAt: Date | undefined;
  const tenantRow = tenants && {
    underLease: async (lease: { acquiredAt: Date }, options: OperationOptions) => {
      leaseAcquiredAt = lease.acquiredAt;
      const tenantId = service.settings.tenantId;
      if ((await tenants.registry.getTenant(tenantId, options)) === undefined) throw createTenantError("tenantRemoved", "", tenantId);
    },
    ended: async (outcome: TenantRunOutcome) =>
      recordTenantRunOutcome(tenants.registry, service.settings.tenantId, { ...outcome, health: await readTenantHealthFacts(service) }, { consumesQueued: false, leaseAcquiredAt }).then(
        () => undefined,
        (error: unknown) => writeError(`warning: could not record the run's outcome on the tenant's registry row: ${describeError(error)}\n`),
      ),
  };
  await startTelemetry(process.env);
  const leaseSeconds = Math.round(service.settings.runControl.leaseDurationInMs / 1000);
  const display = createProgressDisplay(progressModeFor(process.stderr, process.env, options.progress), "Starting user sync…");
  /** What the run has committed so far, for the message of a second Ctrl+C. */
  const seen: { phase: "starting" | "snapshot" | "mirror"; pages: number; users: number; mirrorItems: number } = { phase: "starting", pages: 0, users: 0, mirrorItems: 0 };
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
  try {
    const result = await withRunTelemetry(service, { trigger: "cli", logger: display.logger, ...(options.tenant !== undefined ? { tenantId: service.settings.tenantId } : {}) }, () => service.runDue(display.logger, {
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
    }));
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
  } catch (error) {
    if (error instanceof ExitCode) throw error;
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
  } finally {
    interrupts.dispose();
    await stopTelemetry();
  }
}

/** Single-tenant mode's service, or (with --tenant) the registered tenant's and the registry's. */
function servicesFor(tenantId: string | undefined): { tenants?: TenantServices; service: UserSyncService } {
  if (tenantId === undefined) return { service: createUserSyncService(process.env) };
  const tenants = new TenantServices(process.env);
  return { tenants, service: tenants.getTenantSyncService(tenantId) };
}

function whatWasKept(seen: { phase: "starting" | "snapshot" | "mirror"; pages: number; users: number; mirrorItems: number }, leaseSeconds: number): string {
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

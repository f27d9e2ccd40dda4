// First: telemetry is set up before anything else of this file runs (package.json `main` lists it
// first too); the bootstrap's own first import checks the Node version.
import "../telemetry/bootstrap.js";
import { app, type InvocationContext, type Timer } from "@azure/functions";
import { errorOutcome } from "../shared/errorOutcomes.js";
import { isUserSyncError } from "../shared/errors.js";
import { redact } from "../shared/redact.js";
import { formatFailureSummary, formatMirrorSummary, formatSnapshotSummary } from "../sync/runSummary.js";
import { getUserSync } from "../app/syncService.js";
import { FLUSH_TIMEOUT_IN_MS, flushTelemetry, withRunTelemetry } from "../telemetry/runTelemetry.js";
import { loadTenantMode } from "../configuration/tenantModeSetting.js";
import { scheduleTenantsTimer } from "../app/functionHandlers.js";

/**
 * The timer: wiring only. The schedule comes from the USER_SYNC_SCHEDULE app setting; each tick does
 * what is due (UserSyncService.runDue): the live mirror's round every time, and the point-in-time
 * snapshot on USER_SYNC_FULL_SCHEDULE. A failed run fails the invocation (so it shows as a failed
 * request in Application Insights).
 *
 * Another run holding the writer lease (`run_in_progress`) is not a failure: the host runs the timer
 * as a singleton per app, so the holder is the command line, another app on the same storage, or a
 * dead run whose lease has not expired yet. Nothing was read or written, and the next tick does what
 * is due then; failing the invocation would only raise false alarms (and could trigger retries).
 */
export async function userSyncTimer(timer: Timer, context: InvocationContext): Promise<void> {
  // USER_SYNC_MAX_RUN_MINUTES counts from here, as functionTimeout does (docs/operations.md).
  const invokedAt = new Date();
  if (timer.isPastDue) context.warn("The user sync timer is past due; running now.");
  try {
    // Multi-tenant mode: the timer is the scheduler; the queue-triggered tenantSync does the work.
    if (loadTenantMode(process.env) === "multi") return await scheduleTenantsTimer(context);
    const { service, clients } = getUserSync();
    const result = await withRunTelemetry(clients, { trigger: "timer", logger: context }, (reads) => service.runDue(context, { trigger: "timer", invokedAt, reads }));
    if (result.snapshot) context.log(formatSnapshotSummary(result.snapshot, result.snapshotElapsedInMs ?? 0));
    if (result.mirror) context.log(formatMirrorSummary(result.mirror));
  } catch (error) {
    if (isUserSyncError(error) && errorOutcome(error).severity === "warning") {
      context.warn(redact(`User sync skipped this time: ${error.message} The next tick runs what is due then.`));
      return;
    }
    const summary = formatFailureSummary(error);
    context.error(summary);
    // The host logs what it is thrown; only the redacted summary goes there, not the original error.
    // eslint-disable-next-line preserve-caught-error
    throw new Error(summary);
  } finally {
    // The lines logged after the run (its summary, the failure) leave with it, before the host may freeze the instance.
    await flushTelemetry(FLUSH_TIMEOUT_IN_MS);
  }
}

app.timer("userSync", {
  schedule: "%USER_SYNC_SCHEDULE%",
  runOnStartup: false,
  useMonitor: true,
  handler: userSyncTimer,
});

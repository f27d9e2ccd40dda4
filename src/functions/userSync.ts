import { app, type InvocationContext, type Timer } from "@azure/functions";
import { formatFailureSummary, formatSuccessSummary } from "../sync/runSummary.js";
import { getUserSyncService } from "../sync/userSyncService.js";

/**
 * The timer: wiring only. The schedule comes from the USER_SYNC_SCHEDULE app setting; a failed run
 * fails the invocation (so it shows as a failed request in Application Insights).
 */
export async function userSyncTimer(timer: Timer, context: InvocationContext): Promise<void> {
  const startedAt = Date.now();
  if (timer.isPastDue) context.warn("The user sync timer is past due; running now.");
  try {
    const service = getUserSyncService();
    const { run, stats } = await service.runSync(context, { trigger: "timer" });
    context.log(formatSuccessSummary(run, stats, Date.now() - startedAt));
  } catch (error) {
    const summary = formatFailureSummary(error);
    context.error(summary);
    // The host logs what it is thrown; only the redacted summary goes there, not the original error.
    // eslint-disable-next-line preserve-caught-error
    throw new Error(summary);
  }
}

app.timer("userSync", {
  schedule: "%USER_SYNC_SCHEDULE%",
  runOnStartup: false,
  useMonitor: true,
  handler: userSyncTimer,
});

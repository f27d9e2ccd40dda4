/**
 * What each error means for whoever ran the product, in one table: the command line's exit code,
 * and whether the timer treats it as a warning (the invocation succeeds) or a failure. Codes not
 * listed are failures with exit code 1.
 */
import { isUserSyncError, type UserSyncErrorCode } from "./errors.js";
import { EXIT_CONFIGURATION, EXIT_FAILURE, EXIT_RUN_IN_PROGRESS } from "./exitCodes.js";

export interface ErrorOutcome {
  /** The command line's exit code. */
  exitCode: number;
  /** `warning`: nothing went wrong that needs a person (the timer logs it and succeeds). */
  severity: "warning" | "failure";
  /** Print only the message (it names the setting and the fix), without a failure prefix. */
  bare: boolean;
}

const OUTCOMES: Partial<Record<UserSyncErrorCode, ErrorOutcome>> = {
  // Bad settings: nothing was sent anywhere; the message names each setting and the fix.
  missing_setting: { exitCode: EXIT_CONFIGURATION, severity: "failure", bare: true },
  invalid_setting: { exitCode: EXIT_CONFIGURATION, severity: "failure", bare: true },
  conflicting_settings: { exitCode: EXIT_CONFIGURATION, severity: "failure", bare: true },
  // Another run holds the lease: nothing was read or written; the next tick does what is due.
  run_in_progress: { exitCode: EXIT_RUN_IN_PROGRESS, severity: "warning", bare: true },
  // Another run took the lease over: this one wrote nothing more (a frozen or starved host).
  lease_lost: { exitCode: EXIT_RUN_IN_PROGRESS, severity: "failure", bare: true },
  // export --groups / --memberships where no group data is stored: the message says which setting and run keep it.
  group_data_not_found: { exitCode: EXIT_CONFIGURATION, severity: "failure", bare: true },
  // A tenant id or the tenant mode is wrong on the command line: nothing was sent anywhere.
  invalid_tenant_id: { exitCode: EXIT_CONFIGURATION, severity: "failure", bare: true },
  tenant_mode_mismatch: { exitCode: EXIT_CONFIGURATION, severity: "failure", bare: true },
  tenant_not_registered: { exitCode: EXIT_CONFIGURATION, severity: "failure", bare: true },
  tenant_already_registered: { exitCode: EXIT_CONFIGURATION, severity: "failure", bare: true },
  // A run of the tenant holds its lease: its data was not deleted (exit 3, as for run_in_progress).
  tenant_busy: { exitCode: EXIT_RUN_IN_PROGRESS, severity: "failure", bare: true },
  // The tenant was removed while its run was starting: the run wrote nothing (as for a tenant not registered).
  tenant_removed: { exitCode: EXIT_CONFIGURATION, severity: "failure", bare: true },
};

const FAILURE: ErrorOutcome = { exitCode: EXIT_FAILURE, severity: "failure", bare: false };

export function errorOutcome(error: unknown): ErrorOutcome {
  return (isUserSyncError(error) ? OUTCOMES[error.code] : undefined) ?? FAILURE;
}

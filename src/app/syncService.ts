/**
 * Single-tenant mode's sync service, composed here (the top floor): the timer's process-wide one,
 * and one for a command or a test from an environment.
 */
import { currentRunLogger, type Logger } from "../shared/logger.js";
import { UserSyncService } from "../sync/userSyncService.js";
import { composeApp } from "./compose.js";

/**
 * Validates every setting (throwing before any network request), builds the clients (composeApp)
 * and the service over them. Multi-tenant mode throws `tenant_mode_mismatch` (use TenantServices).
 */
export function createUserSyncService(env: Record<string, string | undefined> = process.env, logger: Logger = currentRunLogger): UserSyncService {
  return new UserSyncService(composeApp(env, logger));
}

let processService: UserSyncService | undefined;

/** The process-wide service, created on first use (so that bad settings fail the first invocation, clearly). */
export function getUserSyncService(): UserSyncService {
  processService ??= createUserSyncService();
  return processService;
}

/**
 * Single-tenant mode's sync service, composed here (the top floor): the timer's process-wide one,
 * and one for a command or a test from an environment.
 */
import { currentRunLogger, type Logger } from "../shared/logger.js";
import type { AppClients } from "../sync/syncClients.js";
import { UserSyncService } from "../sync/userSyncService.js";
import { composeApp } from "./compose.js";

/**
 * A sync service and the clients it was built over. The service keeps its clients to itself: what
 * else reads the tenant's stores or credentials (telemetry, the tenant's health, the command line,
 * tests and tools) takes them from here.
 */
export interface ComposedSync {
  service: UserSyncService;
  clients: AppClients;
}

/**
 * Validates every setting (throwing before any network request), builds the clients (composeApp)
 * and the service over them. Multi-tenant mode throws `tenant_mode_mismatch` (use TenantServices).
 */
export function composeUserSync(env: Record<string, string | undefined> = process.env, logger: Logger = currentRunLogger): ComposedSync {
  const clients = composeApp(env, logger);
  return { service: new UserSyncService(clients), clients };
}

/** composeUserSync's service, for a caller that needs nothing else. */
export function createUserSyncService(env: Record<string, string | undefined> = process.env, logger: Logger = currentRunLogger): UserSyncService {
  return composeUserSync(env, logger).service;
}

let processSync: ComposedSync | undefined;

/** The process-wide service and its clients, created on first use (so that bad settings fail the first invocation, clearly). */
export function getUserSync(): ComposedSync {
  processSync ??= composeUserSync();
  return processSync;
}

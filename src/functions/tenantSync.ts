// First: telemetry is set up before anything else of this file runs (package.json `main` lists it
// first too); the bootstrap's own first import checks the Node version.
import "../telemetry/bootstrap.js";
import { app } from "@azure/functions";
import { TENANT_QUEUE_NAME } from "../fanout/tenantQueue.js";
import { tenantSyncQueueHandler } from "../app/functionHandlers.js";

/**
 * The queue trigger of multi-tenant mode: wiring only. One message is one tenant's due work
 * (docs/tenants.md). The connection is the USER_SYNC_QUEUE app setting (or its identity-based
 * USER_SYNC_QUEUE__queueServiceUri). Registered only when USER_SYNC_TENANT_MODE=multi, so that a
 * single-tenant deployment needs no queue.
 */
if (process.env.USER_SYNC_TENANT_MODE?.trim() === "multi") {
  app.storageQueue("tenantSync", {
    queueName: TENANT_QUEUE_NAME,
    connection: "USER_SYNC_QUEUE",
    handler: tenantSyncQueueHandler,
  });
}

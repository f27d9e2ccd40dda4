import { DefaultAzureCredential, type TokenCredential } from "@azure/identity";
import { loadSettings, type Settings } from "../configuration/settings.js";
import type { ClientCertificateProvider } from "../credentials/clientCertificateProvider.js";
import { adminConsentUrl } from "../credentials/consent.js";
import { createGraphCredential, type GraphCredential } from "../credentials/graphCredential.js";
import type { GraphTokenClient } from "../credentials/graphTokenClient.js";
import { GraphUsersClient } from "../graph/graphUsersClient.js";
import { redactingLogger, type Logger } from "../shared/logger.js";
import { SnapshotStoreClient, type SyncRunRecord } from "../snapshots/snapshotStoreClient.js";
import { runUserSync, type RunControl, type RunUserSyncOptions, type UserSyncResult } from "./userSyncRun.js";

export interface RunSyncOptions extends RunUserSyncOptions {
  runControl?: RunControl;
}

/**
 * Everything one process needs to run syncs, built once: the credential, the certificate cache,
 * MSAL's confidential client (and its token cache), the Graph pipeline and the table clients.
 * The Functions host and the command line share it, so both take one code path.
 */
export class UserSyncService {
  readonly settings: Settings;
  readonly credential: TokenCredential;
  /** The providers of the GRAPH_CREDENTIAL mode (docs/credentials.md). */
  readonly graphCredential: GraphCredential;
  /** keyVaultCertificate mode only. */
  readonly certificates: ClientCertificateProvider | undefined;
  readonly tokens: GraphTokenClient;
  readonly users: GraphUsersClient;
  readonly store: SnapshotStoreClient;
  readonly #logger: DelegatingLogger;
  #tablesReady: Promise<void> | undefined;

  /** Validates the settings (throwing before any network request) and builds the clients. */
  constructor(env: Record<string, string | undefined> = process.env) {
    this.settings = loadSettings(env);
    this.#logger = new DelegatingLogger();
    const settings = this.settings;
    this.credential = new DefaultAzureCredential();
    // One credential per GRAPH_CREDENTIAL mode; the modes are exclusive (checked by loadSettings).
    this.graphCredential = createGraphCredential({ settings, credential: this.credential, logger: this.#logger });
    this.certificates = this.graphCredential.certificates;
    this.tokens = this.graphCredential.tokens;
    this.users = new GraphUsersClient({
      graphEndpoint: settings.graphEndpoint,
      tokenProvider: this.tokens,
      select: settings.select,
      retryOptions: { maxRetries: settings.graphRequests.maxRetries, maxRetryWaitInMs: settings.graphRequests.maxRetryWaitInMs },
      requestTimeoutInMs: settings.graphRequests.requestTimeoutInMs,
      adminConsentUrl: adminConsentUrl(settings.authorityHost, settings.tenantId, settings.clientId),
    });
    this.store = new SnapshotStoreClient({ storage: settings.storage, credential: this.credential });
  }

  /**
   * Runs one sync (or continues a stopped one). Log lines go to `logger` for the duration of the run.
   * Throws `run_in_progress` when another run holds the writer lease. `runControl` overrides the
   * settings' maximum run duration, resume window and lease duration (tests, the command line).
   */
  async runSync(logger: Logger, options: RunSyncOptions): Promise<UserSyncResult<SyncRunRecord>> {
    const safeLogger = redactingLogger(logger);
    this.#logger.target = safeLogger;
    try {
      await this.#ensureTables(options.abortSignal);
      const { runControl, ...runOptions } = options;
      return await runUserSync(
        {
          source: this.users,
          sink: this.store,
          select: this.settings.select,
          logger: safeLogger,
          runControl: { ...this.settings.runControl, ...runControl },
          retention: this.settings.retention,
        },
        runOptions,
      );
    } finally {
      this.#logger.target = undefined;
    }
  }

  #ensureTables(abortSignal: AbortSignal | undefined): Promise<void> {
    let ready = this.#tablesReady;
    if (ready === undefined) {
      ready = this.store.createTablesIfNotExist(abortSignal ? { abortSignal } : {});
      this.#tablesReady = ready;
      // A failed attempt is not cached: the next run tries again.
      const attempt = ready;
      attempt.catch(() => {
        if (this.#tablesReady === attempt) this.#tablesReady = undefined;
      });
    }
    return ready;
  }
}

let processService: UserSyncService | undefined;

/** The process-wide service, created on first use (so that bad settings fail the first invocation, clearly). */
export function getUserSyncService(): UserSyncService {
  processService ??= new UserSyncService();
  return processService;
}

/** Long-lived clients log through this; each run points it at its own logger. */
class DelegatingLogger implements Logger {
  target: Logger | undefined;
  info(message: string): void {
    (this.target ?? consoleLogger).info(message);
  }
  warn(message: string): void {
    (this.target ?? consoleLogger).warn(message);
  }
  error(message: string): void {
    (this.target ?? consoleLogger).error(message);
  }
}

const consoleLogger: Logger = {
  info: (m) => console.info(m),
  warn: (m) => console.warn(m),
  error: (m) => console.error(m),
};

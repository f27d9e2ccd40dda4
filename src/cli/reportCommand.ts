/**
 * `entra-user-sync report`: one self-contained HTML page of the run history in storage (the
 * snapshot runs and the mirror's rounds), with the charts of the Application Insights workbook.
 * It reads storage only; when the Graph credential settings name a Key Vault certificate, it also
 * reads the certificate's expiry (bounded; left out when that fails).
 */
import { resolve } from "node:path";
import { describeError } from "../shared/errors.js";
import { renderReport } from "../report/htmlReport.js";
import { readRunHistory } from "../report/runHistory.js";
import { loadSettings, type GraphCredentialSettings } from "../configuration/settings.js";
import { ClientCertificateProvider } from "../credentials/clientCertificateProvider.js";
import type { Logger } from "../shared/logger.js";
import { redact } from "../shared/redact.js";
import { mirrorFromEnvironment, storeFromEnvironment } from "./clients.js";
import { write, writeError } from "./output.js";
import { writeOutputFile } from "./outputFile.js";
import { createAzureCredential } from "../app/compose.js";

export interface ReportOptions {
  /** A file path, or "-" for standard output. */
  out: string;
  days: number;
  /** The tenant selectTenant checked (`--tenant`); undefined in single-tenant mode. */
  tenant?: string | undefined;
}

const CERTIFICATE_TIMEOUT_IN_MS = 15_000;

async function certificateNotAfter(): Promise<Date | undefined> {
  let credential: GraphCredentialSettings;
  try {
    credential = loadSettings(process.env).credential;
  } catch {
    return undefined; // storage settings only: the report draws without the certificate tile
  }
  if (credential.mode !== "keyVaultCertificate") return undefined;
  // Its own quiet logger: the page may go to standard output.
  const logger: Logger = { info: () => undefined, warn: (m) => writeError(`warning: ${redact(m)}\n`), error: (m) => writeError(`${redact(m)}\n`) };
  const certificates = new ClientCertificateProvider({ vaultUrl: credential.keyVaultUrl, certificateName: credential.certificateName, credential: createAzureCredential(), logger });
  try {
    const certificate = await certificates.getClientCertificate({ abortSignal: AbortSignal.timeout(CERTIFICATE_TIMEOUT_IN_MS) });
    return certificate.notAfter;
  } catch (error) {
    writeError(`warning: could not read the client certificate's expiry; the report leaves it out: ${describeError(error)}\n`);
    return undefined;
  }
}

export async function reportCommand(options: ReportOptions): Promise<void> {
  const store = storeFromEnvironment(options.tenant);
  const mirror = mirrorFromEnvironment(options.tenant);
  const history = await readRunHistory(
    {
      listSnapshotRuns: () => store.listRuns(),
      listMirrorRuns: () => mirror.listRuns(),
      latestSnapshot: () => store.getLatestSnapshot(),
      mirrorSavedAt: async () => {
        const state = await mirror.getDeltaState();
        return state?.state.deltaLink ? state.state.savedAt : undefined;
      },
      certificateNotAfter,
    },
    { days: options.days },
  );
  const html = renderReport(history);
  if (options.out === "-") {
    await write(html);
    return;
  }
  const path = resolve(options.out);
  await writeOutputFile(path, html);
  writeError(`Wrote the report of ${history.runs.length} runs over ${options.days} days to ${path}\n`);
}

/**
 * Why the analytics lane could not write, in one place (messages keyed by what happened, one
 * factory): every one is `lane_write_failed`, names the setting or the grant to fix, and never
 * shows a connection string or a SAS.
 */
import { isRestError } from "@azure/core-rest-pipeline";
import type { ExportLaneSettings } from "../configuration/exportSettings.js";
import { isAbortError } from "../shared/abort.js";
import { UserSyncError } from "../shared/errors.js";
import { redact } from "../shared/redact.js";

export type LaneProblem =
  | { kind: "storage"; operation: string; error: unknown }
  | { kind: "manifestDiffers"; prefix: string };

/** The lane's setting, for messages. */
function settingOf(lane: ExportLaneSettings): string {
  return lane.kind === "identity" ? "USER_SYNC_EXPORT_STORAGE__blobServiceUri" : "USER_SYNC_EXPORT_STORAGE";
}

/** The blob endpoint without any query (a SAS never appears). */
export function describeLaneEndpoint(lane: ExportLaneSettings): string {
  const raw = lane.kind === "identity" ? lane.blobServiceUri : lane.blobEndpoint;
  try {
    const url = new URL(raw);
    return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, "")}`;
  } catch {
    return "(unparseable endpoint)";
  }
}

function storageFix(lane: ExportLaneSettings, status: number | undefined, code: string | undefined): string {
  const where = `container ${lane.container} at ${describeLaneEndpoint(lane)}`;
  if (code === "ContainerNotFound") return `The ${where} does not exist: deploy infra/ (it creates the container), create it, or set USER_SYNC_EXPORT_CONTAINER to an existing one.`;
  if (status === 403 || code === "AuthorizationPermissionMismatch" || code === "AuthorizationFailure") {
    return lane.kind === "identity"
      ? `The function's identity may not write to the ${where}: grant it Storage Blob Data Contributor on that container (infra/ does).`
      : `The key or SAS of USER_SYNC_EXPORT_STORAGE may not write to the ${where}: check the connection string.`;
  }
  if (status === undefined) return `The lane's storage did not answer: check ${settingOf(lane)} and the network.`;
  return `Check ${settingOf(lane)} and USER_SYNC_EXPORT_CONTAINER.`;
}

function message(lane: ExportLaneSettings, problem: LaneProblem): string {
  switch (problem.kind) {
    case "storage": {
      const rest = isRestError(problem.error) ? problem.error : undefined;
      const status = rest?.statusCode;
      const code = rest?.code ?? rest?.response?.headers.get("x-ms-error-code") ?? undefined;
      const what = status === undefined ? (code ?? (problem.error as { name?: string } | null)?.name ?? "error") : `${status}${code ? ` ${code}` : ""}`;
      const said = rest ? "" : problem.error instanceof Error ? ` (${redact(problem.error.message).slice(0, 200)})` : "";
      return `The analytics lane failed while ${problem.operation} (${what}). ${storageFix(lane, status, code)}${said}`;
    }
    case "manifestDiffers":
      return `The analytics lane found another manifest at ${problem.prefix}_manifest.json than the one it would write: something else writes there. Leave the lane's container to the lane (USER_SYNC_EXPORT_CONTAINER), or delete that set so that the next run writes it again.`;
  }
}

/** A lane failure as `lane_write_failed`; abort errors and the product's own errors (lease_lost) pass through. */
export function createLaneError(lane: ExportLaneSettings, problem: LaneProblem): unknown {
  if (problem.kind === "storage" && (isAbortError(problem.error) || problem.error instanceof UserSyncError)) return problem.error;
  const cause = problem.kind === "storage" ? { cause: problem.error } : {};
  return new UserSyncError("lane_write_failed", message(lane, problem), { ...cause, details: { container: lane.container, endpoint: describeLaneEndpoint(lane) } });
}

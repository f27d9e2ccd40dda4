/**
 * Why the analytics lane could not write, in one place (the shape of graphErrors.ts: a table of
 * code, message and details keyed by what went wrong, and one factory, `createLaneError`): every
 * one is `lane_write_failed`, names the setting or the grant to fix, and never shows a connection
 * string or a SAS.
 */
import { isRestError } from "@azure/core-rest-pipeline";
import type { ExportLaneSettings } from "../configuration/exportSettings.js";
import { isAbortError } from "../shared/abort.js";
import { UserSyncError, type UserSyncErrorCode } from "../shared/errors.js";
import { redact } from "../shared/redact.js";

type Details = UserSyncError["details"];

/** The facts each problem's message names; `lane` is the lane's settings (never shown but its endpoint, without a query). */
export interface LaneProblemFacts {
  /** A request to the lane's storage failed while `operation` (e.g. `writing the parts of …`). */
  storage: { lane: ExportLaneSettings; operation: string; error: unknown };
  /** The set's manifest exists and is not the one the lane would write. */
  manifestDiffers: { lane: ExportLaneSettings; prefix: string };
}

export type LaneProblem = keyof LaneProblemFacts;

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

/** The container and the endpoint the lane writes to. */
const where = (lane: ExportLaneSettings): Details => ({ container: lane.container, endpoint: describeLaneEndpoint(lane) });

/** Each problem's code, message and details. */
export const LaneProblems: { [P in LaneProblem]: { code: UserSyncErrorCode; message: (facts: LaneProblemFacts[P]) => string; details?: (facts: LaneProblemFacts[P]) => Details } } = {
  storage: {
    code: "lane_write_failed",
    message: (f) => {
      const rest = isRestError(f.error) ? f.error : undefined;
      const status = rest?.statusCode;
      const code = rest?.code ?? rest?.response?.headers.get("x-ms-error-code") ?? undefined;
      const what = status === undefined ? (code ?? (f.error as { name?: string } | null)?.name ?? "error") : `${status}${code ? ` ${code}` : ""}`;
      const said = rest ? "" : f.error instanceof Error ? ` (${redact(f.error.message).slice(0, 200)})` : "";
      return `The analytics lane failed while ${f.operation} (${what}). ${storageFix(f.lane, status, code)}${said}`;
    },
    details: (f) => where(f.lane),
  },
  manifestDiffers: {
    code: "lane_write_failed",
    message: (f) =>
      `The analytics lane found another manifest at ${f.prefix}_manifest.json than the one it would write: something else writes there. Leave the lane's container to the lane (USER_SYNC_EXPORT_CONTAINER), or delete that set so that the next run writes it again.`,
    details: (f) => where(f.lane),
  },
};

/** A lane failure as `lane_write_failed` (a storage failure is its cause); abort errors and the product's own errors (lease_lost) pass through. */
export function createLaneError<P extends LaneProblem>(problem: P, facts: LaneProblemFacts[P]): unknown {
  const error = "error" in facts ? facts.error : undefined;
  if (problem === "storage" && (isAbortError(error) || error instanceof UserSyncError)) return error;
  const entry = LaneProblems[problem] as { code: UserSyncErrorCode; message: (facts: LaneProblemFacts[P]) => string; details?: (facts: LaneProblemFacts[P]) => Details };
  return new UserSyncError(entry.code, entry.message(facts), { details: entry.details?.(facts) ?? {}, ...(problem === "storage" ? { cause: error } : {}) });
}

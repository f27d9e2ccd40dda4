/**
 * The errors of Microsoft Graph's readers, in one place (as msal-node does, and as the credentials'
 * catalogues): what went wrong (`GraphProblem`), the facts each message names, its code and its fix,
 * and one factory (`createGraphError`). Messages carry hosts, status lines and page numbers, never a
 * token or a full link (its skip token).
 */
import { UserSyncError, type UserSyncErrorCode } from "../shared/errors.js";

type Details = UserSyncError["details"];

/** What a reader of a page said was wrong with it, in the words of the message. */
interface PageFacts {
  pageNumber: number;
  /** e.g. `is not JSON`, `holds an entry without an id (item 3)`. */
  what: string;
}

/** The facts each problem's message names. */
export interface GraphProblemFacts {
  /** A next or delta link that is not a URL. */
  linkNotAUrl: { what: string };
  /** A next or delta link to another origin than the configured Graph endpoint. */
  linkElsewhere: { what: string; protocol: string; host: string; graphOrigin: string };
  /** A request to another origin reached the token policy (a guard behind assertGraphLink). */
  tokenElsewhere: { host: string };
  /** No answer: a connection failure or the request timeout, on every retry. */
  unreachable: { graphOrigin: string; timedOut: boolean; timeout: string; reason: string; gaveUp: string };
  /** 403: the app lacks User.Read.All (or its consent). */
  forbidden: { action: string; said: string; adminConsentUrl: string | undefined };
  /** 403 with a selected property that needs another permission (signInActivity: AuditLog.Read.All). */
  forbiddenForSelection: { said: string; names: string; permissions: string; adminConsentUrl: string | undefined };
  /** 401 even after a fresh token. */
  unauthorized: { said: string };
  /** 400. */
  rejected: { action: string; said: string };
  /** 429 after every retry. */
  throttled: { said: string; gaveUp: string };
  /** 429 with a property Graph limits on its own (sign-in activity): the throttled message, and why. */
  throttledSelection: { said: string; gaveUp: string; names: string };
  /** 501: a selected property Graph returns only for a single user. */
  notListable: { said: string };
  /** Any other status, after the retries. */
  failed: { said: string; gaveUp: string; retryable: boolean };
  /** A saved delta token Graph no longer accepts. */
  deltaTokenInvalid: { why: string; said: string };
  /** A `/users` page that is not what Graph sends: the snapshot it belongs to is not promoted. */
  badUsersPage: PageFacts;
  /** A `/users` page whose next link is not a string. */
  badUsersNextLink: { pageNumber: number };
  /** A `/users/delta` page that is not what Graph sends. */
  badDeltaPage: PageFacts;
  /** A next link pointing back at a page already read (a paging loop). */
  repeatedLink: { link: string; where: string; consequence: string };
}

export type GraphProblem = keyof GraphProblemFacts;

/** Each problem's code, message and details. */
export const GraphProblems: { [P in GraphProblem]: { code: UserSyncErrorCode; message: (facts: GraphProblemFacts[P]) => string; details?: (facts: GraphProblemFacts[P]) => Details } } = {
  linkNotAUrl: {
    code: "graph_untrusted_next_link",
    message: (f) => `The ${f.what} Graph returned is not a URL; the run stopped without following it.`,
  },
  linkElsewhere: {
    code: "graph_untrusted_next_link",
    message: (f) =>
      `The ${f.what} points to ${f.protocol}//${f.host}, which is not the configured Graph endpoint ${f.graphOrigin}; the run stopped without sending anything there. If Graph really lives elsewhere for this tenant, set GRAPH_ENDPOINT (or GRAPH_CLOUD).`,
    details: (f) => ({ host: f.host }),
  },
  tokenElsewhere: {
    code: "graph_untrusted_next_link",
    message: (f) => `Refusing to send the Graph token to ${f.host}.`,
  },
  unreachable: {
    code: "graph_request_failed",
    message: (f) => {
      const what = f.timedOut
        ? `Microsoft Graph at ${f.graphOrigin} gave no complete answer within ${f.timeout} (GRAPH_REQUEST_TIMEOUT_SECONDS)`
        : `Could not reach Microsoft Graph at ${f.graphOrigin} (${f.reason})`;
      return `${what}, ${f.gaveUp}. Check the network path to Graph and GRAPH_ENDPOINT / GRAPH_CLOUD${f.timedOut ? ", or raise GRAPH_REQUEST_TIMEOUT_SECONDS" : ""}.`;
    },
  },
  forbidden: {
    code: "graph_forbidden",
    message: (f) =>
      `Microsoft Graph refused to ${f.action} (${f.said}). The app registration needs the Microsoft Graph application permission User.Read.All with admin consent.${f.adminConsentUrl ? ` An administrator can grant it at ${f.adminConsentUrl}` : ""}`,
  },
  forbiddenForSelection: {
    code: "graph_forbidden",
    message: (f) =>
      `Microsoft Graph refused to list users (${f.said}). With ${f.names} in USER_SYNC_SELECT the app registration needs the Microsoft Graph application permissions ${f.permissions} with admin consent (signInActivity also needs a Microsoft Entra ID P1 or P2 licence); or remove ${f.names} from USER_SYNC_SELECT.${f.adminConsentUrl ? ` An administrator can grant them at ${f.adminConsentUrl}` : ""}`,
  },
  unauthorized: {
    code: "graph_unauthorized",
    message: (f) => `Microsoft Graph rejected the access token (${f.said}). Check that GRAPH_CLOUD / GRAPH_ENDPOINT match the cloud of GRAPH_AUTHORITY_HOST.`,
  },
  rejected: {
    code: "graph_request_failed",
    message: (f) => `Microsoft Graph rejected the request to ${f.action} (${f.said}). If it names a property, fix USER_SYNC_SELECT.`,
  },
  throttled: {
    code: "graph_throttled",
    message: (f) =>
      `Microsoft Graph kept throttling the sync (${f.said}) ${f.gaveUp}. Other apps may share this tenant's limits; run the sync less often or at a quieter time, or raise GRAPH_MAX_RETRIES / GRAPH_MAX_RETRY_WAIT_SECONDS.`,
  },
  throttledSelection: {
    code: "graph_throttled",
    message: (f) =>
      `${GraphProblems.throttled.message(f)} Reading ${f.names} counts against a separate, much lower Graph limit for sign-in activity (shared by every tenant the app reads): take snapshots less often, or remove ${f.names} from USER_SYNC_SELECT.`,
  },
  notListable: {
    code: "graph_request_failed",
    message: (f) =>
      `Microsoft Graph cannot list users with one of the properties in USER_SYNC_SELECT (${f.said}): some properties are returned only for a single user. Remove it from USER_SYNC_SELECT (docs/mirror.md lists the properties the sync can read).`,
  },
  failed: {
    code: "graph_request_failed",
    message: (f) => `Microsoft Graph answered ${f.said} ${f.gaveUp}.${f.retryable ? " Graph is having trouble; the next scheduled run will try again." : ""}`,
  },
  deltaTokenInvalid: {
    code: "graph_delta_token_invalid",
    message: (f) => `Microsoft Graph ${f.why} (${f.said}). A full round is needed.`,
  },
  badUsersPage: {
    code: "graph_bad_response",
    message: (f) => `Graph page ${f.pageNumber} ${f.what}; the run stopped and no snapshot from it will be promoted.`,
    details: (f) => ({ pageNumber: f.pageNumber }),
  },
  badUsersNextLink: {
    code: "graph_bad_response",
    message: (f) => `Graph page ${f.pageNumber} has an @odata.nextLink that is not a string.`,
    details: (f) => ({ pageNumber: f.pageNumber }),
  },
  badDeltaPage: {
    code: "graph_bad_response",
    message: (f) => `Graph delta page ${f.pageNumber} ${f.what}; the run stopped and its delta link was not saved.`,
    details: (f) => ({ pageNumber: f.pageNumber }),
  },
  repeatedLink: {
    code: "graph_bad_response",
    message: (f) => `${f.link} points back at ${f.where}${f.consequence}`,
  },
};

/** `options.details` adds to (and overrides) the problem's own details; `options.cause` is kept. */
export function createGraphError<P extends GraphProblem>(problem: P, facts: GraphProblemFacts[P], options: { cause?: unknown; details?: Details } = {}): UserSyncError {
  const entry = GraphProblems[problem] as { code: UserSyncErrorCode; message: (facts: GraphProblemFacts[P]) => string; details?: (facts: GraphProblemFacts[P]) => Details };
  const details = { ...entry.details?.(facts), ...options.details };
  return new UserSyncError(entry.code, entry.message(facts), { details, ...(options.cause === undefined ? {} : { cause: options.cause }) });
}

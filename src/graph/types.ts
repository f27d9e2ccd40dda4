import type { ManagerChange } from "./managerLinks.js";
/**
 * A user as Microsoft Graph returned it for the selected properties: `id` (the immutable object id)
 * is always present; every other value is whatever JSON Graph sent (string, number, boolean, null,
 * array or object).
 */
export type GraphUser = { id: string } & Record<string, unknown>;

/** One page of `/users`, as read from Graph. */
export interface UserPage {
  /** 1-based page number within the run. */
  pageNumber: number;
  users: GraphUser[];
  /** The `@odata.nextLink` that follows this page, when there is one. */
  nextLink?: string;
  /** `linkDigest` of the link that fetched this page: a checkpoint saves those of committed pages (see ListUserPagesOptions.seenLinks). */
  linkDigest?: string;
  /** With `$expand=manager` only (USER_SYNC_GROUPS): each user's manager, null for none (src/graph/managerLinks.ts). */
  managers?: ManagerChange[];
}

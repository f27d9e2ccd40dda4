/**
 * Detects a paging loop: a Graph `@odata.nextLink` that points back at a page already read in the
 * same pass (a page pointing at itself, at its predecessor, or at any page before). Each link is
 * remembered as a short digest, so one pass costs a few dozen bytes per page (about 1,000 pages for
 * 1,000,000 users on `/users`, about 5,000 on `/users/delta`), and the digests of the pages a run
 * committed can be saved in its checkpoint so that a resumed pass also sees a link read before the
 * pause.
 */
import { createHash } from "node:crypto";
import { createGraphError } from "./graphErrors.js";

/** Characters of a digest: 16 base64url characters, 96 bits of SHA-256 (no collision in any real pass). */
export const LINK_DIGEST_LENGTH = 16;

/**
 * The digest under which a paging link is remembered: the first 96 bits of the SHA-256 of the link
 * (as the URL parser spells it), base64url. Not secret and not reversible, so it can be saved in a
 * checkpoint; the same link always gives the same digest.
 */
export function linkDigest(link: string): string {
  let spelled = link;
  try {
    spelled = new URL(link).href;
  } catch {
    // Not a URL: the reader rejects it before any request; digest it as written.
  }
  return createHash("sha256").update(spelled).digest("base64url").slice(0, LINK_DIGEST_LENGTH);
}

/** What the reader says when it stops: the endpoint's name, and what happens to the pass. */
export interface PagingLoopWording {
  /** "Graph page" or "Graph delta page". */
  page: string;
  /** "; the run stopped instead of looping, and no snapshot from it will be promoted." */
  consequence: string;
}

/**
 * The links one pass has requested. `visit(link, pageNumber)` is called before each request: it
 * throws UserSyncError `graph_bad_response` (details.reason `repeated_link`) when the link was
 * requested before in this pass, or is among the digests the pass started with (a resumed pass).
 */
export class PagingLinkGuard {
  /** digest → the page number it fetched in this pass (0: before this pass, from a checkpoint). */
  readonly #seen = new Map<string, number>();
  readonly #wording: PagingLoopWording;

  constructor(wording: PagingLoopWording, earlier: Iterable<string> = []) {
    this.#wording = wording;
    for (const digest of earlier) this.#seen.set(digest, 0);
  }

  /** Records `link` as fetching page `pageNumber` and returns its digest; throws if it was read before. */
  visit(link: string, pageNumber: number): string {
    const digest = linkDigest(link);
    const earlier = this.#seen.get(digest);
    if (earlier !== undefined) {
      const from = pageNumber - 1;
      const where =
        earlier === 0
          ? "a page already read before this run paused (the link is in its checkpoint)"
          : earlier === from
            ? `itself (page ${earlier})`
            : `page ${earlier}, already read in this pass (a cycle of ${from - earlier + 1} pages)`;
      const link = from === 0 ? "The saved link to continue from" : `${this.#wording.page} ${from}'s @odata.nextLink`;
      throw createGraphError("repeatedLink", { link, where, consequence: this.#wording.consequence }, {
        details: {
          reason: "repeated_link",
          pageNumber: from,
          ...(earlier > 0 ? { repeatedPage: earlier, cycleLength: from - earlier + 1 } : { repeatedBeforeResume: true }),
        },
      });
    }
    this.#seen.set(digest, pageNumber);
    return digest;
  }
}

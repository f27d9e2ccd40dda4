import { describe, expect, it } from "vitest";
import { LINK_DIGEST_LENGTH, linkDigest, PagingLinkGuard } from "../../src/graph/pagingLinks.js";

const wording = { page: "Graph page", consequence: "; stopped." };

describe("linkDigest", () => {
  it("is short, stable, and differs between links", () => {
    const a = linkDigest("https://graph.microsoft.com/v1.0/users?$skiptoken=A");
    expect(a).toMatch(new RegExp(`^[A-Za-z0-9_-]{${LINK_DIGEST_LENGTH}}$`));
    expect(linkDigest("https://graph.microsoft.com/v1.0/users?$skiptoken=A")).toBe(a);
    expect(linkDigest("https://graph.microsoft.com/v1.0/users?$skiptoken=B")).not.toBe(a);
    expect(a).not.toContain("skiptoken");
  });

  it("treats two spellings of one URL as one link", () => {
    expect(linkDigest("HTTPS://Graph.Microsoft.com:443/v1.0/users?$skiptoken=A")).toBe(linkDigest("https://graph.microsoft.com/v1.0/users?$skiptoken=A"));
  });

  it("gives 10,000 distinct links 10,000 distinct digests", () => {
    const digests = new Set<string>();
    for (let i = 0; i < 10_000; i++) digests.add(linkDigest(`https://graph.microsoft.com/v1.0/users?$skiptoken=${i}`));
    expect(digests.size).toBe(10_000);
  });
});

describe("PagingLinkGuard", () => {
  it("lets distinct links through and returns their digests", () => {
    const guard = new PagingLinkGuard(wording);
    expect(guard.visit("https://g/1", 1)).toBe(linkDigest("https://g/1"));
    expect(guard.visit("https://g/2", 2)).toBe(linkDigest("https://g/2"));
  });

  it("stops at any earlier link, however far back", () => {
    const guard = new PagingLinkGuard(wording);
    for (let page = 1; page <= 1_000; page++) guard.visit(`https://g/${page}`, page);
    expect(() => guard.visit("https://g/1", 1_001)).toThrow(
      expect.objectContaining({ code: "graph_bad_response", message: "Graph page 1000's @odata.nextLink points back at page 1, already read in this pass (a cycle of 1000 pages); stopped." }),
    );
  });

  it("does not change the digests it starts from", () => {
    const earlier = new Set([linkDigest("https://g/1")]);
    const guard = new PagingLinkGuard(wording, earlier);
    guard.visit("https://g/2", 1);
    expect([...earlier]).toEqual([linkDigest("https://g/1")]);
    expect(() => guard.visit("https://g/1", 2)).toThrow(expect.objectContaining({ details: { reason: "repeated_link", pageNumber: 1, repeatedBeforeResume: true } }));
  });
});

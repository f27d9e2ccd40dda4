import { describe, expect, it } from "vitest";
import { isPlainHttpsUrl } from "../../src/configuration/serviceUri.js";

describe("an identity-based service URI", () => {
  it("is a plain https URL: not http, not a SAS (a query), not text that is no URL", () => {
    expect(isPlainHttpsUrl("https://account.queue.core.windows.net")).toBe(true);
    expect(isPlainHttpsUrl("https://account.blob.core.windows.net/")).toBe(true);
    expect(isPlainHttpsUrl("http://account.queue.core.windows.net")).toBe(false);
    expect(isPlainHttpsUrl("https://account.blob.core.windows.net/?sv=2024-01-01&sig=x")).toBe(false);
    expect(isPlainHttpsUrl("account.queue.core.windows.net")).toBe(false);
  });
});

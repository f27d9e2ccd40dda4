/**
 * MSAL's network module (IdentityNetworkClient) against the simulated tenant's real HTTPS listener:
 * it answers MSAL's contract (parsed JSON body, lower-case headers, any status), bounds each attempt
 * and retries twice (a held endpoint fails within identityCallBoundInMs, each timeout recorded in
 * the identity wait), and the wait's abort signal ends a held request at once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IdentityNetworkClient } from "../../src/credentials/identityNetworkClient.js";
import { identityCallBoundInMs, runIdentityWait } from "../../src/credentials/identityRequests.js";
import { isAbortError } from "../../src/shared/abort.js";
import type { SimulatedTenant } from "../../tools/simulated-tenant/index.js";
import { startTrustedSimulatedTenant } from "../support/simulatedTenant.js";

let tenant: SimulatedTenant;
const metadataUrl = () => `${tenant.authorityHost}/${tenant.tenantId}/v2.0/.well-known/openid-configuration`;

beforeAll(async () => {
  tenant = await startTrustedSimulatedTenant({ userCount: 1 });
});
afterAll(async () => tenant?.close());

describe("IdentityNetworkClient", () => {
  it("returns the parsed body, lower-case headers and the status, as MSAL expects", async () => {
    const response = await new IdentityNetworkClient(5_000).sendGetRequestAsync<{ token_endpoint: string }>(metadataUrl());
    expect(response.status).toBe(200);
    expect(response.body.token_endpoint).toContain(`/${tenant.tenantId}/oauth2/v2.0/token`);
    expect(Object.keys(response.headers).every((name) => name === name.toLowerCase())).toBe(true);
    const refused = await new IdentityNetworkClient(5_000).sendPostRequestAsync<{ error: string }>(`${tenant.authorityHost}/${tenant.tenantId}/oauth2/v2.0/token`, {
      body: "grant_type=client_credentials",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(refused.status).toBe(400);
    expect(typeof refused.body.error).toBe("string");
  });

  it("gives up on a held endpoint after three attempts, within the bound, recording each timeout", async () => {
    const hold = tenant.faults.hold("metadata");
    try {
      const started = Date.now();
      let timeouts = 0;
      const error = await runIdentityWait(undefined, async (wait) => {
        try {
          return await new IdentityNetworkClient(500).sendGetRequestAsync(metadataUrl());
        } finally {
          timeouts = wait.timeouts.length;
        }
      }).catch((e: unknown) => e);
      expect(Date.now() - started).toBeLessThan(identityCallBoundInMs(500) + 1_000);
      expect((error as Error).message).toContain(`${new URL(tenant.authorityHost).host} gave no complete answer within 0.5 s (IDENTITY_REQUEST_TIMEOUT_SECONDS)`);
      expect(hold.held).toBe(3);
      expect(timeouts).toBe(3);
    } finally {
      hold.release();
    }
  });

  it("retries an attempt that timed out, and forgets the timeout once the host answers", async () => {
    let first = true;
    const hold = tenant.faults.hold("metadata", () => {
      const take = first;
      first = false;
      return take;
    });
    try {
      const { status, timeouts } = await runIdentityWait(undefined, async (wait) => {
        const response = await new IdentityNetworkClient(500).sendGetRequestAsync(metadataUrl());
        return { status: response.status, timeouts: wait.timeouts.length };
      });
      expect(status).toBe(200);
      expect(hold.held).toBe(1);
      // A later failure of this wait (a refused token) is not blamed on a stalled endpoint.
      expect(timeouts).toBe(0);
    } finally {
      hold.release();
    }
  });

  it("ends a held request at once when the wait's abort signal fires", async () => {
    const hold = tenant.faults.hold("metadata");
    try {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 200);
      const started = Date.now();
      const error = await runIdentityWait(controller.signal, () => new IdentityNetworkClient(30_000).sendGetRequestAsync(metadataUrl())).catch((e: unknown) => e);
      expect(isAbortError(error), String(error)).toBe(true);
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(hold.held).toBe(1);
    } finally {
      hold.release();
    }
  });
});

/**
 * Admin consent lands somewhere: the Entra template registers a redirect URI on the application, and
 * `tenants consent-url` (the compiled command line) sends exactly that URI, so a customer's
 * administrator is taken to a page after consenting instead of Entra's "no reply address" error
 * (AADSTS500113) or a mismatch (AADSTS50011).
 */
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { CLOUDS } from "../../src/configuration/clouds.js";
import { arrayItems, parseBicepFile, property, resources, type BicepDocument } from "../support/bicepSyntax.js";
import { assertCliBuilt, runCli } from "../support/cli.js";

const ENTRA = join(import.meta.dirname, "..", "..", "infra", "entra", "main.bicep");
const TENANT = "a4a4a4a4-0000-4000-8000-000000000004";
const CLIENT = "66666666-7777-8888-9999-000000000000";

// ARM's environment() in the cloud the Entra template deploys to (AzureCloud: the Graph extension is
// public-cloud only); `portal` is the member the template uses (`az cloud show -n AzureCloud`: endpoints.portal).
const AZURE_CLOUD_ENVIRONMENT = { portal: "https://portal.azure.com" };

let entra: BicepDocument;
beforeAll(async () => {
  assertCliBuilt();
  entra = await parseBicepFile(ENTRA);
});

/** The template's redirect URIs, with `${environment().…}` evaluated as ARM does in the public cloud. */
function registeredRedirectUris(): string[] {
  const apps = resources(entra).filter((r) => r.type === "Microsoft.Graph/applications" && !r.existing);
  expect(apps).toHaveLength(1);
  const uris = arrayItems(property(apps[0]!.body, "web.redirectUris"));
  return uris.map((node) => {
    expect(node.type, `${node.text} is a string`).toBe("string");
    return node.text.slice(1, -1).replace(/\$\{environment\(\)\.(\w+)\}/g, (_all, member: string) => {
      const value = (AZURE_CLOUD_ENVIRONMENT as Record<string, string>)[member];
      if (value === undefined) throw new Error(`environment().${member} is not known to this test`);
      return value;
    });
  });
}

/** consent-url needs the app's client id and nothing else (GRAPH_CLOUD and GRAPH_AUTHORITY_HOST are optional); it makes no network call. */
function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, GRAPH_CLIENT_ID: CLIENT, ...extra };
}

describe("the admin-consent redirect URI", () => {
  it("is registered on the application from the cloud's portal, not a hard-coded host", () => {
    const app = resources(entra).find((r) => r.type === "Microsoft.Graph/applications")!;
    expect(arrayItems(property(app.body, "web.redirectUris")).map((n) => n.text)).toEqual(["'${environment().portal}/'"]);
    expect(registeredRedirectUris()).toEqual([CLOUDS.AzurePublic.consentRedirectUri]);
  });

  it("is what `tenants consent-url` sends, URL-encoded: exactly the registered one", async () => {
    const [registered] = registeredRedirectUris();
    const result = await runCli(["tenants", "consent-url", TENANT], env());
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const printed = result.stdout.trim();
    expect(printed).toBe(`https://login.microsoftonline.com/${TENANT}/adminconsent?client_id=${CLIENT}&redirect_uri=${encodeURIComponent(registered!)}`);
    const url = new URL(printed);
    expect(url.searchParams.get("redirect_uri")).toBe(registered);
    expect(url.searchParams.get("client_id")).toBe(CLIENT);
  });

  it("follows GRAPH_CLOUD for an app registered by hand in a national cloud (docs/deploy.md)", async () => {
    const result = await runCli(["tenants", "consent-url", "contoso.onmicrosoft.us"], env({ GRAPH_CLOUD: "AzureUSGovernment" }));
    expect(result.code).toBe(0);
    const url = new URL(result.stdout.trim());
    expect(url.origin).toBe("https://login.microsoftonline.us");
    expect(url.searchParams.get("redirect_uri")).toBe("https://portal.azure.us/");
  });

  it("is not printed when the settings it depends on are wrong: exit 2, naming the setting", async () => {
    const result = await runCli(["tenants", "consent-url", TENANT], env({ GRAPH_CLOUD: "AzureMoon" }));
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("GRAPH_CLOUD");
    const noClient = await runCli(["tenants", "consent-url", TENANT], { PATH: process.env.PATH });
    expect(noClient.code).toBe(2);
    expect(noClient.stderr).toContain("GRAPH_CLIENT_ID is missing");
  });
});

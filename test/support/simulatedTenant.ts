/**
 * Test helpers around the simulated tenant: start it with its CA trusted in-process, and build the
 * real MSAL client the product uses against it.
 */
import { createDefaultHttpClient, createHttpHeaders, createPipelineRequest } from "@azure/core-rest-pipeline";
import { ConfidentialClientApplication, type Configuration } from "@azure/msal-node";
import { startSimulatedTenant, trustSimulatedTenantCa, type SimulatedTenant, type SimulatedTenantOptions } from "../../tools/simulated-tenant/index.js";

export async function startTrustedSimulatedTenant(options: SimulatedTenantOptions): Promise<SimulatedTenant> {
  const tenant = await startSimulatedTenant(options);
  trustSimulatedTenantCa(tenant.caCertificatePem);
  return tenant;
}

export interface MsalClientOptions {
  /** Defaults to the app certificate registered on the tenant. */
  certificate?: { privateKeyPem: string; thumbprintSha256Hex?: string; thumbprintSha1Hex?: string; x5c?: string };
  clientId?: string;
  /** Tenant segment of the authority; defaults to the tenant id. */
  tenant?: string;
}

/** A ConfidentialClientApplication configured as the product configures it. */
export function msalClientFor(tenant: SimulatedTenant, options: MsalClientOptions = {}): ConfidentialClientApplication {
  const certificate = options.certificate ?? {
    privateKeyPem: tenant.appCertificate.privateKeyPem,
    thumbprintSha256Hex: tenant.appCertificate.thumbprintSha256Hex,
  };
  const clientCertificate: NonNullable<Configuration["auth"]["clientCertificate"]> = { privateKey: certificate.privateKeyPem };
  if (certificate.thumbprintSha256Hex !== undefined) clientCertificate.thumbprintSha256 = certificate.thumbprintSha256Hex;
  if (certificate.thumbprintSha1Hex !== undefined) clientCertificate.thumbprint = certificate.thumbprintSha1Hex;
  if (certificate.x5c !== undefined) clientCertificate.x5c = certificate.x5c;
  return new ConfidentialClientApplication({
    auth: {
      clientId: options.clientId ?? tenant.clientId,
      authority: `${tenant.authorityHost}/${options.tenant ?? tenant.tenantId}`,
      knownAuthorities: [new URL(tenant.authorityHost).host],
      clientCertificate,
    },
  });
}

/** An app-only Graph token from the simulated tenant, through MSAL. */
export async function graphTokenFor(tenant: SimulatedTenant): Promise<string> {
  const result = await msalClientFor(tenant).acquireTokenByClientCredential({ scopes: [`${tenant.graphResource}/.default`] });
  if (result === null) throw new Error("MSAL returned no token");
  return result.accessToken;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  /** Parsed JSON when the body is JSON, else the text. */
  body: any;
}

/** One HTTPS request through @azure/core-rest-pipeline's default client (no retries, no auth policy). */
export async function rawRequest(
  method: "GET" | "POST",
  url: string,
  options: { headers?: Record<string, string>; body?: string } = {},
): Promise<RawResponse> {
  const client = createDefaultHttpClient();
  const request = createPipelineRequest({ url, method, headers: createHttpHeaders(options.headers ?? {}), body: options.body });
  const response = await client.sendRequest(request);
  const text = response.bodyAsText ?? "";
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: response.status, headers: response.headers.toJSON(), body };
}

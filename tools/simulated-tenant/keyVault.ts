/**
 * The simulated Key Vault data plane: certificates and their backing secrets, behind Key Vault's
 * bearer challenge. Bodies follow the real service's JSON (ids with versions, `cer`, base64url
 * `x5t`, epoch-second attributes, policy with `key_props`/`secret_props`).
 */
import { createHash, randomUUID } from "node:crypto";
import { jsonResponse, type Route, type SimulatedRequest, type SimulatedResponse } from "./http.js";
import type { TenantState, VaultCertificate } from "./state.js";

const API_VERSION = /^(\d+\.\d+|\d{4}-\d{2}-\d{2})(-preview(\.\d+)?)?$/;

function headers(request: SimulatedRequest): Record<string, string> {
  return {
    "content-type": "application/json; charset=utf-8",
    "x-ms-request-id": request.requestId,
    "x-ms-keyvault-service-version": "1.9.0.0",
    "x-ms-keyvault-region": "simulated",
    "x-ms-keyvault-network-info": "conn_type=Ipv4;addr=127.0.0.1;act_addr_fam=InterNetwork;",
  };
}

export function keyVaultError(request: SimulatedRequest, status: number, code: string, message: string, innerCode?: string, extra: Record<string, string> = {}): SimulatedResponse {
  const error: Record<string, unknown> = { code, message };
  if (innerCode !== undefined) error.innererror = { code: innerCode };
  return jsonResponse(status, { error }, { ...headers(request), ...extra });
}

function challenge(state: TenantState): Record<string, string> {
  return { "www-authenticate": `Bearer authorization="${state.authorityHost}/${state.tenantId}", resource="${state.keyVaultResource}"` };
}

/** Checks the bearer token; returns the error response, or undefined when the caller may read. */
async function authorize(state: TenantState, request: SimulatedRequest, action: string): Promise<SimulatedResponse | undefined> {
  const authorization = request.headers.authorization ?? "";
  const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
  if (!match) return keyVaultError(request, 401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.", undefined, challenge(state));
  const audiences = [state.keyVaultResource, `${state.keyVaultResource}/`];
  const verification = await state.tokens.verify(match[1], audiences);
  if (!verification.ok) {
    const detail = verification.problem === "audience" ? `Invalid audience. Expected ${state.keyVaultResource}.` : verification.message;
    return keyVaultError(request, 401, "Unauthorized", `Token validation failed: ${detail}`, undefined, challenge(state));
  }
  const claims = verification.claims;
  if (claims.tid !== state.tenantId) {
    return keyVaultError(request, 401, "Unauthorized", `Token validation failed: the token was issued for tenant '${String(claims.tid)}', not this vault's tenant.`, undefined, challenge(state));
  }
  const isManagedIdentity = claims.oid === state.managedIdentity.objectId;
  if (state.keyVaultAccess === "forbidden" || !isManagedIdentity) {
    const message = [
      "Caller is not authorized to perform action on resource.",
      "If role assignments, deny assignments or role definitions were changed recently, please observe propagation time.",
      `Caller: appid=${String(claims.appid)};oid=${String(claims.oid)};iss=${String(claims.iss)}`,
      `Action: '${action}'`,
      `Resource: '/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/simulated/providers/microsoft.keyvault/vaults/simulated-vault'`,
      "Assignment: (not found)",
      "Vault: simulated-vault;location=simulated",
      "",
    ].join("\r\n");
    return keyVaultError(request, 403, "Forbidden", message, "ForbiddenByRbac");
  }
  return undefined;
}

function checkApiVersion(request: SimulatedRequest): SimulatedResponse | undefined {
  const apiVersion = request.url.searchParams.get("api-version");
  if (apiVersion === null || !API_VERSION.test(apiVersion)) {
    return keyVaultError(request, 400, "BadParameter", `The request URI has a missing or invalid api-version ('${apiVersion ?? ""}').`);
  }
  return undefined;
}

function find(state: TenantState, name: string, version: string): VaultCertificate | undefined {
  const entry = state.vault.certificates.get(name.toLowerCase());
  if (entry === undefined) return undefined;
  if (version !== "" && version.toLowerCase() !== entry.version) return undefined;
  return entry;
}

function attributes(entry: VaultCertificate): Record<string, unknown> {
  return {
    enabled: true,
    nbf: Math.floor(entry.certificate.notBefore.getTime() / 1000),
    exp: Math.floor(entry.certificate.notAfter.getTime() / 1000),
    created: entry.createdOnInSeconds,
    updated: entry.createdOnInSeconds,
    recoveryLevel: "Recoverable+Purgeable",
    recoverableDays: 90,
  };
}

export function certificateBundle(state: TenantState, entry: VaultCertificate, withPolicy: boolean): Record<string, unknown> {
  const vault = state.keyVaultUrl;
  const der = Buffer.from(entry.certificate.certificateDerBase64, "base64");
  const bundle: Record<string, unknown> = {
    id: `${vault}/certificates/${entry.name}/${entry.version}`,
    kid: `${vault}/keys/${entry.name}/${entry.version}`,
    sid: `${vault}/secrets/${entry.name}/${entry.version}`,
    x5t: createHash("sha1").update(der).digest("base64url"),
    cer: entry.certificate.certificateDerBase64,
    attributes: attributes(entry),
    tags: {},
  };
  if (withPolicy) {
    bundle.policy = {
      id: `${vault}/certificates/${entry.name}/policy`,
      key_props: { exportable: entry.exportable, kty: "RSA", key_size: 2048, reuse_key: false },
      secret_props: { contentType: entry.contentType },
      x509_props: {
        subject: entry.certificate.subject,
        ekus: ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"],
        key_usage: ["digitalSignature", "keyEncipherment"],
        validity_months: 12,
        basic_constraints: { ca: false },
      },
      lifetime_actions: [{ trigger: { lifetime_percentage: 80 }, action: { action_type: "EmailContacts" } }],
      issuer: { name: "Unknown" },
      attributes: { enabled: true, created: entry.createdOnInSeconds, updated: entry.createdOnInSeconds },
    };
    bundle.pending = { id: `${vault}/certificates/${entry.name}/pending` };
  }
  return bundle;
}

async function getCertificate(state: TenantState, request: SimulatedRequest): Promise<SimulatedResponse> {
  const denied = await authorize(state, request, "Microsoft.KeyVault/vaults/certificates/read");
  if (denied) return denied;
  const badVersion = checkApiVersion(request);
  if (badVersion) return badVersion;
  const [name = "", version = ""] = request.params;
  const entry = find(state, name, version);
  if (entry === undefined) {
    const id = version === "" ? name : `${name}/${version}`;
    return keyVaultError(request, 404, "CertificateNotFound", `A certificate with (name/id) ${id} was not found in this key vault. Check the name, or whether it was deleted (it may be recoverable).`);
  }
  return { status: 200, headers: headers(request), body: certificateBundle(state, entry, version === "") };
}

async function getSecret(state: TenantState, request: SimulatedRequest): Promise<SimulatedResponse> {
  const denied = await authorize(state, request, "Microsoft.KeyVault/vaults/secrets/getSecret/action");
  if (denied) return denied;
  const badVersion = checkApiVersion(request);
  if (badVersion) return badVersion;
  const [name = "", version = ""] = request.params;
  const entry = find(state, name, version);
  const id = version === "" ? name : `${name}/${version}`;
  if (entry === undefined) {
    return keyVaultError(request, 404, "SecretNotFound", `A secret with (name/id) ${id} was not found in this key vault. Check the name, or whether it was deleted (it may be recoverable).`);
  }
  if (!entry.exportable) {
    return keyVaultError(request, 403, "Forbidden", `The private key of certificate ${entry.name} is not exportable (its policy has key_props.exportable = false); its secret cannot be read.`);
  }
  const vault = state.keyVaultUrl;
  return {
    status: 200,
    headers: headers(request),
    body: {
      value: entry.secretValue,
      contentType: entry.contentType,
      id: `${vault}/secrets/${entry.name}/${entry.version}`,
      managed: true,
      attributes: attributes(entry),
      tags: {},
      kid: `${vault}/keys/${entry.name}/${entry.version}`,
    },
  };
}

export function keyVaultRoutes(state: TenantState): Route[] {
  return [
    { service: "keyVault", method: "GET", path: /^\/certificates\/([0-9A-Za-z-]+)(?:\/([0-9A-Za-z]*))?\/?$/, handler: (request) => getCertificate(state, request) },
    { service: "keyVault", method: "GET", path: /^\/secrets\/([0-9A-Za-z-]+)(?:\/([0-9A-Za-z]*))?\/?$/, handler: (request) => getSecret(state, request) },
  ];
}

export function keyVaultNotFound(state: TenantState) {
  return async (request: SimulatedRequest): Promise<SimulatedResponse> => {
    const denied = await authorize(state, request, "Microsoft.KeyVault/vaults/read");
    if (denied) return denied;
    return keyVaultError(request, 404, "NotFound", `The operation ${request.method} ${request.url.pathname} is not simulated.`);
  };
}

export function newVersion(): string {
  return randomUUID().replace(/-/g, "");
}

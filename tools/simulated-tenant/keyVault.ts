/**
 * The simulated Key Vault data plane: certificates and their backing secrets, behind Key Vault's
 * bearer challenge. Bodies follow the real service's JSON (ids with versions, `cer`, base64url
 * `x5t`, epoch-second attributes, policy with `key_props`/`secret_props`).
 */
import { createHash, createPublicKey, randomUUID } from "node:crypto";
import forge from "node-forge";
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
  const denied = state.keyVaultDeniedActions?.some((a) => a.toLowerCase() === action.toLowerCase()) ?? false;
  if (state.keyVaultAccess === "forbidden" || !isManagedIdentity || denied) {
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

/** Key Vault's checks before an operation on an item, in its order: the bearer token and the caller's right to `action`, then the api-version. */
async function refuseOperation(state: TenantState, request: SimulatedRequest, action: string): Promise<SimulatedResponse | undefined> {
  return (await authorize(state, request, action)) ?? checkApiVersion(request);
}

/** Key Vault's 404 for a certificate, secret or key that is not there (at that version, when one is given). */
function itemNotFound(request: SimulatedRequest, item: "Certificate" | "Secret" | "Key", name: string, version: string): SimulatedResponse {
  const id = version === "" ? name : `${name}/${version}`;
  return keyVaultError(request, 404, `${item}NotFound`, `A ${item.toLowerCase()} with (name/id) ${id} was not found in this key vault. Check the name, or whether it was deleted (it may be recoverable).`);
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
  const refused = await refuseOperation(state, request, "Microsoft.KeyVault/vaults/certificates/read");
  if (refused) return refused;
  const [name = "", version = ""] = request.params;
  const entry = find(state, name, version);
  if (entry === undefined) return itemNotFound(request, "Certificate", name, version);
  return { status: 200, headers: headers(request), body: certificateBundle(state, entry, version === "") };
}

async function getSecret(state: TenantState, request: SimulatedRequest): Promise<SimulatedResponse> {
  const refused = await refuseOperation(state, request, "Microsoft.KeyVault/vaults/secrets/getSecret/action");
  if (refused) return refused;
  const [name = "", version = ""] = request.params;
  const vault = state.keyVaultUrl;
  const plain = state.vault.secrets?.get(name.toLowerCase());
  if (plain !== undefined && (version === "" || version.toLowerCase() === plain.version)) {
    const created = Math.floor(Date.now() / 1000) - 3600;
    const body: Record<string, unknown> = {
      value: plain.value,
      id: `${vault}/secrets/${plain.name}/${plain.version}`,
      attributes: { enabled: true, created, updated: created, recoveryLevel: "Recoverable+Purgeable", recoverableDays: 90 },
      tags: {},
    };
    if (plain.contentType !== undefined) body.contentType = plain.contentType;
    return { status: 200, headers: headers(request), body };
  }
  const entry = find(state, name, version);
  if (entry === undefined) return itemNotFound(request, "Secret", name, version);
  return {
    status: 200,
    headers: headers(request),
    body: {
      // As Key Vault does: a non-exportable key is not part of the value, only the certificates are.
      value: entry.exportable ? entry.secretValue : publicOnlySecretValue(entry),
      contentType: entry.contentType,
      id: `${vault}/secrets/${entry.name}/${entry.version}`,
      managed: true,
      attributes: attributes(entry),
      tags: {},
      kid: `${vault}/keys/${entry.name}/${entry.version}`,
    },
  };
}

/** A certificate's backing secret without the private key (what Key Vault returns for a non-exportable key). */
export function publicOnlySecretValue(entry: VaultCertificate): string {
  if (entry.contentType === "application/x-pem-file") return entry.chainPem.join("");
  const certificates = entry.chainPem.map((pem) => forge.pki.certificateFromPem(pem));
  const pfx = forge.pkcs12.toPkcs12Asn1(null, certificates, "", { algorithm: "3des" });
  return forge.util.encode64(forge.asn1.toDer(pfx).getBytes());
}

/** GET /keys/{name}/{version}: the public part of a certificate's key (what keys/read exposes). */
async function getKey(state: TenantState, request: SimulatedRequest): Promise<SimulatedResponse> {
  const refused = await refuseOperation(state, request, "Microsoft.KeyVault/vaults/keys/read");
  if (refused) return refused;
  const [name = "", version = ""] = request.params;
  const entry = find(state, name, version);
  if (entry === undefined) return itemNotFound(request, "Key", name, version);
  const jwk = createPublicKey(entry.certificate.certificatePem).export({ format: "jwk" });
  const created = entry.createdOnInSeconds;
  return {
    status: 200,
    headers: headers(request),
    body: {
      key: {
        kid: `${state.keyVaultUrl}/keys/${entry.name}/${entry.version}`,
        kty: "RSA",
        key_ops: ["sign", "verify", "wrapKey", "unwrapKey", "encrypt", "decrypt"],
        n: jwk.n,
        e: jwk.e,
      },
      attributes: { enabled: true, nbf: Math.floor(entry.certificate.notBefore.getTime() / 1000), exp: Math.floor(entry.certificate.notAfter.getTime() / 1000), created, updated: created, exportable: entry.exportable, recoveryLevel: "Recoverable+Purgeable", recoverableDays: 90 },
      tags: {},
      managed: true,
    },
  };
}

const DIGEST_OIDS: Record<string, { md: string; length: number }> = { RS256: { md: "sha256", length: 32 }, PS256: { md: "sha256", length: 32 } };

/**
 * POST /keys/{name}/{version}/sign with `{ alg, value: base64url digest }`: signs the digest with the
 * certificate's private key inside the vault (PS256: RSASSA-PSS, MGF1-SHA256, 32-byte salt; RS256:
 * RSASSA-PKCS1-v1_5) and answers `{ kid, value: base64url signature }`. Exportability does not matter.
 */
async function signDigest(state: TenantState, request: SimulatedRequest): Promise<SimulatedResponse> {
  const refused = await refuseOperation(state, request, "Microsoft.KeyVault/vaults/keys/sign/action");
  if (refused) return refused;
  const [name = "", version = ""] = request.params;
  const entry = find(state, name, version);
  if (entry === undefined || version === "") return itemNotFound(request, "Key", name, version);
  let body: { alg?: unknown; value?: unknown };
  try {
    body = JSON.parse(request.body) as { alg?: unknown; value?: unknown };
  } catch {
    return keyVaultError(request, 400, "BadParameter", "The request body is not valid JSON.");
  }
  const alg = typeof body.alg === "string" ? body.alg : "";
  const spec = DIGEST_OIDS[alg];
  if (spec === undefined) return keyVaultError(request, 400, "BadParameter", `Invalid algorithm '${alg}' for an RSA key; this vault signs with PS256 or RS256.`);
  if (typeof body.value !== "string" || !/^[A-Za-z0-9_-]*$/.test(body.value)) return keyVaultError(request, 400, "BadParameter", "Property 'value' must be a base64url digest.");
  const digest = Buffer.from(body.value, "base64url");
  if (digest.length !== spec.length) return keyVaultError(request, 400, "BadParameter", `The digest for ${alg} must be ${spec.length} bytes (got ${digest.length}).`);
  const privateKey = forge.pki.privateKeyFromPem(entry.certificate.privateKeyPem);
  // A message digest object holding the precomputed digest: the vault never sees the message.
  const md = { algorithm: spec.md, digest: () => forge.util.createBuffer(digest.toString("binary")) } as unknown as forge.md.MessageDigest;
  const signature =
    alg === "PS256"
      ? privateKey.sign(md, forge.pss.create({ md: forge.md.sha256.create(), mgf: forge.mgf.mgf1.create(forge.md.sha256.create()), saltLength: 32 }))
      : privateKey.sign(md);
  return {
    status: 200,
    headers: headers(request),
    body: { kid: `${state.keyVaultUrl}/keys/${entry.name}/${entry.version}`, value: Buffer.from(signature, "binary").toString("base64url") },
  };
}

export function keyVaultRoutes(state: TenantState): Route[] {
  return [
    { service: "keyVault", method: "GET", path: /^\/keys\/([0-9A-Za-z-]+)(?:\/([0-9A-Za-z]*))?\/?$/, handler: (request) => getKey(state, request) },
    { service: "keyVault", method: "POST", path: /^\/keys\/([0-9A-Za-z-]+)\/([0-9A-Za-z]+)\/sign\/?$/, handler: (request) => signDigest(state, request) },
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

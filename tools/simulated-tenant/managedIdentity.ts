/**
 * The simulated App Service / Functions managed-identity endpoint (api-version 2019-08-01), as
 * msal-node's AppService source and @azure/identity call it: `GET <IDENTITY_ENDPOINT>?resource=…
 * &api-version=2019-08-01` with the `X-IDENTITY-HEADER` secret; answers `access_token`,
 * `expires_on` (epoch seconds, as a string), `resource`, `token_type`, `client_id`.
 */
import { randomUUID } from "node:crypto";
import { jsonResponse, type Route, type SimulatedRequest, type SimulatedResponse } from "./http.js";
import type { TenantState } from "./state.js";

export const MANAGED_IDENTITY_PATH = "/msi/token";
export const MANAGED_IDENTITY_API_VERSION = "2019-08-01";
const TOKEN_LIFETIME_IN_SECONDS = 86_399;

function failure(status: number, message: string): SimulatedResponse {
  return jsonResponse(status, { statusCode: status, message, correlationId: randomUUID() });
}

async function getToken(state: TenantState, request: SimulatedRequest): Promise<SimulatedResponse> {
  const mi = state.managedIdentity;
  const secret = request.headers["x-identity-header"];
  if (secret === undefined) return failure(400, "The X-IDENTITY-HEADER header is missing.");
  if (secret !== mi.identityHeader) return failure(401, "The X-IDENTITY-HEADER header does not match IDENTITY_HEADER.");
  const query = request.url.searchParams;
  const apiVersion = query.get("api-version");
  if (apiVersion !== MANAGED_IDENTITY_API_VERSION) {
    return failure(400, `api-version '${apiVersion ?? ""}' is not supported; use ${MANAGED_IDENTITY_API_VERSION}.`);
  }
  const resource = query.get("resource");
  if (!resource) return failure(400, "The 'resource' query parameter is missing.");
  if (!/^(https:\/\/[^\s/]+(\/\S*)?|api:\/\/\S+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i.test(resource)) {
    return failure(400, `AADSTS500011: The resource principal named ${resource} was not found in the tenant named ${state.tenantId}.`);
  }
  // Token-exchange audiences (workload identity federation): only this cloud's is known to its Entra.
  const exchange = /^api:\/\/AzureADTokenExchange/i.test(resource);
  if (exchange && resource.replace(/\/+$/, "") !== state.cloud.tokenExchangeAudience) {
    return failure(
      400,
      `AADSTS500011: The resource principal named ${resource} was not found in the tenant named ${state.tenantId}. This cloud's token-exchange audience is ${state.cloud.tokenExchangeAudience}.`,
    );
  }
  const userAssigned: Array<[string, string]> = [
    ["client_id", mi.clientId],
    ["principal_id", mi.objectId],
    ["object_id", mi.objectId],
    ["mi_res_id", mi.resourceId],
  ];
  for (const [name, expected] of userAssigned) {
    const value = query.get(name);
    if (value !== null && value.toLowerCase() !== expected.toLowerCase()) {
      return failure(400, `Unable to load the proper Managed Identity: no identity with ${name} '${value}' is assigned to this app.`);
    }
  }
  const issued = await state.tokens.issue(
    {
      aud: resource,
      tid: state.tenantId,
      oid: mi.objectId,
      sub: mi.objectId,
      appid: mi.clientId,
      appidacr: "2",
      idtyp: "app",
      // Tokens for the exchange audience are v2.0 tokens: iss <authority>/<tenant>/v2.0, sub = the identity's object id.
      ver: exchange ? "2.0" : "1.0",
      ...(exchange ? { azp: mi.clientId } : {}),
      xms_mirid: mi.resourceId,
    },
    TOKEN_LIFETIME_IN_SECONDS,
  );
  return jsonResponse(200, {
    access_token: issued.token,
    expires_on: String(issued.expiresOnInSeconds),
    resource,
    token_type: "Bearer",
    client_id: mi.clientId,
  });
}

export function managedIdentityRoutes(state: TenantState): Route[] {
  return [{ service: "managedIdentity", method: "GET", path: /^\/msi\/token\/?$/, handler: (request) => getToken(state, request) }];
}

export function managedIdentityNotFound(request: SimulatedRequest): SimulatedResponse {
  return failure(404, `${request.url.pathname} is not the managed identity endpoint (${MANAGED_IDENTITY_PATH}).`);
}

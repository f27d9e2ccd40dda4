/**
 * The simulated cloud's customer tenants: besides the home tenant (where the app is registered,
 * with its Key Vault and managed identity), any number of other tenants, each with its own
 * directory, its own consent state and its own throttling, served by the same authority and Graph
 * listeners. The token endpoint picks the tenant from the authority path (`/{tenant}/oauth2/...`);
 * Graph picks it from the access token's `tid`, then verifies the token with that tenant's key.
 * The app's federated assertions (its home tenant's managed identity tokens) are accepted in every
 * tenant where it has a service principal, verified with the home tenant's key and matched against
 * the app's federated identity credentials, as Entra does for a multi-tenant app.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { deltaRoutes, SimulatedDirectoryChanges, type DirectoryChanges } from "./delta.js";
import { SimulatedGroups, type SimulatedGroupsOptions } from "./groups.js";
import { groupRoutes } from "./groupsGraph.js";
import { entraRoutes } from "./entra.js";
import { graphRoutes } from "./graph.js";
import type { RequestInterceptor, Route, SimulatedRequest, SimulatedResponse } from "./http.js";
import { isThisTenant, type AppRegistration, type TenantState } from "./state.js";
import { createTokenAuthority } from "./tokens.js";
import { createSimulatedDirectory, type SimulatedDirectory } from "./users.js";

/**
 * What the customer's administrator has done: nothing (no service principal: the token request
 * fails with AADSTS7000229), consented to the app without User.Read.All (Graph answers 403
 * Authorization_RequestDenied), or consented with it.
 */
export type CustomerConsent = "none" | "withoutUserReadAll" | "consented";

export interface CustomerTenantOptions {
  tenantId: string;
  userCount: number;
  /** Same seed, same directory. Default: one per tenant (no two customers share user ids). */
  seed?: number;
  /** Default "consented". */
  consent?: CustomerConsent;
  /** Added to each of this tenant's Graph answers. */
  graphLatencyInMs?: number;
  /** The most users one of this tenant's `/users` pages holds, whatever `$top` asks (Graph may return fewer). Default: `$top`. */
  graphPageSize?: number;
  /** This tenant's groups (groups.ts), generated from its own seed; consent then grants GroupMember.Read.All too. Default none. */
  groups?: SimulatedGroupsOptions;
}

export interface SimulatedCustomerTenant {
  tenantId: string;
  tenantDomain: string;
  directory: SimulatedDirectory;
  changes: DirectoryChanges;
  /** The tenant's groups and their members (none unless `groups` was given). */
  groups: SimulatedGroups;
  /** Changes the consent state (e.g. an administrator consents, or revokes). */
  setConsent(consent: CustomerConsent): void;
  /** Graph requests this tenant received (any answer). */
  graphRequestCount(): number;
  /** Changes the delay added to each of this tenant's Graph answers (e.g. none while a benchmark seeds). */
  setGraphLatency(latencyInMs: number): void;
  /** Answers this tenant's Graph requests in place of the simulator (e.g. throttling); returns a remover. */
  interceptGraph(interceptor: RequestInterceptor): () => void;
}

interface Customer {
  state: TenantState;
  changes: SimulatedDirectoryChanges;
  groups: SimulatedGroups;
  routes: { entra: Route[]; graph: Route[] };
  interceptors: RequestInterceptor[];
  graphRequests: number;
}

export class CustomerTenants {
  readonly #home: TenantState;
  readonly #customers = new Map<string, Customer>();

  constructor(home: TenantState, options: readonly CustomerTenantOptions[]) {
    this.#home = home;
    options.forEach((option, index) => {
      const tenantId = option.tenantId.toLowerCase();
      if (tenantId === home.tenantId || this.#customers.has(tenantId)) throw new Error(`Customer tenant ${tenantId} is given twice.`);
      const seed = option.seed ?? 1000 + index;
      const tenantDomain = `customer${tenantId.slice(0, 8)}.onmicrosoft.com`;
      const directory = createSimulatedDirectory({ userCount: option.userCount, seed, domain: tenantDomain });
      const state: TenantState = {
        ...home,
        tenantId,
        tenantDomain,
        // The same app registration (its certificates, secrets and federated identity credentials
        // are the home tenant's objects), with a service principal and grants of its own here.
        app: customerApp(home),
        graphLatencyInMs: option.graphLatencyInMs ?? 0,
        ...(option.graphPageSize !== undefined ? { graphPageSize: option.graphPageSize } : {}),
        tokens: createTokenAuthority({ issuer: () => `${home.authorityHost}/${tenantId}/v2.0` }),
        // Federated assertions (the managed identity's tokens) come from the home tenant's token service.
        homeTokens: home.tokens,
        directory,
        skipTokenKey: randomBytes(32),
      };
      // The listeners' origins are known once they listen: read them from the home tenant.
      for (const key of ["authorityHost", "graphEndpoint", "keyVaultUrl", "identityEndpoint", "graphResources"] as const) {
        Object.defineProperty(state, key, { get: () => home[key], enumerable: true });
      }
      const changes = new SimulatedDirectoryChanges(directory, seed);
      // A customer's groups (none unless asked), served on the same routes as the home tenant's.
      const groups = new SimulatedGroups(seed, { userCount: directory.userCount, userIdAt: (i) => changes.userIdAt(i) }, option.groups);
      changes.lifecycleListener = groups;
      const customer: Customer = {
        state,
        changes,
        groups,
        routes: { entra: entraRoutes(state), graph: [...graphRoutes(state, changes), ...deltaRoutes(state, changes), ...groupRoutes(state, groups, changes)] },
        interceptors: [],
        graphRequests: 0,
      };
      applyConsent(state, option.consent ?? "consented", groups.groupCount > 0);
      this.#customers.set(tenantId, customer);
    });
  }

  /** The test's handles on each customer tenant, by tenant id. */
  handles(): Map<string, SimulatedCustomerTenant> {
    const handles = new Map<string, SimulatedCustomerTenant>();
    for (const [tenantId, customer] of this.#customers) {
      handles.set(tenantId, {
        tenantId,
        tenantDomain: customer.state.tenantDomain,
        directory: customer.state.directory,
        changes: customer.changes,
        groups: customer.groups,
        setConsent: (consent) => applyConsent(customer.state, consent, customer.groups.groupCount > 0),
        graphRequestCount: () => customer.graphRequests,
        setGraphLatency: (latencyInMs) => (customer.state.graphLatencyInMs = latencyInMs),
        interceptGraph: (interceptor) => {
          customer.interceptors.push(interceptor);
          return () => {
            const at = customer.interceptors.indexOf(interceptor);
            if (at >= 0) customer.interceptors.splice(at, 1);
          };
        },
      });
    }
    return handles;
  }

  /** The authority's routes, each sent to the tenant its path names (the home tenant's otherwise). */
  entraRoutes(homeRoutes: Route[]): Route[] {
    return homeRoutes.map((route, index) => ({
      ...route,
      handler: (request: SimulatedRequest) => {
        const segment = request.params[0] ?? "";
        for (const customer of this.#customers.values()) {
          if (isThisTenant(customer.state, segment)) return customer.routes.entra[index]!.handler(request);
        }
        return route.handler(request);
      },
    }));
  }

  /** Graph's routes, each sent to the tenant of the bearer token's `tid` (the home tenant's otherwise). */
  graphRoutes(homeRoutes: Route[]): Route[] {
    return homeRoutes.map((route, index) => ({
      ...route,
      handler: async (request: SimulatedRequest): Promise<SimulatedResponse> => {
        const customer = this.#customers.get(tokenTenant(request) ?? "");
        if (customer === undefined) return route.handler(request);
        customer.graphRequests += 1;
        for (const interceptor of customer.interceptors) {
          const answer = await interceptor(request);
          if (answer !== undefined) return answer;
        }
        return customer.routes.graph[index]!.handler(request);
      },
    }));
  }

  get home(): TenantState {
    return this.#home;
  }
}

/**
 * The app as a customer tenant sees it: its credentials are read from the registration in the home
 * tenant at every request (a test that changes them changes them everywhere, as in Entra); its
 * service principal and grants are this tenant's own.
 */
function customerApp(home: TenantState): AppRegistration {
  const app: AppRegistration = { ...home.app, servicePrincipalObjectId: randomUUID(), graphRoles: [] };
  for (const key of ["clientId", "displayName", "certificates", "clientSecrets", "federatedIdentityCredentials"] as const) {
    Object.defineProperty(app, key, { get: () => home.app[key], enumerable: true });
  }
  return app;
}

function applyConsent(state: TenantState, consent: CustomerConsent, hasGroups: boolean): void {
  state.appServicePrincipal = consent !== "none";
  state.app.graphRoles = consent === "consented" ? ["User.Read.All", ...(hasGroups ? ["GroupMember.Read.All"] : [])] : [];
}

/** The `tid` of the request's bearer token, unverified (only to choose whose key verifies it). */
function tokenTenant(request: SimulatedRequest): string | undefined {
  const header = request.headers.authorization;
  const value = Array.isArray(header) ? header[0] : header;
  const token = /^Bearer\s+(\S+)$/i.exec(value?.trim() ?? "")?.[1];
  if (token === undefined) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8")) as { tid?: unknown };
    return typeof claims.tid === "string" ? claims.tid.toLowerCase() : undefined;
  } catch {
    return undefined;
  }
}

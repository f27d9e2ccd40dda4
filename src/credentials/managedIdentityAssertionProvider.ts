/**
 * managedIdentityFederation: the client assertion is a token of the function's managed identity for
 * the token-exchange audience (`api://AzureADTokenExchange`, or the national cloud's), trusted by the
 * app registration through a federated identity credential (issuer
 * `https://{login host}/{tenant}/v2.0`, subject = the identity's principal (object) id, that
 * audience). No certificate or secret exists anywhere.
 *
 * The token comes from the TokenCredential the rest of the product uses (DefaultAzureCredential,
 * which picks the user-assigned identity named by AZURE_CLIENT_ID), so it is cached and renewed by
 * the identity library; MSAL asks for it only when it needs a new Graph token.
 */
import type { TokenCredential } from "@azure/identity";
import { UserSyncError } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";
import { redact } from "../shared/redact.js";
import { unverifiedJwtClaims, type ClientAssertionFacts, type ClientAssertionProvider, type GetClientAssertionOptions } from "./clientAssertion.js";
import { isAbortError } from "../shared/abort.js";

export interface ManagedIdentityAssertionProviderOptions {
  credential: TokenCredential;
  /** From GRAPH_CLOUD: api://AzureADTokenExchange, api://AzureADTokenExchangeChina or api://AzureADTokenExchangeUSGov. */
  tokenExchangeAudience: string;
  logger: Logger;
}

export class ManagedIdentityAssertionProvider implements ClientAssertionProvider {
  readonly mode = "managedIdentityFederation" as const;
  readonly #options: ManagedIdentityAssertionProviderOptions;
  readonly #scope: string;
  #facts: ClientAssertionFacts = {};
  #announced = false;

  constructor(options: ManagedIdentityAssertionProviderOptions) {
    this.#options = options;
    this.#scope = `${options.tokenExchangeAudience.replace(/\/+$/, "")}/.default`;
  }

  facts(): ClientAssertionFacts {
    return { ...this.#facts };
  }

  async getClientAssertion(options: GetClientAssertionOptions = {}): Promise<string> {
    let token;
    try {
      token = await this.#options.credential.getToken(this.#scope, { abortSignal: options.abortSignal });
    } catch (error) {
      throw this.#translate(error);
    }
    if (!token?.token) {
      throw new UserSyncError("no_azure_credential", `The managed identity returned no token for ${this.#options.tokenExchangeAudience}. ${NO_IDENTITY_FIX}`);
    }
    const claims = unverifiedJwtClaims(token.token) ?? {};
    const text = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
    this.#facts = {
      federatedAudience: this.#options.tokenExchangeAudience,
      ...(text(claims.iss) ? { federatedIssuer: text(claims.iss) } : {}),
      ...(text(claims.sub) ?? text(claims.oid) ? { federatedSubject: text(claims.sub) ?? text(claims.oid) } : {}),
    };
    if (!this.#announced) {
      this.#announced = true;
      this.#options.logger.info(
        `Signing in to Microsoft Entra with the managed identity as a federated credential (issuer ${this.#facts.federatedIssuer ?? "unknown"}, ` +
          `subject ${this.#facts.federatedSubject ?? "unknown"}, audience ${this.#options.tokenExchangeAudience}).`,
      );
    }
    return token.token;
  }

  #translate(error: unknown): unknown {
    if (error instanceof UserSyncError) return error;
    if (isAbortError(error)) return error as Error;
    const name = error instanceof Error ? error.name : "";
    const full = redact((error instanceof Error ? error.message : String(error)).replace(/\s+/g, " ").trim());
    const entraError = /AADSTS\d+:[^.]*\./.exec(full)?.[0];
    const message = (entraError ? `${entraError} (${full.slice(0, 300)}…)` : full).slice(0, 600);
    // The identity endpoint answered with an Entra error (e.g. AADSTS500011 for another cloud's
    // audience): the identity exists, the request is wrong. The chain reports it as "unavailable".
    const answered = /AADSTS\d+/.test(error instanceof Error ? error.message : String(error));
    if (!answered && (name === "CredentialUnavailableError" || name === "AggregateAuthenticationError")) {
      return new UserSyncError("no_azure_credential", `No managed identity could get a token for ${this.#options.tokenExchangeAudience}. ${NO_IDENTITY_FIX} Details: ${message}`, {
        details: { identityClientId: process.env.AZURE_CLIENT_ID },
      });
    }
    return new UserSyncError(
      "token_request_failed",
      `The managed identity${process.env.AZURE_CLIENT_ID ? ` (client ID ${process.env.AZURE_CLIENT_ID})` : ""} could not get a token for the token-exchange audience ${this.#options.tokenExchangeAudience}: ${message}. ` +
        "Check that AZURE_CLIENT_ID names a user-assigned identity attached to this Function App, and that GRAPH_CLOUD is the tenant's cloud (each cloud has its own exchange audience).",
      { details: { identityClientId: process.env.AZURE_CLIENT_ID } },
    );
  }
}

const NO_IDENTITY_FIX =
  "GRAPH_CREDENTIAL=managedIdentityFederation works only where a managed identity exists (the Function App in Azure, with AZURE_CLIENT_ID set to its user-assigned identity's client ID). " +
  "A developer sign-in (az login) cannot stand in for it: for local runs use GRAPH_CREDENTIAL=keyVaultCertificate, or clientSecret with GRAPH_CLIENT_SECRET.";

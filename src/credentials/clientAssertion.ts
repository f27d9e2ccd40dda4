/**
 * What GraphTokenClient needs from a source of client assertions (keyVaultSignedAssertion,
 * managedIdentityFederation). MSAL calls the source through its `clientAssertion` callback, which it
 * invokes only when it sends a token request, never for a token served from its cache.
 */
import type { OperationOptions } from "../shared/abort.js";

export interface GetClientAssertionOptions extends OperationOptions {
  /**
   * The token endpoint the assertion is for (its `aud`), as MSAL passes it for the request's
   * tenant. Default: the provider's own tenant's token endpoint.
   */
  audience?: string;
}

export type RefreshClientAssertionOptions = OperationOptions;

/** Non-secret facts about the assertion, for error messages. */
export interface ClientAssertionFacts {
  /** Lowercase hex SHA-256 thumbprint of the signing certificate (keyVaultSignedAssertion). */
  thumbprintSha256?: string;
  /** The `iss`, `sub` and `aud` of the managed identity token (managedIdentityFederation). */
  federatedIssuer?: string;
  federatedSubject?: string;
  federatedAudience?: string;
}

export interface ClientAssertionProvider {
  readonly mode: "keyVaultSignedAssertion" | "managedIdentityFederation";
  /** A fresh assertion. Never log it. */
  getClientAssertion(options?: GetClientAssertionOptions): Promise<string>;
  /** What the latest assertion was made with (empty before the first one). */
  facts(): ClientAssertionFacts;
  /**
   * Re-reads what the assertion is made from (e.g. the Key Vault certificate after a rotation).
   * Resolves true when that changed, so that a rejected token request is worth one retry.
   */
  refresh?(options?: RefreshClientAssertionOptions): Promise<boolean>;
}

/** The claims of a JWT, decoded without verification (for error messages only). Undefined when it is not a JWT. */
export function unverifiedJwtClaims(token: string): Record<string, unknown> | undefined {
  const parts = token.split(".");
  if (parts.length !== 3 || parts[1] === undefined) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8"));
    return claims !== null && typeof claims === "object" ? (claims as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The simulated token service's signing key: it issues real RS256 access tokens (app-only Graph
 * tokens, managed-identity tokens) and verifies them for the resource servers (Graph, Key Vault).
 */
import { createHash, generateKeyPairSync, type KeyObject } from "node:crypto";
import { exportJWK, jwtVerify, SignJWT, errors as joseErrors, type JWK, type JWTPayload } from "jose";

export type TokenProblem = "missing" | "malformed" | "signature" | "expired" | "not_yet_valid" | "audience" | "issuer";

export type TokenVerification = { ok: true; claims: JWTPayload & Record<string, unknown> } | { ok: false; problem: TokenProblem; message: string };

export interface TokenAuthority {
  /** The `iss` of every token: `<authorityHost>/<tenantId>/v2.0`, as in the OpenID metadata. */
  readonly issuer: string;
  readonly keyId: string;
  /** The public key set published at the metadata's jwks_uri. */
  jwks(): Promise<{ keys: JWK[] }>;
  /** Signs an access token; `exp` is now + lifetimeInSeconds. */
  issue(claims: Record<string, unknown>, lifetimeInSeconds: number): Promise<{ token: string; expiresOnInSeconds: number }>;
  /** Verifies signature, issuer, expiry (5 minutes of skew) and that `aud` is one of audiences. */
  verify(token: string | undefined, audiences: readonly string[]): Promise<TokenVerification>;
}

const CLOCK_SKEW_IN_SECONDS = 300;

/** `issuer` is read when a token is issued or verified (the listener's port is known late). */
export function createTokenAuthority(options: { issuer: () => string }): TokenAuthority {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const spki = publicKey.export({ type: "spki", format: "der" });
  // Entra's kid is the certificate's thumbprint; a hash of the public key plays that part here.
  const keyId = createHash("sha1").update(spki).digest("base64url");
  return {
    get issuer() {
      return options.issuer();
    },
    keyId,
    async jwks() {
      const jwk = await exportJWK(publicKey as KeyObject);
      return { keys: [{ ...jwk, kid: keyId, use: "sig", alg: "RS256" }] };
    },
    async issue(claims, lifetimeInSeconds) {
      const now = Math.floor(Date.now() / 1000);
      const expiresOnInSeconds = now + lifetimeInSeconds;
      const token = await new SignJWT({ ...claims })
        .setProtectedHeader({ alg: "RS256", typ: "JWT", kid: keyId })
        .setIssuer(options.issuer())
        .setIssuedAt(now)
        .setNotBefore(now - CLOCK_SKEW_IN_SECONDS)
        .setExpirationTime(expiresOnInSeconds)
        .sign(privateKey);
      return { token, expiresOnInSeconds };
    },
    async verify(token, audiences) {
      if (token === undefined || token === "") return { ok: false, problem: "missing", message: "Access token is empty." };
      try {
        const { payload } = await jwtVerify(token, publicKey, { algorithms: ["RS256"], clockTolerance: CLOCK_SKEW_IN_SECONDS });
        if (payload.iss !== options.issuer()) return { ok: false, problem: "issuer", message: "Access token validation failure. Invalid issuer." };
        const audience = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
        if (!audience.some((a) => a !== undefined && audiences.includes(a))) {
          return { ok: false, problem: "audience", message: "Access token validation failure. Invalid audience." };
        }
        return { ok: true, claims: payload as JWTPayload & Record<string, unknown> };
      } catch (error) {
        if (error instanceof joseErrors.JWTExpired) return { ok: false, problem: "expired", message: "Lifetime validation failed, the token is expired." };
        if (error instanceof joseErrors.JWTClaimValidationFailed && error.claim === "nbf") {
          return { ok: false, problem: "not_yet_valid", message: "Lifetime validation failed, the token is not yet valid." };
        }
        if (error instanceof joseErrors.JWSSignatureVerificationFailed) {
          return { ok: false, problem: "signature", message: "Access token validation failure. Invalid signature." };
        }
        return { ok: false, problem: "malformed", message: "Invalid JWT token. The token is malformed." };
      }
    },
  };
}

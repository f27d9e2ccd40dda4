/**
 * Reads the client certificate (private key + chain) out of a Key Vault certificate's backing secret
 * (unwrapped by certificateSecretFormats.ts): pairs the key with its certificate, orders the chain
 * leaf first, and checks that the certificate is RSA and valid now.
 */
import { createPublicKey, type KeyObject, type X509Certificate } from "node:crypto";
import { UserSyncError } from "../shared/errors.js";
import { assertCertificateValid } from "./certificateValidity.js";
import { unwrapCertificateSecret, type UnwrappedCertificateSecret } from "./certificateSecretFormats.js";

export { PEM_CONTENT_TYPE, PKCS12_CONTENT_TYPE } from "./certificateSecretFormats.js";

export interface ClientCertificate {
  /** PKCS#8 PEM. Never log it. */
  privateKeyPem: string;
  /** Lowercase hex of SHA-256 over the leaf certificate's DER. */
  thumbprintSha256: string;
  /** Base64 DER certificates, leaf first, then the rest of the chain. */
  x5c: string[];
  subject: string;
  issuer: string;
  notBefore: Date;
  notAfter: Date;
}

export interface ParseKeyVaultCertificateSecretOptions {
  /** The time validity is checked against; defaults to now. */
  now?: Date;
}

/** Parses a Key Vault certificate's backing secret into what MSAL needs for a client assertion. */
export function parseKeyVaultCertificateSecret(
  secret: { value: string; contentType?: string },
  options: ParseKeyVaultCertificateSecretOptions = {},
): ClientCertificate {
  const contentType = secret.contentType?.split(";")[0]?.trim().toLowerCase();
  return selectClientCertificate(unwrapCertificateSecret(secret.value, contentType), options.now ?? new Date());
}

// ---------------------------------------------------------------------------------------------
// Pairing and chain order (validity: certificateValidity.ts)

function spki(key: KeyObject): Buffer {
  return key.export({ type: "spki", format: "der" });
}

function selectClientCertificate(unwrapped: UnwrappedCertificateSecret, now: Date): ClientCertificate {
  const { keys, certificates } = unwrapped;
  if (certificates.length === 0) {
    throw new UserSyncError("certificate_unreadable", "The Key Vault secret holds no certificate. Point KEY_VAULT_CERTIFICATE_NAME at a Key Vault certificate, not a plain secret.");
  }
  if (keys.length === 0) {
    const leaf = certificates[0]!;
    throw new UserSyncError(
      "certificate_no_private_key",
      `The Key Vault secret holds the certificate "${oneLineName(leaf.subject)}" but no private key. ` +
        "The certificate's policy must make the key exportable (Key Vault > Certificates > the certificate > Issuance Policy > Advanced Policy Configuration > Exportable private key: Yes, or `exportable: true` in keyProperties); " +
        "a policy's exportability cannot be changed on an existing key, so create a new certificate (or import a .pfx that includes the key).",
      { details: { thumbprintSha256: leaf.fingerprint256.replaceAll(":", "").toLowerCase() } },
    );
  }

  let leaf: X509Certificate | undefined;
  let leafKey: KeyObject | undefined;
  for (const key of keys) {
    const publicKey = spki(createPublicKey(key));
    const match = certificates.find((certificate) => spki(certificate.publicKey).equals(publicKey));
    if (match) {
      leaf = match;
      leafKey = key;
      break;
    }
  }
  if (!leaf || !leafKey) {
    throw new UserSyncError(
      "certificate_key_mismatch",
      `The private key in the Key Vault secret matches none of its ${certificates.length} certificate(s) (${certificates.map((c) => `"${oneLineName(c.subject)}"`).join(", ")}). ` +
        "The secret was probably edited by hand or imported from a mismatched key and certificate; re-import a .pfx or .pem whose key belongs to the certificate.",
    );
  }

  if (leafKey.asymmetricKeyType !== "rsa") {
    throw new UserSyncError(
      "certificate_unreadable",
      `The certificate "${oneLineName(leaf.subject)}" has a ${leafKey.asymmetricKeyType?.toUpperCase() ?? "non-RSA"} key, but Microsoft Entra certificate credentials (and MSAL) need RSA. Create the Key Vault certificate with key type RSA (2048 bits or more).`,
    );
  }

  const thumbprintSha256 = leaf.fingerprint256.replaceAll(":", "").toLowerCase();
  const notBefore = new Date(leaf.validFrom);
  const notAfter = new Date(leaf.validTo);
  const subject = oneLineName(leaf.subject);
  assertCertificateValid({ subject, thumbprintSha256, notBefore, notAfter }, now);

  return {
    privateKeyPem: leafKey.export({ type: "pkcs8", format: "pem" }).toString(),
    thumbprintSha256,
    x5c: orderChain(leaf, certificates).map((certificate) => certificate.raw.toString("base64")),
    subject,
    issuer: oneLineName(leaf.issuer),
    notBefore,
    notAfter,
  };
}

/** Leaf first, then each issuer in turn, then whatever else the secret held, in its original order. */
function orderChain(leaf: X509Certificate, certificates: X509Certificate[]): X509Certificate[] {
  const ordered = [leaf];
  const remaining = certificates.filter((certificate) => certificate !== leaf && !certificate.raw.equals(leaf.raw));
  let current = leaf;
  for (;;) {
    if (current.issuer === current.subject && current.checkIssued(current)) break; // self-signed root
    const index = remaining.findIndex((candidate) => current.checkIssued(candidate) && safeVerify(current, candidate));
    if (index < 0) break;
    current = remaining.splice(index, 1)[0]!;
    ordered.push(current);
  }
  for (const certificate of remaining) {
    if (!ordered.some((o) => o.raw.equals(certificate.raw))) ordered.push(certificate);
  }
  return ordered;
}

function safeVerify(certificate: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return certificate.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/** A distinguished name as node:crypto gives it (one attribute a line) on one line: `CN=a, O=b`. */
export function oneLineName(distinguishedName: string): string {
  return distinguishedName.split("\n").filter(Boolean).join(", ");
}

/**
 * Reads the client certificate (private key + chain) out of a Key Vault certificate's backing secret
 * (unwrapped by certificateSecretFormats.ts): pairs the key with its certificate, orders the chain
 * leaf first, and checks that the certificate is RSA and valid now.
 */
import { createPublicKey, type KeyObject, type X509Certificate } from "node:crypto";
import { createCertificateError } from "./certificateErrors.js";
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
    throw createCertificateError("noCertificate", {});
  }
  if (keys.length === 0) {
    const leaf = certificates[0]!;
    throw createCertificateError("noPrivateKey", { subject: oneLineName(leaf.subject), thumbprintSha256: thumbprintOf(leaf) });
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
    throw createCertificateError("keyMatchesNoCertificate", { subjects: certificates.map((c) => oneLineName(c.subject)) });
  }

  if (leafKey.asymmetricKeyType !== "rsa") throw createCertificateError("notRsa", { subject: oneLineName(leaf.subject), keyType: leafKey.asymmetricKeyType });

  const thumbprintSha256 = thumbprintOf(leaf);
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

/** Lowercase hex SHA-256 over the certificate's DER. */
function thumbprintOf(certificate: X509Certificate): string {
  return certificate.fingerprint256.replaceAll(":", "").toLowerCase();
}

/** A distinguished name as node:crypto gives it (one attribute a line) on one line: `CN=a, O=b`. */
export function oneLineName(distinguishedName: string): string {
  return distinguishedName.split("\n").filter(Boolean).join(", ");
}

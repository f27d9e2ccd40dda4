/**
 * Reads the client certificate (private key + chain) out of a Key Vault certificate's backing secret.
 *
 * Key Vault hands the secret out in one of two forms, chosen by the certificate policy's content type:
 * - `application/x-pkcs12`: base64 PKCS#12 with an empty password. Key Vault and Windows write legacy
 *   encryption (3DES key bag, RC2-40 certificate bag, SHA-1 MAC); certificates imported from OpenSSL 3
 *   use PBES2/AES-256-CBC with a SHA-256 MAC. node-forge 1.4 reads both (pki.pbe.getCipher handles
 *   PBES2 with hmacWithSHA256 + aes256-CBC and the PKCS#12 PBEs; pkcs12FromAsn1 verifies SHA-1/256/384/512
 *   MACs). node:crypto cannot read PKCS#12 at all.
 * - `application/x-pem-file`: key and certificates concatenated, in any order, key as PKCS#8 or PKCS#1.
 *
 * Everything after unwrapping is done with node:crypto (X509Certificate, KeyObject) on the original DER.
 */
import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from "node:crypto";
import forge from "node-forge";
import { UserSyncError } from "../shared/errors.js";

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

export const PKCS12_CONTENT_TYPE = "application/x-pkcs12";
export const PEM_CONTENT_TYPE = "application/x-pem-file";

const RENEW_FIX =
  "Create a new version of the certificate in Key Vault (Certificates > the certificate > New Version, or give its policy a lifetime action that renews it automatically), " +
  "then add the new certificate's public part (.cer) to the app registration under Certificates & secrets. The function picks up the new version on its next certificate refresh or restart.";

interface Unwrapped {
  keys: KeyObject[];
  certificates: X509Certificate[];
}

/** Parses a Key Vault certificate's backing secret into what MSAL needs for a client assertion. */
export function parseKeyVaultCertificateSecret(
  secret: { value: string; contentType?: string },
  options: ParseKeyVaultCertificateSecretOptions = {},
): ClientCertificate {
  const contentType = secret.contentType?.split(";")[0]?.trim().toLowerCase();
  let unwrapped: Unwrapped;
  if (contentType === PKCS12_CONTENT_TYPE) {
    unwrapped = readPkcs12(secret.value);
  } else if (contentType === PEM_CONTENT_TYPE) {
    unwrapped = readPem(secret.value);
  } else {
    unwrapped = readUnknown(secret.value, contentType);
  }
  return selectClientCertificate(unwrapped, options.now ?? new Date());
}

function readUnknown(value: string, contentType: string | undefined): Unwrapped {
  const described = contentType ? `content type "${contentType}"` : "no content type";
  const expected = `Expected ${PKCS12_CONTENT_TYPE} (base64 PKCS#12) or ${PEM_CONTENT_TYPE} (PEM key and certificates), the two content types a Key Vault certificate's secret can have.`;
  const attempts: Array<() => Unwrapped> = value.includes("-----BEGIN") ? [() => readPem(value), () => readPkcs12(value)] : [() => readPkcs12(value), () => readPem(value)];
  for (const attempt of attempts) {
    try {
      return attempt();
    } catch (error) {
      if (error instanceof UserSyncError && error.code !== "certificate_unreadable") throw error;
    }
  }
  throw new UserSyncError(
    "certificate_unreadable",
    `The Key Vault secret has ${described} and is neither PKCS#12 nor PEM. ${expected} Point KEY_VAULT_CERTIFICATE_NAME at a Key Vault certificate (not a plain secret), or re-import the certificate as a .pfx or .pem file.`,
    { details: { contentType: contentType ?? "" } },
  );
}

// ---------------------------------------------------------------------------------------------
// PKCS#12

function unreadablePkcs12(reason: string): UserSyncError {
  return new UserSyncError(
    "certificate_unreadable",
    `The Key Vault secret (${PKCS12_CONTENT_TYPE}) could not be read as PKCS#12: ${reason}. ` +
      "Key Vault stores certificates without a password; if the certificate was imported, re-import the .pfx into Key Vault (Certificates > Generate/Import) rather than storing it as a plain secret.",
    { details: { contentType: PKCS12_CONTENT_TYPE } },
  );
}

function readPkcs12(value: string): Unwrapped {
  const compact = value.replace(/\s+/g, "");
  if (compact.length === 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) throw unreadablePkcs12("the value is not base64");
  const der = Buffer.from(compact, "base64").toString("binary");

  let asn1: forge.asn1.Asn1;
  try {
    asn1 = forge.asn1.fromDer(der, { strict: false, parseAllBytes: false } as unknown as boolean);
  } catch {
    throw unreadablePkcs12("the value is not DER/BER-encoded ASN.1");
  }

  // Key Vault uses an empty password. PKCS#12's password-to-key function distinguishes "" (a lone
  // terminating zero) from no password at all; OpenSSL and Windows write the former, some tools the latter.
  let pfx: forge.pkcs12.Pkcs12Pfx | undefined;
  let lastReason = "";
  for (const password of ["", null]) {
    try {
      pfx = forge.pkcs12.pkcs12FromAsn1(asn1, false, password as string);
      break;
    } catch (error) {
      lastReason = safeForgeReason(error);
    }
  }
  if (!pfx) throw unreadablePkcs12(`${lastReason} (it may be protected by a password; Key Vault's own certificates have none)`);

  const keys: KeyObject[] = [];
  const certificates: X509Certificate[] = [];
  for (const safeContents of pfx.safeContents) {
    for (const bag of safeContents.safeBags) {
      const raw = bag as forge.pkcs12.Bag & { asn1?: forge.asn1.Asn1 };
      if (bag.type === forge.pki.oids.pkcs8ShroudedKeyBag || bag.type === forge.pki.oids.keyBag) {
        const privateKeyInfo = bag.key ? forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(bag.key)) : raw.asn1;
        if (!privateKeyInfo) continue;
        keys.push(keyFromDer(Buffer.from(forge.asn1.toDer(privateKeyInfo).getBytes(), "binary"), "pkcs12"));
      } else if (bag.type === forge.pki.oids.certBag) {
        const certificateAsn1 = bag.cert ? forge.pki.certificateToAsn1(bag.cert) : raw.asn1;
        if (!certificateAsn1) continue;
        certificates.push(certificateFromDer(Buffer.from(forge.asn1.toDer(certificateAsn1).getBytes(), "binary")));
      }
    }
  }
  return { keys, certificates };
}

/** node-forge error messages name the failing structure; they never carry key bytes. Keep the first sentence. */
function safeForgeReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const first = message.split(/(?<=\.)\s/)[0] ?? message;
  return first.replace(/\.$/, "").slice(0, 200);
}

function keyFromDer(der: Buffer, source: string): KeyObject {
  try {
    return createPrivateKey({ key: der, format: "der", type: "pkcs8" });
  } catch {
    throw new UserSyncError("certificate_unreadable", `The private key in the Key Vault secret (${source}) could not be read.`);
  }
}

function certificateFromDer(der: Buffer): X509Certificate {
  try {
    return new X509Certificate(der);
  } catch {
    throw new UserSyncError("certificate_unreadable", "A certificate in the Key Vault secret could not be read as X.509.");
  }
}

// ---------------------------------------------------------------------------------------------
// PEM

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g;

function unreadablePem(reason: string): UserSyncError {
  return new UserSyncError(
    "certificate_unreadable",
    `The Key Vault secret (${PEM_CONTENT_TYPE}) could not be read as PEM: ${reason}. ` +
      "Re-import the certificate into Key Vault as a .pem file holding the unencrypted private key and the certificate chain.",
    { details: { contentType: PEM_CONTENT_TYPE } },
  );
}

function readPem(value: string): Unwrapped {
  const keys: KeyObject[] = [];
  const certificates: X509Certificate[] = [];
  let blocks = 0;
  for (const match of value.matchAll(PEM_BLOCK)) {
    blocks++;
    const label = match[1] ?? "";
    const block = match[0];
    switch (label) {
      case "CERTIFICATE":
        try {
          certificates.push(new X509Certificate(block));
        } catch {
          throw unreadablePem(`certificate number ${certificates.length + 1} is not valid X.509`);
        }
        break;
      case "PRIVATE KEY":
      case "RSA PRIVATE KEY":
      case "EC PRIVATE KEY":
        try {
          keys.push(createPrivateKey(block));
        } catch {
          throw unreadablePem(`the "${label}" block is not a valid private key`);
        }
        break;
      case "ENCRYPTED PRIVATE KEY":
        throw unreadablePem("the private key is encrypted with a password, which Key Vault does not support");
      default:
        // Other blocks (e.g. "X509 CRL", "TRUSTED CERTIFICATE") carry nothing MSAL needs.
        break;
    }
  }
  if (blocks === 0) throw unreadablePem("it contains no PEM blocks");
  return { keys, certificates };
}

// ---------------------------------------------------------------------------------------------
// Pairing, chain order, validity

function spki(key: KeyObject): Buffer {
  return key.export({ type: "spki", format: "der" });
}

function selectClientCertificate(unwrapped: Unwrapped, now: Date): ClientCertificate {
  const { keys, certificates } = unwrapped;
  if (certificates.length === 0) {
    throw new UserSyncError("certificate_unreadable", "The Key Vault secret holds no certificate. Point KEY_VAULT_CERTIFICATE_NAME at a Key Vault certificate, not a plain secret.");
  }
  if (keys.length === 0) {
    const leaf = certificates[0]!;
    throw new UserSyncError(
      "certificate_no_private_key",
      `The Key Vault secret holds the certificate "${oneLine(leaf.subject)}" but no private key. ` +
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
      `The private key in the Key Vault secret matches none of its ${certificates.length} certificate(s) (${certificates.map((c) => `"${oneLine(c.subject)}"`).join(", ")}). ` +
        "The secret was probably edited by hand or imported from a mismatched key and certificate; re-import a .pfx or .pem whose key belongs to the certificate.",
    );
  }

  if (leafKey.asymmetricKeyType !== "rsa") {
    throw new UserSyncError(
      "certificate_unreadable",
      `The certificate "${oneLine(leaf.subject)}" has a ${leafKey.asymmetricKeyType?.toUpperCase() ?? "non-RSA"} key, but Microsoft Entra certificate credentials (and MSAL) need RSA. Create the Key Vault certificate with key type RSA (2048 bits or more).`,
    );
  }

  const thumbprintSha256 = leaf.fingerprint256.replaceAll(":", "").toLowerCase();
  const notBefore = new Date(leaf.validFrom);
  const notAfter = new Date(leaf.validTo);
  const subject = oneLine(leaf.subject);
  if (now.getTime() > notAfter.getTime()) {
    throw new UserSyncError(
      "certificate_expired",
      `The client certificate "${subject}" (SHA-256 thumbprint ${thumbprintSha256}) expired on ${notAfter.toISOString()}. ${RENEW_FIX}`,
      { details: { thumbprintSha256, notAfter: notAfter.toISOString() } },
    );
  }
  if (now.getTime() < notBefore.getTime()) {
    throw new UserSyncError(
      "certificate_not_yet_valid",
      `The client certificate "${subject}" (SHA-256 thumbprint ${thumbprintSha256}) is not valid until ${notBefore.toISOString()}. ` +
        "Wait until then, check this machine's clock, or switch back to the previous certificate version in Key Vault (disable the new version).",
      { details: { thumbprintSha256, notBefore: notBefore.toISOString() } },
    );
  }

  return {
    privateKeyPem: leafKey.export({ type: "pkcs8", format: "pem" }).toString(),
    thumbprintSha256,
    x5c: orderChain(leaf, certificates).map((certificate) => certificate.raw.toString("base64")),
    subject,
    issuer: oneLine(leaf.issuer),
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

function oneLine(distinguishedName: string): string {
  return distinguishedName.split("\n").filter(Boolean).join(", ");
}

/**
 * Unwraps a Key Vault certificate's backing secret into its private keys and certificates.
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
import { createPrivateKey, X509Certificate, type KeyObject } from "node:crypto";
import forge from "node-forge";
import { UserSyncError } from "../shared/errors.js";
import { createCertificateError } from "./certificateErrors.js";

export const PKCS12_CONTENT_TYPE = "application/x-pkcs12";
export const PEM_CONTENT_TYPE = "application/x-pem-file";

/** What a certificate secret holds, in its original order. */
export interface UnwrappedCertificateSecret {
  keys: KeyObject[];
  certificates: X509Certificate[];
}

/** Reads the secret by its content type; without a known one, tries PEM and PKCS#12. */
export function unwrapCertificateSecret(value: string, contentType: string | undefined): UnwrappedCertificateSecret {
  if (contentType === PKCS12_CONTENT_TYPE) return readPkcs12(value);
  if (contentType === PEM_CONTENT_TYPE) return readPem(value);
  return readUnknown(value, contentType);
}

function readUnknown(value: string, contentType: string | undefined): UnwrappedCertificateSecret {
  const expected = `Expected ${PKCS12_CONTENT_TYPE} (base64 PKCS#12) or ${PEM_CONTENT_TYPE} (PEM key and certificates), the two content types a Key Vault certificate's secret can have.`;
  const attempts: Array<() => UnwrappedCertificateSecret> = value.includes("-----BEGIN") ? [() => readPem(value), () => readPkcs12(value)] : [() => readPkcs12(value), () => readPem(value)];
  for (const attempt of attempts) {
    try {
      return attempt();
    } catch (error) {
      if (error instanceof UserSyncError && error.code !== "certificate_unreadable") throw error;
    }
  }
  throw createCertificateError("unknownFormat", { contentType, expected });
}

// ---------------------------------------------------------------------------------------------
// PKCS#12

function unreadablePkcs12(reason: string): UserSyncError {
  return createCertificateError("notPkcs12", { contentType: PKCS12_CONTENT_TYPE, reason });
}

function readPkcs12(value: string): UnwrappedCertificateSecret {
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
    throw createCertificateError("keyUnreadable", { source });
  }
}

function certificateFromDer(der: Buffer): X509Certificate {
  try {
    return new X509Certificate(der);
  } catch {
    throw createCertificateError("certificateNotX509", {});
  }
}

// ---------------------------------------------------------------------------------------------
// PEM

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g;

function unreadablePem(reason: string): UserSyncError {
  return createCertificateError("notPem", { contentType: PEM_CONTENT_TYPE, reason });
}

function readPem(value: string): UnwrappedCertificateSecret {
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

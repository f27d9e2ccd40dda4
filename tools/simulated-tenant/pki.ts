/**
 * Certificates for the simulated tenant and for tests: a CA, TLS server certificates, client
 * certificates for the app registration, and the two containers Key Vault hands out (PKCS#12 and
 * PEM bundle). Keys come from node:crypto (RSA 2048, much faster than node-forge's key generation);
 * node-forge only builds and signs the X.509 structures.
 *
 * PKCS#12 files are written by the OpenSSL 3 command line, so that both formats are exactly what
 * real tools produce: "legacy-3des" is `openssl pkcs12 -export -legacy` (3DES key bag, RC2-40
 * certificate bag, SHA-1 MAC, as Key Vault and Windows make them) and "aes256" is OpenSSL 3's
 * default (PBES2/PBKDF2-HMAC-SHA256/AES-256-CBC, SHA-256 MAC). node-forge cannot write either: it
 * leaves certificate bags unencrypted and only MACs with SHA-1.
 */
import { execFileSync } from "node:child_process";
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import forge from "node-forge";

export interface GeneratedCertificate {
  certificatePem: string;
  certificateDerBase64: string;
  /** PKCS#8 PEM. */
  privateKeyPem: string;
  /** Lowercase hex of SHA-256 over the DER certificate. */
  thumbprintSha256Hex: string;
  /** Lowercase hex of SHA-1 over the DER certificate. */
  thumbprintSha1Hex: string;
  /** "CN=<common name>". */
  subject: string;
  notBefore: Date;
  notAfter: Date;
}

export interface CreateCertificateAuthorityOptions {
  commonName: string;
  /** Defaults to 3650. */
  validityDays?: number;
}

export interface IssueCertificateOptions {
  commonName: string;
  /** The signing CA; the certificate is self-signed when absent. */
  issuer?: GeneratedCertificate;
  subjectAltNames?: { dns?: string[]; ip?: string[] };
  /** Defaults to five minutes ago (tolerates clock skew). */
  notBefore?: Date;
  /** Defaults to 365 days after notBefore. */
  notAfter?: Date;
  isCa?: boolean;
}

export type Pkcs12Encryption =
  /** 3DES key bag, RC2-40 certificate bag, SHA-1 MAC: what Key Vault and Windows produce. */
  | "legacy-3des"
  /** PBES2/PBKDF2-HMAC-SHA256/AES-256-CBC, SHA-256 MAC: OpenSSL 3's default. */
  | "aes256";

export interface ToPkcs12Options {
  privateKeyPem: string;
  /**
   * Certificates to store. OpenSSL always stores the certificate matching the key first, then the
   * others in the order given here; one of them must match the key.
   */
  chainPem: string[];
  encryption: Pkcs12Encryption;
  /** Defaults to "" (no password), like Key Vault. */
  password?: string;
}

export interface ToPemBundleOptions {
  privateKeyPem: string;
  /** Certificates, written in this order. */
  chainPem: string[];
  /** Defaults to "pkcs8" ("PRIVATE KEY"); "pkcs1" writes "RSA PRIVATE KEY". */
  keyFormat?: "pkcs8" | "pkcs1";
  /** Key before the certificates (default) or after them. */
  keyFirst?: boolean;
}

const DAY_IN_MS = 24 * 60 * 60 * 1000;
const OPENSSL = "/usr/bin/openssl";

export function createCertificateAuthority(options: CreateCertificateAuthorityOptions): GeneratedCertificate {
  const notBefore = new Date(Date.now() - 5 * 60 * 1000);
  const notAfter = new Date(notBefore.getTime() + (options.validityDays ?? 3650) * DAY_IN_MS);
  return issueCertificate({ commonName: options.commonName, isCa: true, notBefore, notAfter });
}

export function issueCertificate(options: IssueCertificateOptions): GeneratedCertificate {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const privateKeyPem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const publicKeyPem = publicKey.export({ type: "spki", format: "pem" }).toString();
  const forgePublicKey = forge.pki.publicKeyFromPem(publicKeyPem);

  const notBefore = options.notBefore ?? new Date(Date.now() - 5 * 60 * 1000);
  const notAfter = options.notAfter ?? new Date(notBefore.getTime() + 365 * DAY_IN_MS);

  const certificate = forge.pki.createCertificate();
  certificate.publicKey = forgePublicKey;
  certificate.serialNumber = positiveSerialNumber();
  certificate.validity.notBefore = notBefore;
  certificate.validity.notAfter = notAfter;
  const subjectAttributes = [{ name: "commonName", value: options.commonName }];
  certificate.setSubject(subjectAttributes);

  const issuer = options.issuer;
  let signingKeyPem = privateKeyPem;
  if (issuer) {
    const issuerCertificate = forge.pki.certificateFromPem(issuer.certificatePem);
    certificate.setIssuer(issuerCertificate.subject.attributes);
    signingKeyPem = issuer.privateKeyPem;
  } else {
    certificate.setIssuer(subjectAttributes);
  }

  const isCa = options.isCa ?? false;
  const extensions: object[] = [
    { name: "basicConstraints", cA: isCa, critical: true },
    isCa
      ? { name: "keyUsage", keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true }
      : { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ];
  if (!isCa) extensions.push({ name: "extKeyUsage", serverAuth: true, clientAuth: true });
  if (issuer) {
    const issuerCertificate = forge.pki.certificateFromPem(issuer.certificatePem);
    // node-forge takes the key identifier as a binary string.
    const issuerKeyId = issuerCertificate.generateSubjectKeyIdentifier().getBytes();
    extensions.push({ name: "authorityKeyIdentifier", keyIdentifier: issuerKeyId });
  }
  const altNames: object[] = [
    ...(options.subjectAltNames?.dns ?? []).map((value) => ({ type: 2, value })),
    ...(options.subjectAltNames?.ip ?? []).map((ip) => ({ type: 7, ip })),
  ];
  if (altNames.length > 0) extensions.push({ name: "subjectAltName", altNames });
  certificate.setExtensions(extensions);

  certificate.sign(forge.pki.privateKeyFromPem(signingKeyPem), forge.md.sha256.create());

  const der = Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(certificate)).getBytes(), "binary");
  return describeCertificate(der, privateKeyPem);
}

/** Builds a GeneratedCertificate record from a DER certificate and its key. */
function describeCertificate(der: Buffer, privateKeyPem: string): GeneratedCertificate {
  const x509 = new X509Certificate(der);
  return {
    certificatePem: derToPem(der),
    certificateDerBase64: der.toString("base64"),
    privateKeyPem,
    thumbprintSha256Hex: createHash("sha256").update(der).digest("hex"),
    thumbprintSha1Hex: createHash("sha1").update(der).digest("hex"),
    subject: x509.subject.split("\n").join(", "),
    notBefore: new Date(x509.validFrom),
    notAfter: new Date(x509.validTo),
  };
}

function positiveSerialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f; // DER INTEGER must stay positive
  if (bytes[0] === 0) bytes[0] = 0x01;
  return bytes.toString("hex");
}

function derToPem(der: Buffer): string {
  const lines = der.toString("base64").match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join("\n")}\n-----END CERTIFICATE-----\n`;
}

/** A PKCS#12 (PFX) file, base64-encoded like a Key Vault secret value. */
export function toPkcs12Base64(options: ToPkcs12Options): string {
  if (options.chainPem.length === 0) throw new Error("toPkcs12Base64 needs at least one certificate");
  const directory = mkdtempSync(join(tmpdir(), "pki-p12-"));
  try {
    const keyPath = join(directory, "key.pem");
    const certificatesPath = join(directory, "certificates.pem");
    const outputPath = join(directory, "out.p12");
    writeFileSync(keyPath, options.privateKeyPem, { mode: 0o600 });
    writeFileSync(certificatesPath, options.chainPem.map(ensureTrailingNewline).join(""), { mode: 0o600 });
    const args = ["pkcs12", "-export", "-inkey", keyPath, "-in", certificatesPath, "-out", outputPath, "-passout", "env:PKI_PKCS12_PASSWORD"];
    if (options.encryption === "legacy-3des") {
      args.push("-legacy");
    } else {
      // OpenSSL 3's defaults, spelled out so that a different default in a later version cannot change them.
      args.push("-keypbe", "AES-256-CBC", "-certpbe", "AES-256-CBC", "-macalg", "sha256");
    }
    execFileSync(OPENSSL, args, {
      env: { PATH: process.env.PATH ?? "", PKI_PKCS12_PASSWORD: options.password ?? "" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    return readFileSync(outputPath).toString("base64");
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

/** Key and certificates concatenated, as Key Vault returns an `application/x-pem-file` secret. */
export function toPemBundle(options: ToPemBundleOptions): string {
  const keyFormat = options.keyFormat ?? "pkcs8";
  const keyPem = createPrivateKey(options.privateKeyPem).export({ type: keyFormat, format: "pem" }).toString();
  const certificates = options.chainPem.map(ensureTrailingNewline).join("");
  return (options.keyFirst ?? true) ? ensureTrailingNewline(keyPem) + certificates : certificates + ensureTrailingNewline(keyPem);
}

function ensureTrailingNewline(text: string): string {
  return text.endsWith("\n") ? text : `${text}\n`;
}

/**
 * Checks that a CA file holds what TLS clients need: one or more PEM
 * `CERTIFICATE` blocks, each a certificate that parses. Text between blocks
 * is allowed (bundles often carry labels there), as TLS libraries skip it.
 * Pure: the caller reads the file.
 */
import { X509Certificate } from "node:crypto";

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/** Why `text` is not a PEM file of CA certificates, or null when it is. */
export function pemCertificatesProblem(text: string): string | null {
  const blocks = [...text.matchAll(BLOCK)];
  const certificates = blocks.filter((b) => b[1] === "CERTIFICATE");
  if (certificates.length === 0) {
    const kinds = [...new Set(blocks.map((b) => b[1]))];
    return kinds.length > 0
      ? `holds no certificate, only ${kinds.map((k) => `"${k}"`).join(", ")} (expected the CA's ` +
        `-----BEGIN CERTIFICATE----- blocks)`
      : "is not a PEM file of certificates (expected -----BEGIN CERTIFICATE----- blocks)";
  }
  for (const [i, block] of certificates.entries()) {
    try {
      new X509Certificate(block[0]);
    } catch (err) {
      return `certificate ${i + 1} of ${certificates.length} does not parse (${(err as Error).message})`;
    }
  }
  return null;
}

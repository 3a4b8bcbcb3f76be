// Shared material for the identity tests: two clusters' CAs and node certificates, made
// once per test process (ECDSA key generation and signing take a few ms each), and a way
// to craft certificates our issuer would never make (a CA as leaf, a bad SAN, …).

import * as x509 from "@peculiar/x509";
import { seededRandom } from "../../../core/clock.ts";
import { newNodeId } from "../../../core/ids.ts";
import {
  type ClusterCaMaterial,
  createClusterCA,
  issueNodeCert,
} from "../../../core/identity/issue.ts";
import { generateNodeKey, loadNodeKey, type NodeKey } from "../../../core/identity/keys.ts";
import { type ClusterCa, loadClusterCa } from "../../../core/identity/verify.ts";

export interface Node {
  id: string;
  key: NodeKey;
  certPem: string;
}

export interface Fixtures {
  /** When everything was issued (real time, so the QUIC stack accepts the certs too). */
  t0: number;
  material: ClusterCaMaterial;
  ca: ClusterCa;
  a: Node;
  b: Node;
  /** Another cluster, with a node of its own. */
  otherMaterial: ClusterCaMaterial;
  otherCa: ClusterCa;
  stranger: Node;
}

function loaded(pem: string): ClusterCa {
  const r = loadClusterCa(pem);
  if (!r.ok) throw new Error(`fixture CA refused: ${r.reason} ${r.detail}`);
  return r.ca;
}

async function node(material: ClusterCaMaterial, id: string, t0: number): Promise<Node> {
  const key = await generateNodeKey();
  const certPem = await issueNodeCert(material, {
    nodeId: id,
    publicKeySpkiPem: key.publicKeySpkiPem,
    now: t0,
  });
  return { id, key, certPem };
}

let cached: Promise<Fixtures> | undefined;

export function fixtures(): Promise<Fixtures> {
  return cached ??= (async () => {
    const t0 = Date.now();
    const rnd = seededRandom(2026);
    const material = await createClusterCA(t0);
    const otherMaterial = await createClusterCA(t0);
    return {
      t0,
      material,
      ca: loaded(material.caCertPem),
      a: await node(material, newNodeId(rnd), t0),
      b: await node(material, newNodeId(rnd), t0),
      otherMaterial,
      otherCa: loaded(otherMaterial.caCertPem),
      stranger: await node(otherMaterial, newNodeId(rnd), t0),
    };
  })();
}

/** A certificate signed by `material`'s CA with whatever the test wants wrong in it. */
export async function craftCert(
  material: ClusterCaMaterial,
  o: {
    t0: number;
    sans?: x509.JsonGeneralNames;
    isCa?: boolean;
    keyUsage?: x509.KeyUsageFlags;
    subject?: string;
  },
): Promise<string> {
  const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const caCert = new x509.X509Certificate(material.caCertPem);
  const caKey = await crypto.subtle.importKey(
    "pkcs8",
    x509.PemConverter.decodeFirst(material.caKeyPkcs8Pem),
    alg,
    false,
    ["sign"],
  );
  const keys = await crypto.subtle.generateKey(alg, true, ["sign", "verify"]);
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(o.isCa ?? false, undefined, true),
    new x509.KeyUsagesExtension(o.keyUsage ?? x509.KeyUsageFlags.digitalSignature, true),
  ];
  if (o.sans) extensions.push(new x509.SubjectAlternativeNameExtension(o.sans));
  const cert = await x509.X509CertificateGenerator.create({
    subject: o.subject ?? "CN=crafted",
    issuer: caCert.subject,
    notBefore: new Date(o.t0 - 60_000),
    notAfter: new Date(o.t0 + 86_400_000),
    signingAlgorithm: alg,
    publicKey: keys.publicKey,
    signingKey: caKey,
    extensions,
  });
  return cert.toString("pem");
}

/** A node key loaded back from its PEM, as a restarted node would. */
export const reload = (n: Node): Promise<NodeKey> => loadNodeKey(n.key.privateKeyPem);

export const DAY = 86_400_000;

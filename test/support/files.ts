import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

/** Every path under `dir` with its type, mode and content hash: equal snapshots mean byte-for-byte equal trees. */
export function snapshot(dir: string): string[] {
  const out: string[] = [];
  const visit = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const p = join(dir, r);
      const s = lstatSync(p);
      if (s.isSymbolicLink()) out.push(`l ${r} -> ${readlinkSync(p)}`);
      else if (s.isDirectory()) {
        out.push(`d ${r} ${(s.mode & 0o7777).toString(8)}`);
        visit(r);
      } else out.push(`f ${r} ${(s.mode & 0o7777).toString(8)} ${fileSha256(p)}`);
    }
  };
  visit('');
  return out;
}

export function fileSha256(file: string, algo: 'sha256' | 'sha512' = 'sha256'): string {
  return createHash(algo).update(readFileSync(file)).digest('hex');
}

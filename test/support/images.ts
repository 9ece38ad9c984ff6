import type { IncomingMessage } from 'node:http';
import { create as createTar } from 'tar';
import { docker } from '../../src/core/docker.js';
import type { ImageReport } from '../../src/image/index.js';

/** One check of a validation report, by id; a missing one fails the test naming the ids there are. */
export function checkOf(r: ImageReport | undefined, id: string) {
  const c = r?.checks.find((x) => x.id === id);
  if (!c) throw new Error(`no ${id} in ${JSON.stringify(r?.checks.map((x) => x.id))}`);
  return c;
}

/**
 * An odd image built here from a few files: the tree at `root` imported (`docker import`, Dockerfile `changes`
 * applied) as `tag`. The tarball is written beside the tree (`root`.tar).
 */
export async function importTree(root: string, tag: string, changes: string[] = []): Promise<void> {
  const file = `${root}.tar`;
  await createTar({ file, cwd: root, portable: true }, ['.']);
  const [repo, t] = tag.split(':') as [string, string];
  const res = (await docker().importImage(file, { repo, tag: t, changes })) as IncomingMessage;
  let out = '';
  for await (const chunk of res) out += String(chunk);
  if (out.includes('"error"')) throw new Error(out);
}

/** Removes local images, ignoring those already gone. */
export async function removeImages(tags: string[]): Promise<void> {
  for (const tag of tags)
    await docker()
      .getImage(tag)
      .remove({ force: true })
      .catch(() => {});
}

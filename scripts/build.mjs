// Bundles the three faces into self-contained files under dist/: no node_modules needed at run time.

import { chmod, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { relative, resolve } from 'node:path';
import { build } from 'esbuild';

// `import text from './x.proto?raw'` embeds the file as a string, the same syntax vitest understands.
// Paths in the raw namespace are kept relative to the repo, so a clone elsewhere builds the same bytes
// (esbuild hashes chunk names over module paths).
const rawPlugin = {
  name: 'raw',
  setup(b) {
    b.onResolve({ filter: /\?raw$/ }, (args) => ({
      path: relative(process.cwd(), new URL(args.path.replace(/\?raw$/, ''), `file://${args.resolveDir}/`).pathname),
      namespace: 'raw',
    }));
    b.onLoad({ filter: /.*/, namespace: 'raw' }, async (args) => ({
      contents: await readFile(resolve(process.cwd(), args.path), 'utf8'),
      loader: 'text',
    }));
  },
};

// docker-modem's ssh:// transport (ssh2 and its native addons) is never used: we reach the engine over
// its Unix socket or tcp. Replacing it keeps the bundle small; an ssh DOCKER_HOST gets a clear error.
const noSsh = {
  name: 'no-ssh',
  setup(b) {
    b.onResolve({ filter: /^ssh2$/ }, () => ({ path: 'ssh2', namespace: 'no-ssh' }));
    b.onLoad({ filter: /.*/, namespace: 'no-ssh' }, () => ({
      contents:
        "module.exports = { Client: function () { throw new Error('ssh:// DOCKER_HOST is not supported: use unix:// or tcp://'); } };",
      loader: 'js',
    }));
  },
};

// Built next to dist/ and swapped in only when complete: a failed build leaves the last good dist/.
const out = 'dist.tmp';
await rm(out, { recursive: true, force: true });
await build({
  entryPoints: { main: 'src/action/main.ts', post: 'src/action/post.ts', cli: 'src/cli/main.ts' },
  outdir: out,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  minify: true,
  legalComments: 'linked',
  charset: 'utf8',
  logLevel: 'warning',
  // Some CommonJS dependencies call require() on Node built-ins; give the ESM bundle a real require.
  // CommonJS dependencies expect require, __filename and __dirname; give the ESM bundle real ones.
  banner: {
    js: [
      "import { createRequire as __cr } from 'node:module';",
      "import { fileURLToPath as __fu } from 'node:url';",
      'const require = __cr(import.meta.url);',
      'const __filename = __fu(import.meta.url);',
      "const __dirname = __fu(new URL('.', import.meta.url));",
    ].join(' '),
  },
  plugins: [rawPlugin, noSsh],
  define: { __VERSION__: JSON.stringify(JSON.parse(await readFile('package.json', 'utf8')).version) },
});

// The CLI is run directly (package.json bin): give it a shebang, deterministically.
const cli = await readFile(`${out}/cli.js`, 'utf8');
await writeFile(`${out}/cli.js`, `#!/usr/bin/env node\n${cli}`);
await chmod(`${out}/cli.js`, 0o755);
await rm('dist', { recursive: true, force: true });
await rename(out, 'dist');

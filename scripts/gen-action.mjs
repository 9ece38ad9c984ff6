// Regenerates action.yml's inputs/outputs/branding and the README's inputs/outputs table from the one schema
// (src/config/schema.ts) and the Action-only inputs. test/action/docs.test.ts fails when they drift.
// Usage: node scripts/gen-action.mjs

import { readFile, writeFile } from 'node:fs/promises';
import TOML from '@iarna/toml';
import { build } from 'esbuild';

const out = await build({
  entryPoints: ['src/action/meta.ts'],
  bundle: true,
  platform: 'node',
  format: 'esm',
  write: false,
  logLevel: 'error',
  external: ['@actions/core', '@iarna/toml'],
  loader: { '.toml': 'text' },
  plugins: [
    {
      name: 'raw',
      setup(b) {
        b.onResolve({ filter: /\?raw$/ }, (a) => ({ path: a.path, external: false, namespace: 'empty' }));
        b.onLoad({ filter: /.*/, namespace: 'empty' }, () => ({ contents: 'export default ""', loader: 'js' }));
      },
    },
  ],
});
const mod = await import(`data:text/javascript;base64,${Buffer.from(out.outputFiles[0].text).toString('base64')}`);
const { inputs, outputs, branding } = mod;

const yamlStr = (s) => JSON.stringify(s);
let yml = (await readFile('action.yml', 'utf8')).split('\ninputs:')[0].split('\nruns:')[0].trimEnd();
yml += '\ninputs:\n';
for (const i of inputs)
  yml += `  ${i.name}:\n    description: ${yamlStr(i.description)}\n    required: false\n${i.default !== undefined ? `    default: ${yamlStr(i.default)}\n` : ''}`;
yml += 'outputs:\n';
for (const o of outputs) yml += `  ${o.name}:\n    description: ${yamlStr(o.description)}\n`;
yml += 'runs:\n  using: node24\n  main: dist/main.js\n  post: dist/post.js\n  post-if: always()\n';
yml += `branding:\n  icon: ${yamlStr(branding.icon)}\n  color: ${yamlStr(branding.color)}\n`;
await writeFile('action.yml', yml);

const conf = TOML.parse(await readFile('conf/default.toml', 'utf8'));
const shown = (i) => {
  if (i.default !== undefined) return `\`${i.default}\``;
  if (!i.setting) return '';
  const [t, k] = i.setting.split('.');
  const v = k === undefined ? conf[t] : conf[t]?.[k]; // a top-level key (instance_id) has no table
  const text = Array.isArray(v) ? v.join(', ') : String(v ?? '');
  return text ? `\`${text}\`` : '';
};
const table = [
  '| Input | Default | Config key | Description |',
  '| --- | --- | --- | --- |',
  ...inputs.map(
    (i) =>
      `| \`${i.name}\` | ${shown(i)} | ${i.setting ? `\`${i.setting.includes('.') ? `[${i.setting.replace('.', '] ')}` : i.setting}\`` : ''} | ${i.description.replace(/\|/g, '\\|')} |`,
  ),
  '',
  '| Output | Description |',
  '| --- | --- |',
  ...outputs.map((o) => `| \`${o.name}\` | ${o.description.replace(/\|/g, '\\|')} |`),
].join('\n');
const readme = await readFile('README.md', 'utf8').catch(() => '');
const begin = '<!-- inputs:begin -->';
const end = '<!-- inputs:end -->';
if (readme.includes(begin)) {
  const next = `${readme.split(begin)[0]}${begin}\n${table}\n${end}${readme.split(end)[1]}`;
  await writeFile('README.md', next);
}
console.log(`action.yml: ${inputs.length} inputs, ${outputs.length} outputs`);

// Builds the web studio into web/dist: one hashed script and one hashed stylesheet
// under dist/assets/ (cached for a year by nginx), and dist/index.html naming them
// (never cached). Run by scripts/web-build; `node build.mjs`.
import * as esbuild from 'esbuild';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');
const tmp = join(here, 'dist.new');
rmSync(tmp, { recursive: true, force: true });
mkdirSync(join(tmp, 'assets'), { recursive: true });

const result = await esbuild.build({
  entryPoints: { app: join(here, 'src/main.js'), style: join(here, 'src/style.css') },
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['chrome110', 'firefox110', 'safari16'],
  outdir: join(tmp, 'assets'),
  entryNames: '[name]-[hash]',
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
});

const outputs = Object.keys(result.metafile.outputs).map((p) => basename(p));
const js = outputs.find((f) => f.startsWith('app-') && f.endsWith('.js'));
const css = outputs.find((f) => f.startsWith('style-') && f.endsWith('.css'));
const html = readFileSync(join(here, 'src/index.html'), 'utf8')
  .replace('%APP_JS%', `/assets/${js}`)
  .replace('%APP_CSS%', `/assets/${css}`);
writeFileSync(join(tmp, 'index.html'), html);
writeFileSync(join(tmp, 'assets/favicon.svg'), readFileSync(join(here, 'src/favicon.svg')));
rmSync(dist, { recursive: true, force: true });
// rename is atomic: nginx never serves half a build
(await import('node:fs')).renameSync(tmp, dist);
console.log(`web: built ${js} ${css}`);

#!/usr/bin/env node
// Lists the modules of src/ that an entry point loads: its imports of our own files followed
// transitively, type-only imports left out (they are erased). docs/architecture.md counts the
// workflow bundle's modules with it:
//   node scripts/imports.mjs src/workflows/index.ts            (this tree)
//   node scripts/imports.mjs --root /tmp/old src/workflows/index.ts   (a worktree of another commit)
import { existsSync, readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';

const args = process.argv.slice(2);
const rootAt = args.indexOf('--root');
const root = rootAt >= 0 ? resolve(args.splice(rootAt, 2)[1] ?? '.') : process.cwd();
const entry = args[0];
if (entry === undefined) {
  console.error('usage: node scripts/imports.mjs [--root DIR] ENTRY.ts');
  process.exit(2);
}

// `import … from './x.js'` and `export … from './x.js'`, but not `import type` / `export type`.
const relativeImport = /^(?:import|export)\s+(?!type\b)([^'";]*?)\s*from\s*['"](\.[^'"]+)['"]/gms;
const onlyTypes = (clause) => {
  const names = clause.match(/^\{([^}]*)\}$/s)?.[1];
  if (names === undefined) return false;
  const specifiers = names
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  return specifiers.length > 0 && specifiers.every((name) => name.startsWith('type '));
};

const seen = new Set();
const pending = [resolve(root, entry)];
while (pending.length > 0) {
  const file = pending.pop();
  if (seen.has(file)) continue;
  seen.add(file);
  for (const [, clause, specifier] of readFileSync(file, 'utf8').matchAll(relativeImport)) {
    if (onlyTypes(clause)) continue;
    const target = resolve(dirname(file), specifier).replace(/\.js$/, '.ts');
    if (existsSync(target)) pending.push(target);
  }
}
const files = [...seen].map((file) => relative(root, file)).sort();
for (const file of files) console.log(file);
console.log(`${files.length} modules`);

/**
 * Checks what the type checker cannot: the package dependency graph of DESIGN.md §1. Every `@hs/*`
 * import must be declared in the importing package's package.json, and the declared graph must have no
 * cycles, so dependencies point one way only. Also rejects relative imports that reach into another
 * package's files (the shared JSON Schemas under schemas/, and e2e/support for tests and benchmarks, excepted).
 */
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const problems: string[] = [];
const packages = new Map<string, { dir: string; deps: Set<string> }>();

for (const group of ['packages', 'apps']) {
  for (const name of fs.readdirSync(path.join(root, group))) {
    const dir = path.join(root, group, name);
    const pj = path.join(dir, 'package.json');
    if (!fs.existsSync(pj)) continue;
    const json = JSON.parse(fs.readFileSync(pj, 'utf8')) as { name: string; dependencies?: Record<string, string> };
    packages.set(json.name, { dir, deps: new Set(Object.keys(json.dependencies ?? {}).filter((d) => d.startsWith('@hs/'))) });
  }
}

function* sourceFiles(dir: string): Generator<string> {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules') continue;
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* sourceFiles(p);
    else if (p.endsWith('.ts')) yield p;
  }
}

const IMPORT = /(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;
for (const [name, pkg] of packages) {
  for (const sub of ['src', 'test', 'bench']) {
    const dir = path.join(pkg.dir, sub);
    if (!fs.existsSync(dir)) continue;
    for (const file of sourceFiles(dir)) {
      const text = fs.readFileSync(file, 'utf8');
      for (const m of text.matchAll(IMPORT)) {
        const spec = m[1] ?? m[2] ?? '';
        const rel = path.relative(root, file);
        if (spec.startsWith('@hs/')) {
          const target = spec.split('/').slice(0, 2).join('/');
          if (target !== name && !pkg.deps.has(target)) problems.push(`${rel}: imports ${target}, which ${name} does not declare in package.json`);
        } else if (spec.startsWith('.')) {
          const resolved = path.resolve(path.dirname(file), spec);
          const intoSchemas = resolved.startsWith(path.join(root, 'schemas') + path.sep);
          const intoE2eSupport = sub !== 'src' && resolved.startsWith(path.join(root, 'e2e', 'support') + path.sep);
          if (!resolved.startsWith(pkg.dir + path.sep) && !intoSchemas && !intoE2eSupport) problems.push(`${rel}: relative import ${spec} leaves the package; import it by package name`);
          if (sub === 'src' && !spec.endsWith('.ts') && !spec.endsWith('.json')) problems.push(`${rel}: relative import ${spec} needs its .ts extension`);
        }
      }
    }
  }
}

// Cycle check over the declared graph (depth-first, three colours).
const state = new Map<string, 'visiting' | 'done'>();
function visit(name: string, trail: string[]): void {
  if (state.get(name) === 'done') return;
  if (state.get(name) === 'visiting') {
    problems.push(`dependency cycle: ${[...trail.slice(trail.indexOf(name)), name].join(' → ')}`);
    return;
  }
  state.set(name, 'visiting');
  for (const dep of packages.get(name)?.deps ?? []) {
    if (!packages.has(dep)) problems.push(`${name} depends on unknown package ${dep}`);
    else visit(dep, [...trail, name]);
  }
  state.set(name, 'done');
}
for (const name of packages.keys()) visit(name, []);

if (problems.length > 0) {
  for (const p of problems) console.error(p);
  process.exit(1);
}
console.log(`lint: ${packages.size} packages, dependency graph acyclic, imports declared`);

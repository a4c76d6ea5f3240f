// There is no container engine here, so the Dockerfile is checked by reading it: its shape, that everything it
// copies exists and passes .dockerignore, that the runtime has only production dependencies (and that the
// operator's code imports nothing else), and that it agrees with the chart.
import { describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';

const ROOT = process.cwd();
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');

interface Stage {
  from: string;
  name?: string;
  lines: string[];
}

function stages(dockerfile: string): { args: Record<string, string>; stages: Stage[] } {
  const lines = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const args: Record<string, string> = {};
  const out: Stage[] = [];
  for (const line of lines) {
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?$/i.exec(line);
    if (from?.[1]) out.push({ from: from[1], name: from[2], lines: [] });
    else if (out.length === 0) {
      const arg = /^ARG\s+(\w+)=(\S+)$/.exec(line);
      if (arg?.[1] && arg[2]) args[arg[1]] = arg[2];
    } else out.at(-1)!.lines.push(line);
  }
  return { args, stages: out };
}

const { args, stages: all } = stages(read('Dockerfile'));
const final = all.at(-1)!;
const instr = (s: Stage, name: string) => s.lines.filter((l) => l.toUpperCase().startsWith(`${name} `));

describe('Dockerfile', () => {
  it('is multi-stage on a Node.js 20 base', () => {
    expect(all.length).toBeGreaterThanOrEqual(2);
    for (const s of all) {
      const image = s.from.replace(/\$\{(\w+)\}/g, (_m, k: string) => args[k] ?? '');
      expect(image).toMatch(/^node:20(\.\d+)*(-[a-z-]+)?$/);
    }
  });

  it('runs `rigshift run` as a numeric non-root user', () => {
    const [user] = instr(final, 'USER');
    const uid = Number(/^USER\s+(\d+)/.exec(user ?? '')?.[1]);
    expect(uid).toBeGreaterThan(0);
    expect(instr(final, 'ENTRYPOINT')).toEqual(['ENTRYPOINT ["node", "/app/bin/rigshift.js"]']);
    expect(instr(final, 'CMD')).toEqual(['CMD ["run"]']);
    expect(instr(final, 'RUN')).toEqual([]); // nothing installed or built in the runtime stage
  });

  it('takes node_modules only from a stage that installed production dependencies', () => {
    const from = instr(final, 'COPY')
      .map((l) => /--from=(\S+)\s+(\S+)/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null);
    const modules = from.find((m) => m[2]!.endsWith('node_modules'));
    const stage = all.find((s) => s.name === modules?.[1]);
    expect(stage).toBeDefined();
    expect(instr(stage!, 'RUN').join(' ')).toMatch(/npm ci --omit=dev/);
    // The launcher loads dist/, which the build stage compiles with the build tsconfig.
    expect(from.map((m) => `${m[1]} ${m[2]}`)).toContain('build /src/dist');
    expect(read('bin/rigshift.js')).toMatch(/'\.\.\/dist\/cli\/index\.js'/);
    expect(JSON.parse(read('tsconfig.build.json')).compilerOptions.outDir).toBe('dist');
  });

  it('copies only files that exist and that .dockerignore lets into the build context', () => {
    const allowed = read('.dockerignore')
      .split('\n')
      .filter((l) => l.startsWith('!'))
      .map((l) => l.slice(1).replace(/\/$/, ''));
    expect(read('.dockerignore')).toMatch(/^\*$/m);
    const sources = all
      .flatMap((s) => instr(s, 'COPY'))
      .filter((l) => !l.includes('--from='))
      .flatMap((l) => l.split(/\s+/).slice(1, -1));
    expect(sources.length).toBeGreaterThan(0);
    for (const src of sources) {
      expect(`${src}: ${existsSync(join(ROOT, src))}`).toBe(`${src}: true`);
      expect(allowed).toContain(src.split('/')[0]);
    }
  });

  it("matches the chart: the chart's user and metrics port", () => {
    const values = yaml.load(read('helm/rigshift/values.yaml')) as {
      podSecurityContext: { runAsUser: number; runAsGroup: number };
      operator: { metricsPort: number };
    };
    expect(instr(final, 'USER')).toEqual([
      `USER ${values.podSecurityContext.runAsUser}:${values.podSecurityContext.runAsGroup}`,
    ]);
    expect(instr(final, 'EXPOSE')).toEqual([`EXPOSE ${values.operator.metricsPort}`]);
  });
});

describe('the operator code', () => {
  const pkg = JSON.parse(read('package.json')) as {
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
  };

  function sources(dir: string): string[] {
    return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
    );
  }

  it('imports at run time only production dependencies (what the image has)', () => {
    const used = new Map<string, string>();
    for (const file of sources('src')) {
      const text = read(file);
      // Value imports and dynamic imports; `import type` vanishes at compile time.
      const re =
        /(?:^import\s+(?!type\s)[^'"]*?from\s+|^export\s+[^'"]*?from\s+|import\()\s*'([^'.][^']*)'/gm;
      for (const m of text.matchAll(re)) {
        const spec = m[1]!;
        if (spec.startsWith('node:')) continue;
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
        used.set(name, file);
      }
    }
    expect(used.size).toBeGreaterThan(0);
    const missing = [...used].filter(([name]) => !pkg.dependencies[name]).map(([n, f]) => `${n} (${f})`);
    expect(missing).toEqual([]);
  });
});

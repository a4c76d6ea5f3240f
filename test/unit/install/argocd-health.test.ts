// The Argo CD health checks (deploy/argocd/health/<group>/<kind>/health.lua) run in a Lua VM with the
// libraries Argo CD opens (base, table, string, math), on every case of their health_test.yaml; the inputs
// are real objects of the rigshift API, and argocd-cm-patch.yaml carries the scripts unchanged.
import { describe, expect, it } from '@jest/globals';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { lauxlib, lua, lualib, to_luastring, type LuaState } from 'fengari';
import { parseFleetPolicy, parseMiningPool, parseTrainingJob } from '../../../src/api/v1alpha1/index.js';

const HEALTH = join(process.cwd(), 'deploy', 'argocd', 'health', 'rigshift.io');

interface Health {
  status: string;
  message: string;
}

function push(L: LuaState, v: unknown): void {
  if (v === null || v === undefined) lua.lua_pushnil(L);
  else if (typeof v === 'boolean') lua.lua_pushboolean(L, v);
  // Argo CD's Lua prints whole numbers without a fraction; so do Lua integers.
  else if (typeof v === 'number') (Number.isInteger(v) ? lua.lua_pushinteger : lua.lua_pushnumber)(L, v);
  else if (typeof v === 'string') lua.lua_pushstring(L, to_luastring(v));
  else if (Array.isArray(v)) {
    lua.lua_createtable(L, v.length, 0);
    v.forEach((item, i) => {
      push(L, item);
      lua.lua_rawseti(L, -2, i + 1);
    });
  } else if (typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>);
    lua.lua_createtable(L, 0, entries.length);
    for (const [k, item] of entries) {
      push(L, item);
      lua.lua_setfield(L, -2, to_luastring(k));
    }
  } else throw new Error(`cannot pass ${typeof v} to Lua`);
}

/** Runs a health script on an object as Argo CD does: a global `obj`, a returned table {status, message}. */
function runHealth(script: string, obj: unknown): Health {
  const L = lauxlib.luaL_newstate();
  try {
    for (const [name, open] of [
      ['_G', lualib.luaopen_base],
      ['table', lualib.luaopen_table],
      ['string', lualib.luaopen_string],
      ['math', lualib.luaopen_math],
    ] as const) {
      lauxlib.luaL_requiref(L, to_luastring(name), open, 1);
      lua.lua_pop(L, 1);
    }
    push(L, obj);
    lua.lua_setglobal(L, to_luastring('obj'));
    if (lauxlib.luaL_loadstring(L, to_luastring(script)) !== lua.LUA_OK) {
      throw new Error(`Lua syntax error: ${lua.lua_tojsstring(L, -1)}`);
    }
    if (lua.lua_pcall(L, 0, 1, 0) !== lua.LUA_OK) throw new Error(`Lua error: ${lua.lua_tojsstring(L, -1)}`);
    if (lua.lua_type(L, -1) !== lua.LUA_TTABLE) throw new Error('the script did not return a table');
    const field = (k: string) => {
      lua.lua_getfield(L, -1, to_luastring(k));
      const s = lua.lua_type(L, -1) === lua.LUA_TNIL ? '' : lua.lua_tojsstring(L, -1);
      lua.lua_pop(L, 1);
      return s;
    };
    return { status: field('status'), message: field('message') };
  } finally {
    lua.lua_close(L);
  }
}

const parsers: Record<string, (o: unknown) => { ok: boolean; error?: string }> = {
  TrainingJob: parseTrainingJob,
  MiningPool: parseMiningPool,
  FleetPolicy: parseFleetPolicy,
};

const kinds = readdirSync(HEALTH).sort();

it('has a health check for every rigshift kind', () => {
  expect(kinds).toEqual(Object.keys(parsers).sort());
});

describe.each(kinds)('%s health.lua', (kind) => {
  const dir = join(HEALTH, kind);
  const script = readFileSync(join(dir, 'health.lua'), 'utf8');
  const { tests } = yaml.load(readFileSync(join(dir, 'health_test.yaml'), 'utf8')) as {
    tests: { healthStatus: Health; inputPath: string }[];
  };

  it('has test cases for every file in testdata/, and only those', () => {
    const inputs = tests.map((t) => t.inputPath).sort();
    expect(inputs).toEqual(
      readdirSync(join(dir, 'testdata'))
        .map((f) => `testdata/${f}`)
        .sort(),
    );
  });

  it('sticks to Lua 5.1 (Argo CD runs gopher-lua): no integer division, goto or bitwise operators', () => {
    const code = script
      .split('\n')
      .map((l) => l.replace(/--.*$/, '').replace(/"[^"]*"/g, '""'))
      .join('\n');
    expect(code).not.toMatch(/\/\/|\bgoto\b|<<|>>|[^~]~[^=]|[&|]/);
  });

  it.each(tests.map((t) => [t.inputPath, t] as const))('%s', (_path, t) => {
    const obj = yaml.load(readFileSync(join(dir, t.inputPath), 'utf8'));
    const parsed = parsers[kind]!(obj);
    if (!parsed.ok) throw new Error(`${t.inputPath} is not a valid ${kind}: ${parsed.error}`);
    expect(runHealth(script, obj)).toEqual(t.healthStatus);
  });
});

describe('argocd-cm-patch.yaml', () => {
  const cm = yaml.load(
    readFileSync(join(process.cwd(), 'deploy', 'argocd', 'argocd-cm-patch.yaml'), 'utf8'),
  ) as { metadata: { name: string }; data: Record<string, string> };

  it('patches argocd-cm with each script as it is in its .lua file', () => {
    expect(cm.metadata.name).toBe('argocd-cm');
    expect(cm.data).toEqual(
      Object.fromEntries(
        kinds.map((k) => [
          `resource.customizations.health.rigshift.io_${k}`,
          readFileSync(join(HEALTH, k, 'health.lua'), 'utf8'),
        ]),
      ),
    );
  });

  it('reports a script error instead of a health (the runner itself can fail)', () => {
    expect(() => runHealth('return obj.status.missing.field', {})).toThrow(/Lua error/);
  });
});

// The few parts of fengari (a Lua 5.3 VM in JavaScript, no types published) the health check tests use.
declare module 'fengari' {
  export type LuaState = { readonly __lua: unique symbol };
  type Open = (L: LuaState) => number;
  export function to_luastring(s: string): Uint8Array;
  export function to_jsstring(s: Uint8Array): string;
  export const lua: {
    LUA_OK: number;
    LUA_TTABLE: number;
    LUA_TNIL: number;
    lua_pushnil(L: LuaState): void;
    lua_pushboolean(L: LuaState, b: boolean): void;
    lua_pushinteger(L: LuaState, n: number): void;
    lua_pushnumber(L: LuaState, n: number): void;
    lua_pushstring(L: LuaState, s: Uint8Array): void;
    lua_createtable(L: LuaState, narr: number, nrec: number): void;
    lua_rawseti(L: LuaState, idx: number, n: number): void;
    lua_setfield(L: LuaState, idx: number, k: Uint8Array): void;
    lua_getfield(L: LuaState, idx: number, k: Uint8Array): number;
    lua_setglobal(L: LuaState, name: Uint8Array): void;
    lua_pcall(L: LuaState, nargs: number, nresults: number, msgh: number): number;
    lua_type(L: LuaState, idx: number): number;
    lua_tojsstring(L: LuaState, idx: number): string;
    lua_pop(L: LuaState, n: number): void;
    lua_close(L: LuaState): void;
  };
  export const lauxlib: {
    luaL_newstate(): LuaState;
    luaL_loadstring(L: LuaState, s: Uint8Array): number;
    luaL_requiref(L: LuaState, name: Uint8Array, open: Open, glb: number): void;
  };
  export const lualib: {
    luaopen_base: Open;
    luaopen_table: Open;
    luaopen_string: Open;
    luaopen_math: Open;
  };
}

// Redis Lua scripts live as .lua files in state/lua/, next to the state modules that run them; each module loads its
// scripts once, at module load. The path is resolved from this file's URL, so loading works from any working directory.
import { readFileSync } from 'node:fs';

/** The text of state/lua/<name>.lua. */
export function luaScript(name: string): string {
  return readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), 'utf8');
}

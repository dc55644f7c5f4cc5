// Loading a recipe file: compile and import it, check it against the schema and its profile against
// the profile schema, and report every problem at once before any work starts.
import { existsSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { build } from 'esbuild';
import { UserError } from '../common/errors.ts';
import { keyProblems } from '../embed/settings.ts';
import { validateProfile } from '../profile/validate.ts';
import { missingSources } from './features.ts';
import { checkRecipe, type Recipe } from './recipe.ts';

/** Checks a recipe object; throws a UserError listing every error (recipe and baked-in profile). */
export function checkRecipeValue(value: unknown, source: string): Recipe {
  const checked = checkRecipe(value);
  if (!checked.ok) throw new UserError(`${source}: invalid recipe:\n${checked.errors.map((e) => `  ${e}`).join('\n')}`);
  const unpinned = missingSources(checked.value.features, checked.value.sources);
  if (unpinned.length) throw new UserError(`${source}: invalid recipe:\n${unpinned.map((e) => `  ${e}`).join('\n')}`);
  const profile = validateProfile(checked.value.profile);
  if (!profile.ok) {
    throw new UserError(`${source}: invalid recipe:\n${profile.errors.map((e) => `  recipe.profile${e.startsWith('profile') ? e.slice('profile'.length) : ': ' + e}`).join('\n')}`);
  }
  const keys = checked.value.authorized_keys === undefined ? [] : keyProblems(checked.value.authorized_keys, 'recipe.authorized_keys');
  if (keys.length) throw new UserError(`${source}: invalid recipe:\n${keys.map((e) => `  ${e}`).join('\n')}`);
  return checked.value;
}

/**
 * A recipe file (TypeScript or JavaScript) and what it imports as one ES module in a data: URL.
 * esbuild compiles it, so the installed command (plain JavaScript, no tsx) reads recipes too.
 */
async function compileRecipe(file: string): Promise<string> {
  const result = await build({ entryPoints: [file], bundle: true, platform: 'node', format: 'esm', write: false, logLevel: 'silent' }).catch((e: unknown) => {
    const errors = (e as { errors?: { text: string; location?: { file: string; line: number } | null }[] }).errors ?? [];
    if (!errors.length) throw e;
    throw new UserError(`${file}: cannot compile the recipe:\n${errors.map((m) => `  ${m.location ? `${m.location.file}:${m.location.line}: ` : ''}${m.text}`).join('\n')}`);
  });
  return `data:text/javascript;base64,${Buffer.from(result.outputFiles[0]!.contents).toString('base64')}`;
}

/** Imports a recipe file (its default export) and checks it; the lock file sits beside it. */
export async function loadRecipe(path: string): Promise<{ recipe: Recipe; lockFile: string }> {
  const file = resolve(path);
  if (!existsSync(file)) throw new UserError(`recipe ${path} does not exist (recipes live in recipes/, e.g. recipes/default.ts)`);
  const mod = (await import(await compileRecipe(file))) as { default?: unknown };
  if (mod.default === undefined) throw new UserError(`${path}: no default export; a recipe file does \`export default defineRecipe({...})\``);
  const recipe = checkRecipeValue(mod.default, basename(path));
  return { recipe, lockFile: file.replace(/\.[cm]?[jt]s$/, '') + '.lock.json' };
}

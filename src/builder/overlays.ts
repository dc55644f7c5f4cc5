// The overlays folder laid over the image: plain files as they are, *.hbs rendered with handlebars.
import { readFile } from 'node:fs/promises';
import Handlebars from 'handlebars';
import { treeEntries } from './tree.ts';
import type { Entry } from './types.ts';

/** Entries for every file under dir; a template's output drops the .hbs and keeps the template's mode. */
export async function overlayEntries(dir: string, context: Record<string, unknown>): Promise<Entry[]> {
  const entries = await treeEntries(dir, () => true);
  return Promise.all(
    entries.map(async (e): Promise<Entry> => {
      if (e.type !== 'file' || !e.path.endsWith('.hbs') || !('source' in e)) return e;
      const template = Handlebars.compile(await readFile(e.source, 'utf8'), { noEscape: true, strict: true });
      return { type: 'file', path: e.path.slice(0, -'.hbs'.length), mode: e.mode, data: Buffer.from(template(context)) };
    }),
  );
}

// The profile editor: checks the JSON as the user types with the validation the build and
// `picowire profile check` use (src/profile/validate.ts, its ajv validator compiled ahead of time,
// so no ajv in the page), lists each error at the line of its field, and sends a clean profile.
import { validateProfile } from '../profile/validate.ts';
import { el } from './dom.ts';
import { errorField, fieldOffsets, lineOf } from './jsonpos.ts';

/** What the editor says about its text: nothing wrong (the profile), or each error with its line. */
export type EditorCheck = { ok: true; profile: unknown } | { ok: false; errors: { line: number; field: string; text: string }[] };

/** Checks the editor's text: JSON first (with where it broke), then the profile. */
export function checkText(text: string): EditorCheck {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const message = (e as Error).message;
    const at = /position (\d+)/.exec(message);
    const line = /line (\d+)/.exec(message);
    return { ok: false, errors: [{ line: at ? lineOf(text, Number(at[1])) : line ? Number(line[1]) : 1, field: 'JSON', text: `not JSON: ${message}` }] };
  }
  const checked = validateProfile(value);
  if (checked.ok) return { ok: true, profile: value };
  return { ok: false, errors: placed(text, checked.errors) };
}

/** Error lines (the page's or the box's) with the line of the field each names. */
export function placed(text: string, errors: string[]): { line: number; field: string; text: string }[] {
  const offsets = fieldOffsets(text);
  return errors.map((error) => {
    const field = errorField(error, offsets);
    return { line: lineOf(text, offsets.get(field) ?? 0), field, text: error };
  });
}

/** Shows errors in a list, each naming its line and field; a click puts the cursor there. */
export function showErrors(list: HTMLElement, editor: HTMLTextAreaElement, errors: { line: number; field: string; text: string }[]): void {
  list.replaceChildren(
    ...errors.map((e) =>
      el(
        'li',
        { 'data-field': e.field, 'data-line': e.line },
        el('button', { type: 'button', class: 'at', onclick: () => goToLine(editor, e.line) }, `line ${e.line}`),
        ' ',
        e.text,
      ),
    ),
  );
  editor.setAttribute('aria-invalid', String(errors.length > 0));
  const lines = new Set(errors.map((e) => e.line));
  editor.dataset.errorLines = [...lines].join(',');
}

/** Selects a line of the editor and scrolls to it. */
function goToLine(editor: HTMLTextAreaElement, line: number): void {
  const lines = editor.value.split('\n');
  const start = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0);
  editor.focus();
  editor.setSelectionRange(start, start + (lines[line - 1]?.length ?? 0));
  const lineHeight = editor.scrollHeight / Math.max(lines.length, 1);
  editor.scrollTop = Math.max(0, (line - 3) * lineHeight);
}

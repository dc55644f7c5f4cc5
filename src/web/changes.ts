// The page's changes to the box: the editor's profile (checked as typed), presets and ipfw
// commands. Each answer is said under the editor; a refusal lists the box's errors, at their fields
// where they name one, and says which profile stays in force.
import { call } from './api.ts';
import { byId, el } from './dom.ts';
import { checkText, placed, showErrors } from './editor.ts';
import type { Preset } from './presets.ts';

export interface ChangeHandlers {
  /** the name of the profile in force now */
  inForceName(): string;
  /** the box took a change: reload what is in force */
  applied(): Promise<unknown>;
  /** the box refused the token */
  refused(errors: string[]): void;
}

const editor = () => byId<HTMLTextAreaElement>('editor');
const outcome = () => byId('outcome');

/** Checks the editor's text as it is typed; Apply is only possible for a valid profile. */
export function checkEditor(): void {
  const checked = checkText(editor().value);
  showErrors(byId('editor-errors'), editor(), checked.ok ? [] : checked.errors);
  byId<HTMLButtonElement>('apply').disabled = !checked.ok;
}

/** Says how a change went under the editor: refused ones list the box's errors. */
export function say(ok: boolean, line: string, errors: string[] = []): void {
  outcome().className = ok ? 'ok' : 'refused';
  outcome().replaceChildren(el('p', {}, line), ...(errors.length ? [el('ul', { id: 'box-errors' }, ...errors.map((e) => el('li', {}, e)))] : []));
}

/** Sends a change and says what the box answered; true when it is in force. */
async function send(on: ChangeHandlers, method: string, path: string, body: { type: string; text: string }): Promise<boolean> {
  const was = on.inForceName();
  say(true, 'applying…');
  const answer = await call(method, path, body);
  if (answer.status === 401) return on.refused(answer.errors), false;
  if (!answer.ok) {
    say(false, `refused (${answer.status}): ${was} stays in force`, answer.errors);
    if (body.type === 'application/json') showErrors(byId('editor-errors'), editor(), placed(editor().value, answer.errors));
    return false;
  }
  const applied = answer.body as { applied: string; ms: number; profile: unknown };
  say(true, `applied ${applied.applied} in ${applied.ms} ms`);
  editor().value = JSON.stringify(applied.profile, null, 2);
  checkEditor();
  await on.applied();
  return true;
}

/** PUTs the editor's profile. */
export async function applyEditor(on: ChangeHandlers): Promise<void> {
  await send(on, 'PUT', '/api/v1/profile', { type: 'application/json', text: editor().value });
}

/** Applies a preset in one click: a profile by PUT (shown in the editor), the seed's ipfw text by POST. */
export async function applyPreset(on: ChangeHandlers, preset: Preset): Promise<void> {
  if (!preset.profile) return void (await send(on, 'POST', '/api/v1/ipfw?replace=1', { type: 'text/plain', text: preset.ipfw! }));
  editor().value = JSON.stringify(preset.profile, null, 2);
  checkEditor();
  await applyEditor(on);
}

/** Runs one ipfw command line against the profile in force, or a listing, and logs the answer:
 *  `show` and `pipe|queue|sched show` as FreeBSD prints them, `list` the profile as ipfw commands, as `picowire ipfw` on the box. */
export async function runIpfw(on: ChangeHandlers, line: string): Promise<void> {
  const command = line.trim().replace(/^ipfw\s+/, '');
  if (!command) return;
  const log = byId('ipfw-log');
  // dummynet's listings as FreeBSD prints them: [pipe|queue|sched] show [N...] (also after dnctl)
  const listing = /^(?:dnctl\s+)?(?:(pipe|queue|sched)\s+((?:\d+\s+)*)(?:show|list)|show)((?:\s+\d+)*)$/.exec(command);
  if (command === 'list') {
    const answer = await call('GET', '/api/v1/ipfw');
    log.append(el('pre', { class: answer.ok ? 'ok' : 'refused' }, `> ipfw ${command}\n${answer.ok ? String(answer.body) : answer.errors.join('\n')}`));
  } else if (listing) {
    const numbers = `${listing[2] ?? ''} ${listing[3]}`.trim().split(/\s+/).filter((n) => n !== '');
    const answer = await call('GET', `/api/v1/ipfw/show?what=${listing[1] ?? 'rules'}${numbers.length ? `&numbers=${numbers.join(',')}` : ''}`);
    log.append(el('pre', { class: answer.ok ? 'ok' : 'refused' }, `> ${line.trim()}\n${answer.ok ? String(answer.body) : answer.errors.join('\n')}`));
  } else {
    const ok = await send(on, 'POST', '/api/v1/ipfw', { type: 'text/plain', text: command });
    log.append(el('pre', { class: ok ? 'ok' : 'refused' }, `> ipfw ${command}\n${outcome().innerText}`));
  }
  log.scrollTop = log.scrollHeight;
}

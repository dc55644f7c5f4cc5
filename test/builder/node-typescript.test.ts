// Blanking a builtin of the Node binary (node.typescript: false): in place, the same length, only
// where the source is stored once; and the real binary gives its amaro source to be found.
import test from 'ava';
import { AMARO, builtinSource, withBlankedSource } from '../../src/builder/node-typescript.ts';

test('the builtin is overwritten in place by a throwing line and spaces, the rest untouched', (t) => {
  const source = Buffer.from('module.exports = function strip(code) { return code; };'.repeat(4));
  const elf = Buffer.concat([Buffer.from('\x7fELF-before-'), source, Buffer.from('-after')]);
  const out = withBlankedSource(elf, source, AMARO);
  t.is(out.length, elf.length);
  const blanked = out.subarray(12, 12 + source.length).toString('latin1');
  t.regex(blanked, /^throw new Error\('this Node\.js has no TypeScript support: the picowire recipe removed amaro'\); +$/);
  t.is(out.subarray(0, 12).toString('latin1'), '\x7fELF-before-');
  t.is(out.subarray(12 + source.length).toString('latin1'), '-after');
  t.is(elf.indexOf(source), 12, 'the input is not changed');
});

test('a source stored nowhere or twice is refused, naming the builtin and the way out', (t) => {
  const source = Buffer.from('strip types here');
  t.throws(() => withBlankedSource(Buffer.from('nothing of it'), source, AMARO), { message: /builtin internal\/deps\/amaro\/dist\/index is stored nowhere .*set node\.typescript to true/ });
  t.throws(() => withBlankedSource(Buffer.concat([source, source]), source, AMARO), { message: /stored more than once/ });
});

test('the running node gives the source of a builtin it has, and refuses one it lacks', async (t) => {
  const events = await builtinSource(process.execPath, 'events');
  t.regex(events.toString('latin1'), /EventEmitter/);
  await t.throwsAsync(builtinSource(process.execPath, 'internal/deps/no-such-thing'), { message: /no builtin internal\/deps\/no-such-thing to remove/ });
});

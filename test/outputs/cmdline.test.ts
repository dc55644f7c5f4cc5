import test from 'ava';
import { UserError } from '../../src/common/errors.ts';
import { CONSOLES, grubCmdline, grubWord, kernelCmdline, splitCmdline } from '../../src/outputs/cmdline.ts';

test('the consoles on screen and on the first serial port come first, the serial one last of them', (t) => {
  t.is(kernelCmdline('quiet picowire.debug=1'), 'console=tty0 console=ttyS0,115200 quiet picowire.debug=1');
  t.is(kernelCmdline(''), CONSOLES);
});

test('a recipe that names its own console keeps it and gets no other', (t) => {
  t.is(kernelCmdline('console=ttyS1,9600 quiet'), 'console=ttyS1,9600 quiet');
});

test('a command line with a newline is a user error that says what is allowed', (t) => {
  const error = t.throws(() => kernelCmdline('quiet\ninit=/bin/sh'), { instanceOf: UserError });
  t.regex(error!.message, /control character.*allowed: one line/);
});

test('parameters are split at spaces, with double-quoted values kept whole', (t) => {
  t.deepEqual(splitCmdline(' a  b="c d" e '), ['a', 'b="c d"', 'e']);
});

test('plain parameters reach GRUB unquoted and the rest single-quoted, so $ and ; are not GRUB syntax', (t) => {
  t.is(grubWord('console=ttyS0,115200'), 'console=ttyS0,115200');
  t.is(grubWord('x=$y;z'), `'x=$y;z'`);
  t.is(grubWord(`it's`), `'it'\\''s'`);
  t.is(grubCmdline('quiet msg="a b"'), `quiet 'msg="a b"'`);
});

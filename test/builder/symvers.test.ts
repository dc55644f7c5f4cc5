// A program built on the host is checked against the image's libraries' symbol versions.
import test from 'ava';
import { UserError } from '../../src/common/errors.ts';
import { checkSymbolVersions } from '../../src/builder/symvers.ts';

const LS = { path: '/bin/ls', file: '/bin/ls' };

test('a program whose libc defines every version it needs passes', async (t) => {
  await t.notThrowsAsync(checkSymbolVersions([LS], [{ path: '/lib/x86_64-linux-gnu/libc.so.6', file: '/lib/x86_64-linux-gnu/libc.so.6' }]));
});

test('a library that lacks the versions a program needs is refused, naming the program, the versions and the library', async (t) => {
  // zlib stands in for an older libc: it defines ZLIB_* versions, none of the GLIBC_* ones ls needs
  const error = await t.throwsAsync(checkSymbolVersions([LS], [{ path: '/lib/x86_64-linux-gnu/libc.so.6', file: '/lib/x86_64-linux-gnu/libz.so.1' }]), { instanceOf: UserError });
  t.regex(error!.message, /^programs built on this machine would not run on the image:\n {2}\/bin\/ls needs GLIBC_[\d.]+(, GLIBC_[\d.]+)* from libc\.so\.6, which the image's \/lib\/x86_64-linux-gnu\/libc\.so\.6 does not define\n/);
  t.regex(error!.message, /GLIBC_2\.2\.5/);
});

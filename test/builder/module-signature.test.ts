import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { withoutSignature } from '../../src/builder/module-signature.ts';

const MAGIC = '~Module signature appended~\n';
const elf = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46]), Buffer.from('the module itself')]);

/** A module signed as the kernel's sign-file lays it out: the module, the signature, its 12-byte header, the magic. */
function signed(module: Buffer, signature: Buffer, length = signature.length): Buffer {
  const info = Buffer.alloc(12);
  info.writeUInt8(2, 2); // id_type PKCS#7
  info.writeUInt32BE(length, 8);
  return Buffer.concat([module, signature, info, Buffer.from(MAGIC)]);
}

test('the appended signature, its header and magic are cut off; the module before them is kept byte for byte', (t) => {
  t.deepEqual(withoutSignature(signed(elf, Buffer.alloc(300, 0xab))), elf);
});

test('a module without a signature comes back as it is', (t) => {
  t.is(withoutSignature(elf), elf);
});

test('a signature header whose length leaves no ELF module before it is an error naming the module', (t) => {
  t.throws(() => withoutSignature(signed(elf, Buffer.alloc(10), 1000), 'kernel/net/bridge/bridge.ko'), {
    message: 'kernel/net/bridge/bridge.ko: its signature header gives a signature length of 1000 bytes, which leaves no ELF module before it',
  });
});

// Debian's own modules, where an earlier build unpacked the kernel package into the cache
const unpacked = join(homedir(), '.cache/picowire/unpacked');
const bridge = existsSync(unpacked)
  ? readdirSync(unpacked)
      .map((d) => join(unpacked, d, 'lib/modules'))
      .filter(existsSync)
      .flatMap((m) => readdirSync(m).map((r) => join(m, r, 'kernel/net/bridge/bridge.ko')))
      .find(existsSync)
  : undefined;

test('a module of Debian\'s kernel package loses its signature and nothing else', async (t) => {
  if (!bridge) {
    t.log(`no unpacked Debian kernel under ${unpacked} (make builds one first): checked on made-up modules only`);
    t.pass();
    return;
  }
  const ko = await readFile(bridge);
  t.is(ko.subarray(ko.length - MAGIC.length).toString(), MAGIC, 'Debian signs its modules');
  const bare = withoutSignature(ko, bridge);
  t.true(bare.length < ko.length - 100 && bare.length > ko.length / 2);
  t.deepEqual(bare, ko.subarray(0, bare.length));
  // what is left ends where the ELF's section headers end, as the linker wrote it
  const shoff = Number(bare.readBigUInt64LE(0x28));
  const shentsize = bare.readUInt16LE(0x3a);
  const shnum = bare.readUInt16LE(0x3c);
  t.is(bare.length, shoff + shentsize * shnum);
});

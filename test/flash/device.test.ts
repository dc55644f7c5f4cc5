// Which devices flash may write, judged from what lsblk and /sys say of them: the kinds of disk a
// test cannot make on this machine (USB sticks, SATA disks, partitions, RAID members).
import test from 'ava';
import { describe, refusals, type BlockDevice } from '../../src/flash/device.ts';

const GB = 1e9;
const stick: BlockDevice = { name: 'sdb', path: '/dev/sdb', type: 'disk', rm: true, hotplug: true, size: 16 * GB, model: 'Ultra', vendor: 'SanDisk ', tran: 'usb', ro: false, mountpoints: [null], pkname: null };
const free = { holders: [], systemDisks: ['vda'] };
const IMAGE = 40e6;

test('a removable USB stick, unmounted and large enough, may be written; it is shown by vendor, model, size and bus', (t) => {
  t.deepEqual(refusals(stick, free, IMAGE), []);
  t.is(describe(stick), '/dev/sdb: SanDisk Ultra, 16.0 GB, usb, removable');
});

test('a USB disk that says it is not removable but is hotplug is a stick all the same', (t) => {
  t.deepEqual(refusals({ ...stick, rm: false }, free, IMAGE), []);
});

test('a fixed SATA disk is refused as not removable', (t) => {
  t.deepEqual(refusals({ ...stick, rm: false, hotplug: false, tran: 'sata' }, free, IMAGE), ['/dev/sdb is a fixed disk, not a removable one (USB stick, SD card)']);
});

test('a partition is refused, naming the whole disk', (t) => {
  const part = { ...stick, name: 'sdb1', path: '/dev/sdb1', type: 'part', pkname: 'sdb' };
  t.deepEqual(refusals(part, free, IMAGE), ['/dev/sdb1 is a partition of /dev/sdb; give the whole disk (/dev/sdb)']);
});

test('a stick with a mounted partition, a RAID member and a read-only card are refused, each saying why', (t) => {
  const mounted = { ...stick, children: [{ ...stick, name: 'sdb1', path: '/dev/sdb1', type: 'part', mountpoints: ['/media/usb'], pkname: 'sdb' }] };
  t.deepEqual(refusals(mounted, free, IMAGE), ['/dev/sdb is mounted (/dev/sdb1 at /media/usb); unmount it first']);
  t.deepEqual(refusals(stick, { ...free, holders: ['md0'] }, IMAGE), ['/dev/sdb is in use by /dev/md0 (RAID, LVM or encryption)']);
  t.deepEqual(refusals({ ...stick, ro: true }, free, IMAGE), ['/dev/sdb is read-only (a locked SD card?)']);
});

test('every reason is given at once: the system disk that is also fixed, mounted and too small', (t) => {
  const vda: BlockDevice = { ...stick, name: 'vda', path: '/dev/vda', rm: false, hotplug: false, tran: null, size: 1e6, mountpoints: ['/'] };
  t.is(refusals(vda, free, IMAGE).length, 4);
});

test('a CD drive is not a disk', (t) => {
  t.deepEqual(refusals({ ...stick, name: 'sr0', path: '/dev/sr0', type: 'rom' }, free, IMAGE), ['/dev/sr0 is a rom device, not a disk']);
});

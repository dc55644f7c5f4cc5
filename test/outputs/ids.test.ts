import test from 'ava';
import { isoTimestamp, isoVolumeId, stableGuid, stableSerial } from '../../src/outputs/ids.ts';

const seed = { name: 'default', epoch: 1_700_000_000 };

test('a GUID is the same for the same name, epoch and role, and is an RFC 4122 version 4 GUID', (t) => {
  const guid = stableGuid(seed, 'disk');
  t.is(guid, stableGuid({ ...seed }, 'disk'));
  t.regex(guid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
});

test('GUIDs differ between roles, epochs and recipe names', (t) => {
  const guids = new Set([stableGuid(seed, 'disk'), stableGuid(seed, 'esp'), stableGuid({ ...seed, epoch: 1 }, 'disk'), stableGuid({ ...seed, name: 'other' }, 'disk')]);
  t.is(guids.size, 4);
});

test('a FAT serial is 8 hex digits, as mkfs.fat -i takes it', (t) => {
  t.regex(stableSerial(seed, 'config'), /^[0-9a-f]{8}$/);
  t.not(stableSerial(seed, 'config'), stableSerial(seed, 'esp'));
});

test('the ISO volume id uses only ISO 9660 d-characters and at most 32 of them', (t) => {
  t.is(isoVolumeId('my-lab'), 'PICOWIRE_MY_LAB');
  t.is(isoVolumeId('a'.repeat(32)).length, 32);
});

test('the ISO timestamp is the epoch in UTC as YYYYMMDDhhmmsscc', (t) => {
  t.is(isoTimestamp(1_700_000_000), '2023111422132000');
});

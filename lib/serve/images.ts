// image_url parts → image bytes for the model worker. `data:` URLs are always accepted; local
// files (`file://` URLs or paths, DICOM included) only under the directory the operator allowed,
// checked after resolving symbolic links; remote URLs are never fetched.
import { readFile, realpath } from 'node:fs/promises';
import { isAbsolute, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiError } from './errors.js';

export async function resolveImageUrl(url: string, param: string, allowedDir: string | undefined): Promise<Buffer> {
  if (url.startsWith('data:')) {
    const comma = url.indexOf(',');
    if (comma < 0) throw new ApiError(`'${param}': a data URL needs a ',' before its payload`, param);
    const header = url.slice(5, comma), payload = url.slice(comma + 1);
    const bytes = header.endsWith(';base64') ? Buffer.from(payload, 'base64') : Buffer.from(decodeURIComponent(payload), 'latin1');
    if (!bytes.length) throw new ApiError(`'${param}': the data URL is empty`, param);
    return bytes;
  }
  if (/^https?:/i.test(url)) throw new ApiError(`'${param}': remote image URLs are not fetched by this server; send the image as a data: URL`, param);
  if (!allowedDir) {
    throw new ApiError(`'${param}': local image paths are disabled on this server (start it with --allow-images DIR), send a data: URL`, param);
  }
  let path: string;
  try {
    path = url.startsWith('file:') ? fileURLToPath(url) : url;
  } catch {
    throw new ApiError(`'${param}': not a valid file URL`, param);
  }
  const root = await realpath(allowedDir);
  let real: string;
  try {
    real = await realpath(isAbsolute(path) ? path : resolve(root, path));
  } catch {
    throw new ApiError(`'${param}': no such file under the allowed image directory`, param);
  }
  if (real !== root && !real.startsWith(root + sep)) throw new ApiError(`'${param}': the file is outside the allowed image directory`, param);
  try {
    return await readFile(real);
  } catch (e) {
    throw new ApiError(`'${param}': cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, param);
  }
}

import { optionalNative } from './binding.js';

/**
 * Returns the C heap's free pages to the kernel (glibc `malloc_trim(0)`). glibc keeps memory freed
 * in the middle of its heap mapped: after a burst (a bulk transfer's read buffers, TLS and HTTP/2
 * buffers) a proxy's resident size stays at the burst's high-water mark, measured at +35 MB on a
 * ztunnel after a few 64 MiB transfers, all of it free. Returns true when memory was released,
 * false when none was or the addon is not there (an older build, a system without glibc).
 */
export function mallocTrim(): boolean {
  const b = optionalNative();
  return typeof b?.mallocTrim === 'function' ? b.mallocTrim() : false;
}

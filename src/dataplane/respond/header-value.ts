/**
 * Header values the sidecar builds from client input (the model name, the attempts list) must
 * never make `writeHead` throw: Node refuses control characters and anything outside Latin-1.
 * Such characters are percent-encoded, so the value stays readable and unambiguous.
 */

/** Longest x-aicb-* value written; longer values are cut (with a marker that is ASCII). */
const MAX_HEADER_VALUE = 1024;

export function headerSafe(value: string): string {
  let safe = true;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) {
      safe = false;
      break;
    }
  }
  const out = safe ? value : encodeUnsafe(value);
  return out.length > MAX_HEADER_VALUE ? `${out.slice(0, MAX_HEADER_VALUE - 3)}...` : out;
}

function encodeUnsafe(value: string): string {
  let out = '';
  for (const ch of value) {
    const c = ch.codePointAt(0) ?? 0;
    if (c >= 0x20 && c <= 0x7e && ch !== '%') out += ch;
    else
      for (const byte of Buffer.from(ch, 'utf8'))
        out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

// Model text as printed on a terminal: control characters (other than newline and tab) and the
// U+FFFD of bytes that never formed a character are shown as '·', so an untrained or
// confused model cannot garble the terminal or a pipe.
export function displayText(text: string): string {
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f\uFFFD]/g, '·');
}

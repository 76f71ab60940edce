// Python string semantics that reference reward functions depend on, for exact ports.
// JavaScript's \s, `.` and trim() differ from Python's str.isspace(), `.` and strip():
//  - Python whitespace adds \x1c-\x1f and \x85 and lacks \ufeff;
//  - Python's `.` (without DOTALL) excludes only '\n'; JavaScript's also excludes \r, \u2028, \u2029;
//  - Python's \w (str patterns) is any letter, number or '_' in Unicode.

/** Character class body of Python's whitespace (str.isspace() and re's \s). */
export const PY_WS = '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
/** Python's `\s`, `\w` and `.` (no DOTALL) as JavaScript regex fragments (use the `u` flag for \w). */
export const pyS = `[${PY_WS}]`;
export const pyW = '[\\p{L}\\p{N}_]';
export const pyDot = '[^\\n]';

const leadingWs = new RegExp(`^${pyS}+`);
const trailingWs = new RegExp(`${pyS}+$`);

/** str.strip() */
export function pyStrip(s: string): string {
  return s.replace(leadingWs, '').replace(trailingWs, '');
}

/** re.sub(r'\s+', repl, s) */
export function pyCollapseWhitespace(s: string, repl = ' '): string {
  return s.replace(new RegExp(`${pyS}+`, 'g'), repl);
}

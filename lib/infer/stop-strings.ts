// Stop strings over streamed text. Text that might be the start of a stop string is held
// back until it is known not to be, so a stream never shows part of a stop string.
// Two kinds: `stops` end the text before them (OpenAI's `stop`), `kept` end it after them
// (transformers' `stop_strings`, e.g. a model's `</answer>`). At one position, `stops` win.
export class StopStringMatcher {
  private pending = '';
  private stopped = false;
  private readonly all: readonly string[];

  constructor(private readonly stops: readonly string[], private readonly kept: readonly string[] = []) {
    this.all = [...stops, ...kept];
    if (this.all.some((s) => s.length === 0)) throw new RangeError('stop strings must not be empty');
  }

  get done(): boolean {
    return this.stopped;
  }

  /** Feeds decoded text; returns what may be shown now and whether a stop string was hit. */
  push(text: string): { text: string; stop: boolean } {
    if (this.stopped) return { text: '', stop: true };
    this.pending += text;
    let at = -1, cut = -1;
    for (const s of this.stops) {
      const i = this.pending.indexOf(s);
      if (i >= 0 && (at < 0 || i < at)) { at = i; cut = i; }
    }
    for (const s of this.kept) {
      const i = this.pending.indexOf(s);
      if (i >= 0 && (at < 0 || i < at)) { at = i; cut = i + s.length; }
    }
    if (cut >= 0) {
      this.stopped = true;
      const out = this.pending.slice(0, cut);
      this.pending = '';
      return { text: out, stop: true };
    }
    // Hold back the longest suffix that is a proper prefix of some stop string.
    let hold = 0;
    for (const s of this.all) {
      for (let k = Math.min(s.length - 1, this.pending.length); k > hold; k--) {
        if (this.pending.endsWith(s.slice(0, k))) { hold = k; break; }
      }
    }
    const out = this.pending.slice(0, this.pending.length - hold);
    this.pending = this.pending.slice(this.pending.length - hold);
    return { text: out, stop: false };
  }

  /** At the end of generation: whatever was held back. */
  flush(): string {
    const out = this.stopped ? '' : this.pending;
    this.pending = '';
    return out;
  }
}

// A terminal progress bar with rate and ETA, redrawn at most every 100 ms. On a non-TTY
// stream (CI logs, pipes) it prints a plain line every 10% instead.
export class ProgressBar {
  private done = 0;
  private readonly start = performance.now();
  private lastDraw = 0;
  private lastDecile = -1;

  constructor(
    private readonly total: number,
    private readonly label = '',
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  tick(n = 1, note = ''): void {
    this.done = Math.min(this.total, this.done + n);
    this.draw(note);
  }

  /** Completes the bar; on a non-TTY the final line is printed once (not again if the last
   * tick already printed it). */
  finish(note = ''): void {
    this.done = this.total;
    if (this.stream.isTTY) { this.draw(note, true); this.stream.write('\n'); }
    else if (this.lastDecile !== 10) this.draw(note, true);
  }

  /** Prints a line of its own (a warning) without breaking the bar. */
  interrupt(line: string): void {
    this.stream.write(this.stream.isTTY ? `\r\x1b[K${line}\n` : `${line}\n`);
    if (this.stream.isTTY) this.draw('', true);
  }

  private draw(note: string, force = false): void {
    const now = performance.now();
    const frac = this.total > 0 ? this.done / this.total : 1;
    const elapsed = (now - this.start) / 1000;
    const eta = frac > 0 ? elapsed * (1 - frac) / frac : NaN;
    const text = `${this.label} ${this.done}/${this.total} ${(frac * 100).toFixed(0)}% ` +
      `${formatSeconds(elapsed)} elapsed, ETA ${formatSeconds(eta)}${note ? ' ' + note : ''}`;
    if (this.stream.isTTY) {
      if (!force && now - this.lastDraw < 100) return;
      this.lastDraw = now;
      const width = 24, filled = Math.round(frac * width);
      this.stream.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}\x1b[K`);
    } else {
      const decile = Math.floor(frac * 10);
      if (decile === this.lastDecile && !force) return;
      this.lastDecile = decile;
      this.stream.write(`${text}\n`);
    }
  }
}

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '--';
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m${Math.round(s % 60).toString().padStart(2, '0')}s` : `${Math.floor(m / 60)}h${(m % 60).toString().padStart(2, '0')}m`;
}

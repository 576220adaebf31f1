/**
 * Stop strings over streamed text: text that could still be the start of a stop string is
 * held back until it is known not to be, so a stop string never reaches the caller.
 */
export class StopMatcher {
  private pending = '';

  constructor(private readonly stops: readonly string[]) {}

  /** Adds a chunk; returns the text safe to emit and whether a stop string was found. */
  push(chunk: string): { text: string; stopped: boolean } {
    this.pending += chunk;
    if (this.stops.length === 0) {
      const t = this.pending;
      this.pending = '';
      return { text: t, stopped: false };
    }
    let cut = -1;
    for (const s of this.stops) {
      const i = this.pending.indexOf(s);
      if (i >= 0 && (cut < 0 || i < cut)) cut = i;
    }
    if (cut >= 0) {
      const t = this.pending.slice(0, cut);
      this.pending = '';
      return { text: t, stopped: true };
    }
    // Hold back the longest tail that is a prefix of some stop string.
    let hold = 0;
    for (const s of this.stops) {
      for (let k = Math.min(s.length - 1, this.pending.length); k > hold; k--) {
        if (this.pending.endsWith(s.slice(0, k))) {
          hold = k;
          break;
        }
      }
    }
    const t = this.pending.slice(0, this.pending.length - hold);
    this.pending = this.pending.slice(this.pending.length - hold);
    return { text: t, stopped: false };
  }

  /** The held-back text, once no more text will come. */
  flush(): string {
    const t = this.pending;
    this.pending = '';
    return t;
  }
}

// Turns a callback-style producer into an async iterator: `start(emit)` runs the work, calling
// `emit(chunk)` as results appear; the iterator yields every chunk in order, then returns the
// promise's value (or throws its error once the chunks before it are delivered).
export async function* pushIterator<C, T>(start: (emit: (chunk: C) => void) => Promise<T>): AsyncGenerator<C, T> {
  const queue: C[] = [];
  let wake: (() => void) | undefined;
  let finished = false;
  const done = start((c) => { queue.push(c); wake?.(); }).finally(() => { finished = true; wake?.(); });
  done.catch(() => {}); // observed below, after the queued chunks
  while (true) {
    if (queue.length) { yield queue.shift()!; continue; }
    if (finished) return await done;
    await new Promise<void>((r) => { wake = r; });
    wake = undefined;
  }
}

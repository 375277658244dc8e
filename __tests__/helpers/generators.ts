// A test that times out or fails goes on running in the background: jest starts the next test
// while the old generate() loop still allocates tensors and computes. Generators a test opens
// through `opened` are closed after it (helpers/setup.ts calls closeOpened after each test), so the next
// test starts with no work and no tensors left over.
const open = new Set<AsyncGenerator<unknown, unknown, unknown>>();

/** Registers a generator to be closed when the current test ends; returns it. */
export function opened<G extends AsyncGenerator<unknown, unknown, unknown>>(gen: G): G {
  open.add(gen);
  return gen;
}

/**
 * Closes every registered generator. return() waits for a step in flight, then runs the
 * generator's finally blocks, which release its tensors; a generator that already ended is a no-op.
 */
export async function closeOpened(): Promise<void> {
  const all = [...open];
  open.clear();
  await Promise.all(all.map((g) => g.return(undefined).catch(() => undefined)));
}

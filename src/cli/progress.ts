/** A one-line progress bar on stderr, shown only when stderr is a terminal. */
export function progressBar(
  stream: NodeJS.WriteStream = process.stderr,
): ((p: { key: string; done: number; total: number }) => void) & { end(): void } {
  const enabled = stream.isTTY === true;
  let drawn = false;
  const draw = (p: { key: string; done: number; total: number }) => {
    if (!enabled) return;
    const ratio = p.total > 0 ? Math.min(1, p.done / p.total) : 1;
    const width = 30;
    const filled = Math.round(ratio * width);
    stream.write(
      `\r${p.key} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(ratio * 100).toFixed(0).padStart(3)}% ${p.done}/${p.total}`,
    );
    drawn = true;
  };
  return Object.assign(draw, {
    end() {
      if (enabled && drawn) stream.write('\n');
    },
  });
}

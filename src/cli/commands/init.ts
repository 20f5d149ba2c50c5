import type { CliContext } from '../context.js';
import type { CommandResult } from '../output.js';

export async function run(ctx: CliContext): Promise<CommandResult> {
  const qc = await ctx.quotaclock();
  const { describeLocation, parseStoreUrl } = await import('../../store/open-store.js');
  const database = describeLocation(parseStoreUrl(qc.config.store, process.cwd(), 'store'));
  const r = await qc.init();
  const store = await qc.store();
  return {
    data: { engine: store.engine, database, applied: r.applied, schemaVersion: r.current },
    text: r.applied.length
      ? `${store.engine} ${database}: applied migration(s) ${r.applied.join(', ')}; schema is at version ${r.current}`
      : `${store.engine} ${database}: schema is up to date (version ${r.current})`,
  };
}

import { BadInputError } from '../../core/errors.js';
import { sqliteFileToCreate } from '../store-presence.js';
import type { CliContext } from '../context.js';
import type { CommandResult } from '../output.js';

export async function run(
  ctx: CliContext,
  _args: string[],
  opts: Record<string, unknown>,
): Promise<CommandResult> {
  if (typeof opts.name !== 'string') throw new BadInputError('--name: required', '--name');
  const scopes = Array.isArray(opts.scope) ? (opts.scope as string[]) : [];
  if (scopes.length === 0) {
    throw new BadInputError(
      '--scope: at least one of quota:read, quota:write, admin:read, admin:write',
      '--scope',
    );
  }
  const qc = await ctx.quotaclock();
  // The first key is the service's only setup step, so a missing SQLite file is created as by init.
  const creates = sqliteFileToCreate(qc.config.store);
  const k = await qc.keys.create({ name: opts.name, scopes }).catch((e: unknown) => {
    // The facade names its fields; the CLI names its flags.
    if (e instanceof BadInputError && (e.where === 'scopes' || e.where === 'name')) {
      const flag = e.where === 'scopes' ? '--scope' : '--name';
      throw new BadInputError(e.message.replace(/^(scopes|name):/, `${flag}:`), flag);
    }
    throw e;
  });
  if (creates !== undefined) {
    const { current } = await qc.init();
    process.stderr.write(
      `quotaclock: created the SQLite store ${creates} (schema version ${current}), as "quotaclock init" does\n`,
    );
  }
  return {
    data: {
      id: k.id,
      name: k.name,
      scopes: k.scopes,
      prefix: k.prefix,
      key: k.key,
      createdAt: k.createdAt,
    },
    text: [
      `created API key ${k.id} "${k.name}" (${k.scopes.join(', ')})`,
      '',
      `  ${k.key}`,
      '',
      'This is the only time the key is shown: store it now. Send it as "Authorization: Bearer <key>".',
    ].join('\n'),
  };
}

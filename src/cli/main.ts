#!/usr/bin/env node
import { createRequire } from 'node:module';
import { Command, CommanderError, Option } from 'commander';
import type { CommandSpec } from './command-spec.js';
import { COMMANDS } from './registry.js';
import { CliContext, type GlobalOptions } from './context.js';
import { exitCodeFor, reportError } from './errors.js';
import { printResult, type CommandResult } from './output.js';

type Run = (
  ctx: CliContext,
  args: string[],
  opts: Record<string, unknown>,
) => Promise<CommandResult>;

const collect = (value: string, previous: string[] = []) => [...previous, value];

function register(
  program: Command,
  spec: CommandSpec,
  action: (spec: CommandSpec, cmd: Command) => Promise<void>,
): void {
  const names = spec.path.split(' ');
  let parent = program;
  for (const name of names.slice(0, -1)) {
    parent =
      parent.commands.find((c) => c.name() === name) ??
      parent.command(name).description(`${name} commands`);
  }
  const cmd = parent
    .command(`${names[names.length - 1]}${spec.args ? ` ${spec.args}` : ''}`)
    .description(spec.description);
  for (const o of spec.options ?? []) {
    const opt = new Option(o.flags, o.description);
    if (o.repeat) opt.argParser(collect);
    if (o.default !== undefined) opt.default(o.default);
    if (o.hidden) opt.hideHelp();
    cmd.addOption(opt);
  }
  cmd.addHelpText('after', `\nExamples:\n${spec.examples.map((e) => `  $ ${e}`).join('\n')}\n`);
  cmd.action(async () => action(spec, cmd));
}

/** Each command group's help shows the first example of each of its commands. */
function addGroupExamples(program: Command): void {
  for (const group of program.commands.filter((c) => c.commands.length > 0)) {
    const examples = COMMANDS.filter((s) => s.path.startsWith(`${group.name()} `))
      .map((s) => s.examples[0])
      .filter((e): e is string => e !== undefined);
    group.addHelpText('after', `\nExamples:\n${examples.map((e) => `  $ ${e}`).join('\n')}\n`);
  }
}

/** `quotaclock --help | head` closes the pipe early: that is the reader's choice, not a crash. */
function quietOnClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    process.exit(process.exitCode ?? 0);
  });
}

export async function main(argv: string[]): Promise<number> {
  quietOnClosedPipe(process.stdout);
  quietOnClosedPipe(process.stderr);
  const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };
  const program = new Command('quotaclock')
    .description('Per-user usage quotas by plan, and a reset job that never silently fails.')
    .version(version, '-V, --version', 'print the quotaclock version')
    // Subcommand help lists --db, --json, --now too: its own examples use them.
    .configureHelp({ showGlobalOptions: true })
    .option(
      '--db <url>',
      'store: sqlite:<path> or a path, postgres://…, firestore://<project> (env QUOTACLOCK_DB)',
    )
    .option('--config <file>', 'config file, JSON or YAML (env QUOTACLOCK_CONFIG)')
    .option('--now <iso>', 'a fixed clock, for backfills and tests (env QUOTACLOCK_NOW)')
    .option('--json', 'print exactly one JSON document on stdout')
    .option(
      '--log-file <path>',
      'also write JSON log lines here, rotated (env QUOTACLOCK_LOG_FILE)',
    )
    .option('--log-level <level>', 'trace, debug, info, warn, error, fatal or silent')
    .option('--verbose', 'more detail in error messages (the code frame of a YAML error)')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  program.addHelpText(
    'after',
    '\nExamples:\n  $ npx quotaclock demo\n  $ quotaclock consume alice stock_reports\n  $ quotaclock reset --dry-run\n',
  );

  let code = 0;
  let ctx: CliContext | undefined;
  const action = async (spec: CommandSpec, cmd: Command) => {
    const opts = cmd.optsWithGlobals() as GlobalOptions & Record<string, unknown>;
    // A dry run writes nothing, so it creates no database either.
    ctx = new CliContext(opts, {
      createsStore: spec.createsStore === true && opts.dryRun !== true,
    });
    const mod = (await import(`./commands/${spec.module}.js`)) as { run: Run };
    const result = await mod.run(
      ctx,
      cmd.processedArgs.filter((a) => a !== undefined) as string[],
      opts,
    );
    printResult(result, ctx.json);
    code = result.exitCode ?? 0;
  };
  for (const spec of COMMANDS) register(program, spec, action);
  addGroupExamples(program);
  for (const c of program.commands)
    c.exitOverride().configureOutput({ writeErr: (s) => process.stderr.write(s) });

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end here with code 0; every usage error is exit 2.
      code = e.exitCode === 0 ? 0 : 2;
    } else {
      code = exitCodeFor(e);
      reportError(e, argv.includes('--json'));
    }
  } finally {
    await ctx?.dispose();
  }
  return code;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`quotaclock: internal error: ${(e as Error).message}\n`);
    process.exitCode = 1;
  },
);

import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ApiError, ConnectionError, createAdminClient } from './api-client.js';
import {
  flag,
  str,
  UsageError,
  type CliEnvironment,
  type Command,
  type Options,
  type Values,
} from './command-builders.js';
import { commands, flagOfApiField } from './commands.js';

export type { CliEnvironment } from './command-builders.js';

/**
 * The `chatrelay` command line: administration over the admin API (the commands are described in commands.ts).
 * Exit codes: 0 success, 1 the API refused or could not be reached, 2 the command line is wrong.
 */

export const DEFAULT_URL = 'http://127.0.0.1:8080';
const packageRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));

const globalOptions: Options = {
  url: str(`API base URL (env CHATRELAY_URL; default ${DEFAULT_URL})`, 'URL'),
  'admin-token': str('admin token (env ADMIN_TOKEN; else .data/admin-token, which the local stack writes)', 'TOKEN'),
  json: flag('print the API response as JSON, for scripts'),
  help: { ...flag('show help'), short: 'h' },
};

/** The command groups, in the order their commands are listed. */
const groups = [...new Set(commands.map((command) => command.group))];

function optionLines(options: Options): string[] {
  const rows = Object.entries(options).map(([name, spec]) => {
    const left = `--${name}${spec.type === 'string' ? ` ${spec.valueName ?? 'VALUE'}` : ''}`;
    return [left, spec.description] as const;
  });
  const width = Math.max(0, ...rows.map(([left]) => left.length));
  return rows.map(([left, description]) => `  ${left.padEnd(width)}  ${description}`);
}

function commandUsage(command: Command): string {
  const synopsis = `chatrelay ${command.group} ${command.name}${command.argument ? ` <${command.argument}>` : ''}${Object.keys(command.options).length > 0 ? ' [options]' : ''}`;
  const lines = [`Usage: ${synopsis}`, '', command.summary + '.'];
  if (Object.keys(command.options).length > 0) lines.push('', 'Options:', ...optionLines(command.options));
  lines.push('', 'Global options:', ...optionLines(globalOptions));
  return lines.join('\n');
}

export function mainUsage(): string {
  const width = Math.max(
    ...commands.map(
      (command) => `${command.group} ${command.name}${command.argument ? ` <${command.argument}>` : ''}`.length,
    ),
  );
  return [
    `Usage: chatrelay <${groups.join('|')}> <command> [arguments] [options]`,
    '',
    "Administers chatrelay's agents, channels, messages and stored secrets through the admin API.",
    '',
    'Commands:',
    ...commands.map(
      (command) =>
        `  ${`${command.group} ${command.name}${command.argument ? ` <${command.argument}>` : ''}`.padEnd(width)}  ${command.summary}`,
    ),
    '',
    'Global options:',
    ...optionLines(globalOptions),
    '',
    'Run `chatrelay <group> <command> --help` for the options of a command.',
    'Exit codes: 0 success, 1 the API refused or could not be reached, 2 wrong usage.',
  ].join('\n');
}

/** Every option any command knows, so that options may come before or after the command words. */
function allOptions(): NonNullable<ParseArgsConfig['options']> {
  const all: NonNullable<ParseArgsConfig['options']> = {};
  for (const options of [globalOptions, ...commands.map((command) => command.options)]) {
    for (const [name, spec] of Object.entries(options))
      all[name] = { type: spec.type, ...('short' in spec ? { short: spec.short } : {}) };
  }
  return all;
}

function resolveAdminToken(given: string | undefined, io: CliEnvironment): string {
  const token = given ?? (io.env.ADMIN_TOKEN || undefined);
  if (token !== undefined) return token;
  const dataDirs = io.env.STACK_DATA_DIR
    ? [resolve(io.cwd, io.env.STACK_DATA_DIR)]
    : [join(io.cwd, '.data'), join(packageRoot, '.data')];
  for (const dir of new Set(dataDirs)) {
    const file = join(dir, 'admin-token');
    if (existsSync(file)) {
      const value = readFileSync(file, 'utf8').trim();
      if (value !== '') return value;
    }
  }
  throw new UsageError(
    'no admin token: pass --admin-token, set ADMIN_TOKEN, or start the local stack (it writes .data/admin-token)',
  );
}

function resolveUrl(given: string | undefined, io: CliEnvironment): string {
  const value = given ?? (io.env.CHATRELAY_URL || DEFAULT_URL);
  try {
    const url = new URL(value);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http');
  } catch {
    throw new UsageError(`--url must be an http(s) URL, got ${JSON.stringify(value)}`);
  }
  return value.replace(/\/+$/, '');
}

function printApiError(error: ApiError, json: boolean, io: CliEnvironment): void {
  if (json) {
    io.stderr(JSON.stringify(error.body, null, 2));
    return;
  }
  const { code, message, request_id: requestId, details } = error.body.error;
  io.stderr(`error: ${message} (HTTP ${error.status} ${code}${requestId ? `, request ${requestId}` : ''})`);
  for (const detail of details ?? []) {
    const flagName = flagOfApiField[detail.path];
    io.stderr(`  ${detail.path}${flagName ? ` (${flagName})` : ''}: ${detail.message}`);
  }
}

/** Runs one command line; returns the process exit code. */
export async function runCli(argv: string[], io: CliEnvironment): Promise<number> {
  let json = argv.includes('--json');
  let hint = 'Run `chatrelay --help` for usage.';
  try {
    let parsed;
    try {
      parsed = parseArgs({ args: argv, options: allOptions(), allowPositionals: true, strict: true, tokens: true });
    } catch (error) {
      throw new UsageError((error as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
    }
    const { positionals, tokens } = parsed;
    const values = parsed.values as Values;
    json = values.json === true;
    const [group, name, ...rest] = positionals;
    if (group === undefined || (values.help === true && name === undefined && groups.includes(group))) {
      if (values.help === true) {
        io.stdout(mainUsage());
        return 0;
      }
      io.stderr(mainUsage());
      return 2;
    }
    if (!groups.includes(group))
      throw new UsageError(
        `unknown command group ${JSON.stringify(group)}: use ${groups.slice(0, -1).join(', ')} or ${groups.at(-1)}`,
      );
    const command = commands.find((candidate) => candidate.group === group && candidate.name === name);
    if (!command) {
      const known = commands
        .filter((candidate) => candidate.group === group)
        .map((candidate) => candidate.name)
        .join(', ');
      throw new UsageError(
        name === undefined
          ? `"${group}" needs a command: ${known}`
          : `unknown command "${group} ${name}" (known: ${known})`,
      );
    }
    hint = `Run \`chatrelay ${group} ${name} --help\` for its options.`;
    if (values.help === true) {
      io.stdout(commandUsage(command));
      return 0;
    }
    for (const token of tokens) {
      if (token.kind === 'option' && !(token.name in globalOptions) && !(token.name in command.options)) {
        throw new UsageError(`--${token.name} is not an option of "${group} ${name}"`);
      }
    }
    if (command.argument !== undefined && rest.length === 0) throw new UsageError(`<${command.argument}> is required`);
    const expected = command.argument === undefined ? 0 : 1;
    if (rest.length > expected) throw new UsageError(`unexpected argument ${JSON.stringify(rest[expected])}`);

    const client = createAdminClient({
      baseUrl: resolveUrl(typeof values.url === 'string' ? values.url : undefined, io),
      adminToken: resolveAdminToken(typeof values['admin-token'] === 'string' ? values['admin-token'] : undefined, io),
    });
    await command.run({ client, values, id: rest[0] ?? '', json, out: (text) => io.stdout(text), io });
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`error: ${error.message}\n${hint}`);
      return 2;
    }
    if (error instanceof ApiError) {
      printApiError(error, json, io);
      return 1;
    }
    if (error instanceof ConnectionError) {
      io.stderr(`error: ${error.message}`);
      return 1;
    }
    throw error;
  }
}

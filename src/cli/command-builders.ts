import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { AdminClient } from './api-client.js';

/**
 * The building blocks of CLI commands: options described once as fields (flag, API field, kind), and
 * builders for the usual verbs (create, list, get, update, delete, and one call to one endpoint), so that
 * a command for a new endpoint is a few lines of description in commands.ts.
 */

export interface CliEnvironment {
  env: NodeJS.ProcessEnv;
  cwd: string;
  stdout(text: string): void;
  stderr(text: string): void;
  /** Reads standard input (for `--system-prompt-file -`). */
  readStdin(): string;
}

/** The command line is wrong: exit 2, before calling the API. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface OptionSpec {
  type: 'string' | 'boolean';
  description: string;
  valueName?: string;
  short?: string;
}
export type Options = Record<string, OptionSpec>;
export type Values = Record<string, string | boolean | undefined>;

export const str = (description: string, valueName = 'VALUE'): OptionSpec => ({
  type: 'string',
  description,
  valueName,
});
export const flag = (description: string): OptionSpec => ({ type: 'boolean', description });

export interface Context {
  client: AdminClient;
  values: Values;
  /** The positional argument (an id), '' when the command takes none. */
  id: string;
  json: boolean;
  out(text: string): void;
  io: CliEnvironment;
}

export interface Command {
  group: string;
  name: string;
  summary: string;
  /** Positional argument, if any. */
  argument?: string;
  options: Options;
  /** The API fields its options set (body or query), so that API field errors name the flag to fix. */
  fields?: readonly Field[];
  run(ctx: Context): Promise<void>;
}

/** One API field and the flag(s) that set it. */
export type Field =
  | { kind: 'string' | 'number'; api: string; flag: string; option: OptionSpec }
  /** Two flags: one sets true, the other false. */
  | { kind: 'toggle'; api: string; on: string; off: string; options: [OptionSpec, OptionSpec] }
  /** A text given inline (--flag) or read from a file (--flag-file, - for standard input). */
  | { kind: 'text'; api: string; flag: string; option: OptionSpec; fileOption: OptionSpec };

export const field = {
  string: (api: string, flagName: string, description: string, valueName?: string): Field => ({
    kind: 'string',
    api,
    flag: flagName,
    option: str(description, valueName),
  }),
  number: (api: string, flagName: string, description: string, valueName?: string): Field => ({
    kind: 'number',
    api,
    flag: flagName,
    option: str(description, valueName),
  }),
  toggle: (api: string, on: [string, string], off: [string, string]): Field => ({
    kind: 'toggle',
    api,
    on: on[0],
    off: off[0],
    options: [flag(on[1]), flag(off[1])],
  }),
  text: (api: string, flagName: string, description: string, valueName: string, fileDescription: string): Field => ({
    kind: 'text',
    api,
    flag: flagName,
    option: str(description, valueName),
    fileOption: str(fileDescription, 'PATH'),
  }),
};

export function fieldOptions(fields: readonly Field[]): Options {
  const options: Options = {};
  for (const item of fields) {
    if (item.kind === 'toggle') {
      options[item.on] = item.options[0];
      options[item.off] = item.options[1];
    } else {
      options[item.flag] = item.option;
      if (item.kind === 'text') options[`${item.flag}-file`] = item.fileOption;
    }
  }
  return options;
}

/** The flag(s) a user types to set an API field, as API field errors name them. */
export function flagOfField(item: Field): string {
  return item.kind === 'toggle' ? `--${item.on}/--${item.off}` : `--${item.flag}`;
}

export function stringValue(values: Values, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

export function numberValue(values: Values, name: string): number | undefined {
  const value = stringValue(values, name);
  if (value === undefined) return undefined;
  const number = value.trim() === '' ? Number.NaN : Number(value);
  if (!Number.isFinite(number)) throw new UsageError(`--${name} must be a number, got ${JSON.stringify(value)}`);
  return number;
}

function exclusive(values: Values, yes: string, no: string): boolean | undefined {
  if (values[yes] === true && values[no] === true) throw new UsageError(`--${yes} and --${no} cannot be used together`);
  if (values[yes] === true) return true;
  if (values[no] === true) return false;
  return undefined;
}

function textValue(ctx: Context, flagName: string): string | undefined {
  const inline = stringValue(ctx.values, flagName);
  const file = stringValue(ctx.values, `${flagName}-file`);
  if (file === undefined) return inline;
  if (inline !== undefined) throw new UsageError(`--${flagName} and --${flagName}-file cannot be used together`);
  try {
    return file === '-' ? ctx.io.readStdin() : readFileSync(resolve(ctx.io.cwd, file), 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read --${flagName}-file ${file}: ${(error as Error).message}`);
  }
}

function fieldValue(ctx: Context, item: Field): unknown {
  switch (item.kind) {
    case 'string':
      return stringValue(ctx.values, item.flag);
    case 'number':
      return numberValue(ctx.values, item.flag);
    case 'toggle':
      return exclusive(ctx.values, item.on, item.off);
    case 'text':
      return textValue(ctx, item.flag);
  }
}

/** Only the fields whose value is given. */
export function defined<T>(fields: Record<string, T | undefined>): Record<string, T> {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as Record<string, T>;
}

/** The API body of the fields whose flag was given. */
export function readFields(ctx: Context, fields: readonly Field[]): Record<string, unknown> {
  return defined(Object.fromEntries(fields.map((item) => [item.api, fieldValue(ctx, item)])));
}

function requireFlags(values: Values, required: readonly (readonly string[])[]): void {
  for (const alternatives of required) {
    if (alternatives.every((name) => values[name] === undefined)) {
      throw new UsageError(`${alternatives.map((name) => `--${name}`).join(' or ')} is required`);
    }
  }
}

/** `/v1/<collection>/<id><suffix>`, the id encoded. */
export const resourcePath = (collection: string, id: string, suffix = '') =>
  `/v1/${collection}/${encodeURIComponent(id)}${suffix}`;

const printJson = (ctx: Context, value: unknown) => ctx.out(JSON.stringify(value, null, 2));

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

/** One call to one endpoint: the body from the fields given, the answer printed (or as JSON with --json). */
export function endpointCommand<T>(spec: {
  group: string;
  name: string;
  summary: string;
  argument?: string;
  method: Method;
  path(id: string): string;
  /** Options that become the JSON body; without any, no body is sent. */
  fields?: readonly Field[];
  /** Alternatives of flags of which one is required, e.g. [['name'], ['system-prompt', 'system-prompt-file']]. */
  required?: readonly (readonly string[])[];
  /** Checks the body before it is sent. */
  check?(body: Record<string, unknown>): void;
  print(result: T, ctx: Context): string;
}): Command {
  return {
    group: spec.group,
    name: spec.name,
    summary: spec.summary,
    ...(spec.argument !== undefined ? { argument: spec.argument } : {}),
    options: fieldOptions(spec.fields ?? []),
    ...(spec.fields !== undefined ? { fields: spec.fields } : {}),
    async run(ctx) {
      requireFlags(ctx.values, spec.required ?? []);
      const body = spec.fields === undefined ? undefined : readFields(ctx, spec.fields);
      if (body !== undefined) spec.check?.(body);
      const result = (await ctx.client.request<T>(spec.method, spec.path(ctx.id), body))!;
      if (ctx.json) return printJson(ctx, result);
      ctx.out(spec.print(result, ctx));
    },
  };
}

/** How a list pages: the query parameter that takes the cursor and the response field that gives the next one. */
export interface Paging {
  cursor: 'after' | 'before';
  next: 'next_after' | 'next_before';
  cursorDescription: string;
}

export const pagingAfterId: Paging = {
  cursor: 'after',
  next: 'next_after',
  cursorDescription: 'start after this id (the next_after of the previous page)',
};

/** A paged list: --limit, the cursor, --all to follow every page; filters become query parameters. */
export function listCommand<T>(spec: {
  group: string;
  name?: string;
  summary: string;
  argument?: string;
  path(id: string): string;
  paging: Paging;
  filters?: readonly Field[];
  table(items: T[]): string;
}): Command {
  const { cursor, next } = spec.paging;
  const filters = spec.filters ?? [];
  const paging = [
    field.number('limit', 'limit', 'items per page, 1 to 100 (default 20)', 'N'),
    field.string(cursor, cursor, spec.paging.cursorDescription, cursor === 'after' ? 'ID' : 'TIME'),
  ];
  return {
    group: spec.group,
    name: spec.name ?? 'list',
    summary: spec.summary,
    ...(spec.argument !== undefined ? { argument: spec.argument } : {}),
    options: { ...fieldOptions(paging), all: flag('follow every page'), ...fieldOptions(filters) },
    fields: [...paging, ...filters],
    async run(ctx) {
      const limit = numberValue(ctx.values, 'limit');
      const query = readFields(ctx, filters);
      let position = stringValue(ctx.values, cursor);
      const data: T[] = [];
      let nextPosition: string | null;
      for (;;) {
        const params = new URLSearchParams(
          defined({
            limit: limit === undefined ? undefined : String(limit),
            [cursor]: position,
            ...Object.fromEntries(Object.entries(query).map(([name, value]) => [name, String(value)])),
          }),
        );
        const search = params.size > 0 ? `?${params.toString()}` : '';
        const page = (await ctx.client.request<{ data: T[] } & Partial<Record<Paging['next'], string | null>>>(
          'GET',
          `${spec.path(ctx.id)}${search}`,
        )) ?? { data: [] };
        data.push(...page.data);
        nextPosition = page[next] ?? null;
        if (ctx.values.all !== true || nextPosition === null) break;
        position = nextPosition;
      }
      if (ctx.json) return printJson(ctx, { data, [next]: nextPosition });
      const more = nextPosition === null ? '' : `\nMore: add --${cursor} ${nextPosition} (or --all).`;
      ctx.out(`${spec.table(data)}${more}`);
    },
  };
}

/** A resource administered with the usual verbs: each verb given is a command. */
export interface Resource<T extends { id: string }> {
  group: string;
  /** The word for one item in messages: "Created agent …". */
  noun: string;
  /** The collection's path: /v1/<collection>. */
  collection: string;
  argument: string;
  /** The fields create and update set. */
  fields: readonly Field[];
  show: (item: T) => string;
  table: (items: T[]) => string;
  create?: {
    summary: string;
    required: readonly (readonly string[])[];
    /** Fields only create sets. */
    extra?: readonly Field[];
    /** Output other than "Created <noun> <id>." and the item. */
    print?: (item: T, ctx: Context) => string;
  };
  list?: { summary: string; filters?: readonly Field[] };
  get?: { summary: string };
  update?: { summary: string };
  delete?: { summary: string };
}

export function resourceCommands<T extends { id: string }>(resource: Resource<T>): Command[] {
  const { group, noun, collection, argument } = resource;
  const itemPath = (id: string) => resourcePath(collection, id);
  const commands: Command[] = [];
  if (resource.create) {
    const { summary, required, extra = [], print } = resource.create;
    commands.push(
      endpointCommand<T>({
        group,
        name: 'create',
        summary,
        method: 'POST',
        path: () => `/v1/${collection}`,
        fields: [...resource.fields, ...extra],
        required,
        print: print ?? ((item) => `Created ${noun} ${item.id}.\n\n${resource.show(item)}`),
      }),
    );
  }
  if (resource.list) {
    commands.push(
      listCommand<T>({
        group,
        summary: resource.list.summary,
        path: () => `/v1/${collection}`,
        paging: pagingAfterId,
        ...(resource.list.filters ? { filters: resource.list.filters } : {}),
        table: resource.table,
      }),
    );
  }
  if (resource.get) {
    commands.push(
      endpointCommand<T>({
        group,
        name: 'get',
        summary: resource.get.summary,
        argument,
        method: 'GET',
        path: itemPath,
        print: resource.show,
      }),
    );
  }
  if (resource.update) {
    commands.push(
      endpointCommand<T>({
        group,
        name: 'update',
        summary: resource.update.summary,
        argument,
        method: 'PATCH',
        path: itemPath,
        fields: resource.fields,
        check(body) {
          if (Object.keys(body).length === 0)
            throw new UsageError(`nothing to change: give at least one ${noun} option`);
        },
        print: (item) => `Updated ${noun} ${item.id}.\n\n${resource.show(item)}`,
      }),
    );
  }
  if (resource.delete) {
    commands.push({
      group,
      name: 'delete',
      summary: resource.delete.summary,
      argument,
      options: {},
      async run(ctx) {
        await ctx.client.request('DELETE', itemPath(ctx.id));
        ctx.out(ctx.json ? JSON.stringify({ id: ctx.id, deleted: true }) : `Deleted ${noun} ${ctx.id}.`);
      },
    });
  }
  return commands;
}

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { closest } from '../core/text.js';
import { UsageError } from './output.js';

/**
 * Node's parseArgs for one weft verb, strict, with its mistakes turned into
 * usage errors that name the verb and the fix: an unknown flag with the
 * nearest known one, a flag without its value, an argument the verb does not
 * take.
 */
export function parseFlags<const T extends ParseArgsConfig>(
  command: string,
  config: T,
): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs<T>({ ...config, strict: true });
  } catch (e) {
    throw usageOf(e, command, Object.keys(config.options ?? {})) ?? e;
  }
}

/** True when `args` asks for help (before `--`). */
export function wantsHelp(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end >= 0 ? args.slice(0, end) : args).some((a) => a === '--help' || a === '-h');
}

function usageOf(e: unknown, command: string, options: readonly string[]): UsageError | undefined {
  const code = e instanceof Error && 'code' in e ? e.code : undefined;
  const message = e instanceof Error ? e.message : '';
  const help = `see weft ${command} --help`;
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': {
      const flag = /'([^']+)'/.exec(message)?.[1] ?? '';
      const near = closest(flag.replace(/^-+/, ''), options, 3);
      return new UsageError(
        `${command}: unknown flag ${flag}`,
        near ? `did you mean --${near}? (${help})` : help,
      );
    }
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const flag = /'(--?[a-z-]+)/.exec(message)?.[1] ?? 'a flag';
      const what = /does not take an argument/.test(message) ? 'takes no value' : 'needs a value';
      return new UsageError(`${command}: ${flag} ${what}`, help);
    }
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL': {
      const arg = /'([^']*)'/.exec(message)?.[1] ?? '';
      return new UsageError(`${command}: unexpected argument ${JSON.stringify(arg)}`, help);
    }
    default:
      return undefined;
  }
}

/**
 * One verb's help cut from a command group's: `usage: weft GROUP VERB`, the
 * verb's lines of the `verbs:` list (a verb may have several), and the
 * paragraphs after the list. Undefined for a verb the list does not have.
 */
export function verbHelp(groupHelp: string, group: string, verb: string): string | undefined {
  const lines = groupHelp.split('\n');
  const start = lines.indexOf('verbs:');
  if (start < 0) return undefined;
  let end = lines.findIndex((l, i) => i > start && l === '');
  if (end < 0) end = lines.length;
  const own: string[] = [];
  let mine = false;
  for (const line of lines.slice(start + 1, end)) {
    const head = /^ {2}([a-z-]+)(?: |$)/.exec(line);
    if (head) mine = head[1] === verb;
    if (mine) own.push(line);
  }
  if (own.length === 0) return undefined;
  const after = lines.slice(end).join('\n').trim();
  return `usage: weft ${group} ${verb} [options]\n\n${own.join('\n')}${after ? `\n\n${after}` : ''}`;
}

import { readFileSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { vigilError } from '../errors.js';

/** An operator's file, but a runaway one (a log pointed at by mistake) should not be read whole. */
const MAX_BYTES = 1024 * 1024;

/** `${NAME}` in a string value; `$${` writes a literal `${`. */
const VARIABLE = /\$(\$?)\{([^}]*)\}/g;
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Reads a config file (`vigil serve --config`): YAML for `.yml` / `.yaml`, JSON for `.json`,
 * with `${NAME}` in any string value replaced by that environment variable, so secrets can stay
 * out of the file. The result is not validated here: the server's schema does that (see
 * config.ts), naming the file.
 *
 * Messages never quote the file's text: a syntax error names the line and column only, since
 * the line itself may hold a password.
 * @param path as the operator wrote it; messages start with it
 * @returns the parsed value; an empty file is `{}`
 * @throws VIGIL_ERR_CONFIG naming the file (missing, unreadable, too large, bad syntax, an unset variable)
 */
export function readConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): unknown {
  const ext = extname(path).toLowerCase();
  if (!['.yml', '.yaml', '.json'].includes(ext)) {
    throw vigilError('VIGIL_ERR_CONFIG', `${path}: a config file is .yml, .yaml or .json (YAML or JSON)`);
  }
  const text = readText(path);
  const value = ext === '.json' ? parseJson(path, text) : parseYamlText(path, text);
  return expand(value ?? {}, [], path, env);
}

function readText(path: string): string {
  let size: number;
  try {
    size = statSync(path).size;
  } catch (e) {
    throw unreadable(path, e);
  }
  if (size > MAX_BYTES) throw vigilError('VIGIL_ERR_CONFIG', `${path}: larger than ${MAX_BYTES / 1024 / 1024} MiB`);
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw unreadable(path, e);
  }
}

function unreadable(path: string, e: unknown): Error {
  const code = (e as NodeJS.ErrnoException).code;
  const why =
    code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'a folder, not a file' : `cannot read (${code ?? (e as Error).message})`;
  return vigilError('VIGIL_ERR_CONFIG', `${path}: ${why}`, e);
}

function parseJson(path: string, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    const message = (e as Error).message;
    const at = /at position (\d+)/.exec(message);
    if (!at) throw vigilError('VIGIL_ERR_CONFIG', `${path}: not valid JSON: ${message}`);
    const before = text.slice(0, Number(at[1])).split('\n');
    const what = message.slice(0, at.index).trim();
    throw vigilError('VIGIL_ERR_CONFIG', `${path}: line ${before.length}, column ${before.at(-1)!.length + 1}: not valid JSON (${what})`);
  }
}

function parseYamlText(path: string, text: string): unknown {
  try {
    return parseYaml(text) as unknown;
  } catch (e) {
    if (!(e instanceof YAMLParseError)) throw e;
    const at = e.linePos?.[0];
    // The message's first line only: what follows it is the file's text around the error.
    const what = e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
    const where = at ? `line ${at.line}, column ${at.col}: ` : '';
    throw vigilError('VIGIL_ERR_CONFIG', `${path}: ${where}not valid YAML (${what})`);
  }
}

function expand(value: unknown, at: (string | number)[], path: string, env: NodeJS.ProcessEnv): unknown {
  if (typeof value === 'string') {
    return value.replace(VARIABLE, (whole, escaped: string, name: string) => {
      if (escaped) return whole.slice(1);
      const field = at.join('.') || '(root)';
      if (!VARIABLE_NAME.test(name)) throw vigilError('VIGIL_ERR_CONFIG', `${path}: ${field}: \${${name}} is not a variable name`);
      const v = env[name];
      if (v === undefined) throw vigilError('VIGIL_ERR_CONFIG', `${path}: ${field}: environment variable ${name} is not set`);
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => expand(v, [...at, i], path, env));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expand(v, [...at, k], path, env)]));
  }
  return value;
}

import { terminalJson, terminalText, truncate } from './format';

/**
 * Where the CLI writes, and the one place every line passes through on its way to a terminal:
 * text loses escape sequences and control characters (terminalText: agents' failure reasons, log
 * lines and service output are theirs to word, not to drive the operator's terminal), JSON writes
 * C1 controls and bidi overrides as \u escapes (terminalJson). stdout carries the result only (with --json: JSON and nothing else);
 * everything addressed to a person about the process itself (warnings, retries, errors) goes to
 * stderr, so `rollgate … --json | jq` never sees it.
 */
export interface Output {
  /** Colour allowed: stdout is a TTY, NO_COLOR is unset and the output is not JSON. */
  readonly color: boolean;
  /** stdout is a terminal (redraws in place instead of appending). */
  readonly isTTY: boolean;
  /** Human text to stdout, newline added. */
  print(text: string): void;
  /** One JSON document to stdout, pretty-printed. */
  json(value: unknown): void;
  /** One JSON value per line (NDJSON), for streams such as `logs --follow --json`. */
  jsonLine(value: unknown): void;
  /** A note or an error to stderr, newline added. */
  warn(text: string): void;
  /** Replaces the block drawn by the previous call on a TTY; elsewhere just prints it. */
  redraw(text: string): void;
  /** Forget the drawn block (after something else was printed below it). */
  resetRedraw(): void;
}

export interface OutputOptions {
  stdout?: NodeJS.WriteStream;
  stderr?: NodeJS.WriteStream;
  /** NO_COLOR was set. Default false. */
  noColor?: boolean;
  /** The command prints JSON: never colour it. Default false. */
  json?: boolean;
}

export function createOutput(opts: OutputOptions = {}): Output {
  const stdout = opts.stdout ?? process.stdout;
  const stderr = opts.stderr ?? process.stderr;
  const isTTY = stdout.isTTY === true;
  const color = isTTY && !opts.noColor && !opts.json;
  let drawn = 0;
  return {
    color,
    isTTY,
    print: (text) => void stdout.write(`${terminalText(text, { keepColor: color })}\n`),
    json: (value) => void stdout.write(`${terminalJson(JSON.stringify(value, null, 2))}\n`),
    jsonLine: (value) => void stdout.write(`${terminalJson(JSON.stringify(value))}\n`),
    warn: (text) => void stderr.write(`${terminalText(text)}\n`),
    redraw(text) {
      if (!isTTY) {
        stdout.write(`${terminalText(text, { keepColor: color })}\n`);
        return;
      }
      // Lines are cut to the terminal width: a wrapped line would break the count of lines to erase.
      const width = stdout.columns || 120;
      const lines = terminalText(text, { keepColor: color })
        .split('\n')
        .map((l) => truncate(l, width));
      const erase = drawn > 0 ? `\x1b[${drawn}A\x1b[0J` : '';
      stdout.write(`${erase}${lines.join('\n')}\n`);
      drawn = lines.length;
    },
    resetRedraw() {
      drawn = 0;
    },
  };
}

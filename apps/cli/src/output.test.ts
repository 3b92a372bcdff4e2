import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { colors, terminalJson, terminalText } from './format';
import { createOutput } from './output';

/** Every character a terminal could act on (tab and newline are text). */
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;

// What a hostile or careless agent may put in a failure reason, a log line or a host name.
const HOSTILE = [
  'stop failed\x1b[2J\x1b[H', // clear the screen, cursor home
  '\x1b]0;rollgate: all good\x07', // retitle the window (OSC ended by BEL)
  '\x1b]8;;https://evil.example/\x1b\\click here\x1b]8;;\x1b\\', // a hyperlink (OSC 8, ST ends)
  '\x9b31mred by C1 CSI\x9b0m', // 8-bit CSI
  '\x9d0;title by C1 OSC\x9c', // 8-bit OSC and ST
  'line one\rOVERWRITTEN', // carriage return rewrites the line
  'ab\x08\x08XY', // backspaces
  'user \u202eexe.tset\u202c', // right-to-left override
  '\u2067isolate\u2069 and \x85NEL and \x7fDEL and \x00NUL',
  '\x1bPdevice control\x1b\\ and \x1b[?1049h alt screen and \x1b(0 charset',
  'unterminated \x1b]0;title',
].join(' | ');

describe('issue 17 item 9: terminal text', () => {
  it('issue 17 item 9: removes every escape sequence and control but tab and newline, keeps the words', () => {
    const out = terminalText(`${HOSTILE}\n\tindented`);
    expect(out).not.toMatch(CONTROL);
    expect(out).not.toContain('\x1b');
    expect(out).toContain('stop failed');
    expect(out).toContain('click here');
    expect(out).toContain('red by C1 CSI');
    expect(out).toContain('line oneOVERWRITTEN');
    expect(out).toContain('abXY');
    expect(out).toContain('user exe.tset');
    expect(out).toContain('isolate and NEL and DEL and NUL');
    expect(out).toContain('alt screen and  charset');
    // Whole sequences go, parameters and all: no "2J", no URL, no title.
    expect(out).not.toMatch(/2J|evil\.example|all good|device control|title by C1/);
    // An unterminated string keeps its text visible (only the introducer goes).
    expect(out).toContain('unterminated 0;title');
    expect(out.endsWith('\n\tindented')).toBe(true);
  });

  it('issue 17 item 9: plain text, Unicode and emoji pass unchanged', () => {
    const s = 'Größe 10 % · café — 日本語 ✓ 🚀 [██░░] tab\there';
    expect(terminalText(s)).toBe(s);
  });

  it("issue 17 item 9: with colour on, this CLI's own colours survive and nothing else does", () => {
    const c = colors(true);
    const line = `${c.red('FAILED')} ${c.bold('x')} reason: \x1b[8mhidden\x1b[28m \x1b[1A up`;
    const out = terminalText(line, { keepColor: true });
    expect(out).toBe(`${c.red('FAILED')} ${c.bold('x')} reason: hidden  up`);
    expect(terminalText(line)).toBe('FAILED x reason: hidden  up');
  });

  it('issue 17 item 9: JSON writes C1 and bidi characters as escapes and still parses to the same value', () => {
    const value = { reason: HOSTILE, nested: [{ host: 'web-1\x9b2J\u202e' }] };
    const text = terminalJson(JSON.stringify(value, null, 2));
    expect(text).not.toMatch(CONTROL);
    expect(JSON.parse(text)).toEqual(value);
    expect(text).toContain('\\u009b');
    expect(text).toContain('\\u202e');
  });

  it('issue 17 item 9: every Output method filters: print, warn, redraw; json and jsonLine stay valid JSON', () => {
    const sink = () => {
      let text = '';
      const stream = new Writable({
        write(chunk: Buffer, _enc, cb) {
          text += chunk.toString('utf8');
          cb();
        },
      }) as unknown as NodeJS.WriteStream;
      return { stream, text: () => text };
    };
    const stdout = sink();
    const stderr = sink();
    const out = createOutput({ stdout: stdout.stream, stderr: stderr.stream });
    out.print(HOSTILE);
    out.redraw(HOSTILE);
    out.warn(HOSTILE);
    out.json({ reason: HOSTILE });
    out.jsonLine({ reason: HOSTILE });
    const [printed, redrawn, ...json] = stdout.text().split('\n');
    expect(printed).toBe(terminalText(HOSTILE));
    expect(redrawn).toBe(terminalText(HOSTILE));
    expect(stderr.text()).toBe(`${terminalText(HOSTILE)}\n`);
    expect(stdout.text()).not.toMatch(CONTROL);
    const lines = json.filter((l) => l !== '');
    const pretty = lines.slice(0, -1).join('\n');
    expect(JSON.parse(pretty)).toEqual({ reason: HOSTILE });
    expect(JSON.parse(lines.at(-1)!)).toEqual({ reason: HOSTILE });
  });
});

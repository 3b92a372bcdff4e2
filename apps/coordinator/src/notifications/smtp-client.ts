// A minimal SMTP client over node:net (docs/adr/0032): EHLO (HELO as a fallback), MAIL, RCPT, DATA,
// QUIT, plain text in UTF-8. No STARTTLS and no AUTH: the coordinator hands mail to a relay it
// trusts (a local MTA or the site's relay on a private network), which does the rest.
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { hostname } from 'node:os';

export interface SmtpOptions {
  host: string;
  /** Default 25. */
  port?: number;
  /** The envelope and header sender, e.g. rollgate@example.com. */
  from: string;
  /** Name given in EHLO; default this machine's host name. */
  heloName?: string;
  /** The whole exchange must end within this, ms; default 20000. */
  timeoutMs?: number;
}

export interface MailMessage {
  to: string[];
  subject: string;
  text: string;
}

/** A refusal or a broken exchange; `code` is the server's reply code when it gave one. */
export class SmtpError extends Error {
  constructor(
    message: string,
    readonly code?: number,
  ) {
    super(message);
  }
}

/** A header value with no line breaks (no header injection), RFC 2047-encoded when not ASCII. */
export function headerValue(v: string): string {
  const flat = v.replace(/[\r\n]+/g, ' ');
  return /^[\x20-\x7e]*$/.test(flat) ? flat : `=?utf-8?B?${Buffer.from(flat, 'utf8').toString('base64')}?=`;
}

/** An address fit for `<…>` in the envelope: no spaces, brackets or line breaks. */
export function checkAddress(a: string): string {
  if (!/^[^\s<>@]+@[^\s<>@]+$/.test(a)) throw new SmtpError(`"${a}" is not an email address`);
  return a;
}

/** The message as sent after DATA: headers, body with CRLF line ends and leading dots doubled. */
export function formatMessage(from: string, m: MailMessage, now = new Date()): string {
  const domain = from.split('@')[1] ?? 'rollgate';
  const body = m.text
    .replace(/\r?\n/g, '\r\n')
    .split('\r\n')
    .map((l) => (l.startsWith('.') ? `.${l}` : l))
    .join('\r\n');
  return [
    `From: ${from}`,
    `To: ${m.to.join(', ')}`,
    `Subject: ${headerValue(m.subject)}`,
    `Date: ${now.toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <${randomBytes(12).toString('hex')}@${domain}>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    body,
  ].join('\r\n');
}

/** Reads replies (possibly multi-line: `250-…` then `250 …`) from the socket, one at a time. */
function replies(sock: Socket) {
  let buf = '';
  const lines: string[] = [];
  const waiting: ((r: { code: number; text: string } | Error) => void)[] = [];
  let failure: Error | null = null;
  const flush = () => {
    for (;;) {
      const end = lines.findIndex((l) => /^\d{3}(?: |$)/.test(l));
      if (end < 0 || waiting.length === 0) return;
      const reply = lines.splice(0, end + 1);
      const last = reply.at(-1)!;
      waiting.shift()!({ code: Number(last.slice(0, 3)), text: reply.map((l) => l.slice(4)).join(' ') });
    }
  };
  sock.setEncoding('utf8');
  sock.on('data', (d: string) => {
    buf += d;
    // A server that never ends a line cannot make us hold more than this.
    if (buf.length > 64 * 1024) sock.destroy(new SmtpError('SMTP reply line too long'));
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, i).replace(/\r$/, ''));
      buf = buf.slice(i + 1);
    }
    flush();
  });
  const fail = (err: Error) => {
    failure ??= err;
    for (const w of waiting.splice(0)) w(failure);
  };
  sock.on('error', fail);
  sock.on('close', () => fail(new SmtpError('the SMTP server closed the connection')));
  return (): Promise<{ code: number; text: string }> =>
    new Promise((resolve, reject) => {
      if (failure && lines.length === 0) return reject(failure);
      waiting.push((r) => (r instanceof Error ? reject(r) : resolve(r)));
      flush();
    });
}

/** Sends one message; resolves when the server accepted it (250 after DATA). */
export async function sendMail(opts: SmtpOptions, m: MailMessage): Promise<void> {
  if (m.to.length === 0) throw new SmtpError('no recipient');
  const from = checkAddress(opts.from);
  const to = m.to.map(checkAddress);
  const sock = connect({ host: opts.host, port: opts.port ?? 25 });
  sock.setTimeout(opts.timeoutMs ?? 20_000, () =>
    sock.destroy(new SmtpError(`no answer from the SMTP server within ${opts.timeoutMs ?? 20_000} ms`)),
  );
  const next = replies(sock);
  const expect = async (ok: (code: number) => boolean, what: string) => {
    const r = await next();
    if (!ok(r.code)) throw new SmtpError(`SMTP ${what} refused: ${r.code} ${r.text}`, r.code);
    return r;
  };
  const send = (line: string) => sock.write(`${line}\r\n`);
  try {
    await expect((c) => c === 220, 'greeting');
    const helo = opts.heloName ?? hostname();
    send(`EHLO ${helo}`);
    const ehlo = await next();
    if (ehlo.code !== 250) {
      send(`HELO ${helo}`);
      await expect((c) => c === 250, 'HELO');
    }
    send(`MAIL FROM:<${from}>`);
    await expect((c) => c === 250, 'MAIL FROM');
    for (const r of to) {
      send(`RCPT TO:<${r}>`);
      await expect((c) => c === 250 || c === 251, `RCPT TO ${r}`);
    }
    send('DATA');
    await expect((c) => c === 354, 'DATA');
    sock.write(`${formatMessage(from, { ...m, to })}\r\n.\r\n`);
    await expect((c) => c === 250, 'the message');
    send('QUIT');
    await next().catch(() => undefined);
  } finally {
    sock.destroy();
  }
}

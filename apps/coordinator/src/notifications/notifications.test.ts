// Issue 16 item 4: the pure parts of notifications: which lines are events, the payload with the
// reason and the choices, the webhook signature, and the SMTP message's framing.
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MSG } from '@rollgate/domain';
import type { LogRecord, RunRecord } from '@rollgate/engine';
import { eventOf, payloadOf } from './events';
import { contactEmails } from './notifier';
import { checkAddress, formatMessage, headerValue } from './smtp-client';
import { redactUrl, signature } from './webhook';

const plan = (procedure: string) => ({ plan: { procedure } }) as unknown as RunRecord;

function line(code: string, message: string): LogRecord {
  return {
    runId: 'r-1',
    actionId: null,
    serverId: null,
    stepIndex: null,
    at: Date.UTC(2026, 11, 6, 23, 0),
    level: 'info',
    code,
    message,
    source: 'engine',
  };
}

describe('notification events (issue 16 item 4)', () => {
  it('maps the engine codes to events, a rollback run completing to rolled-back', () => {
    expect(eventOf(MSG.runScheduled.code, plan('minor'))).toBe('scheduled');
    expect(eventOf(MSG.runStarted.code, plan('minor'))).toBe('started');
    expect(eventOf(MSG.phaseBegins.code, plan('major'))).toBe('phase');
    expect(eventOf(MSG.runPaused.code, plan('minor'))).toBe('paused');
    expect(eventOf(MSG.runFailedPaused.code, plan('minor'))).toBe('failed');
    expect(eventOf(MSG.rollbackProposed.code, plan('minor'))).toBe('rollback-proposed');
    expect(eventOf(MSG.stepWaitingSignOff.code, plan('minor'))).toBe('sign-off');
    expect(eventOf(MSG.runCompleted.code, plan('minor'))).toBe('succeeded');
    expect(eventOf(MSG.runCompleted.code, plan('rollback'))).toBe('rolled-back');
    expect(eventOf(MSG.rollbackStarted.code, plan('rollback'))).toBe('started');
    // The run being rolled back writes "rollback started" too: not a start of anything.
    expect(eventOf(MSG.rollbackStarted.code, plan('minor'))).toBeNull();
    expect(eventOf(MSG.actionDispatched.code, plan('minor'))).toBeNull();
  });

  it('a failed event carries the reason and the choices as commands', () => {
    const run = {
      id: 'r-1',
      status: 'paused',
      failure: 'step 2 failed: admin-2 did not become healthy',
      plan: { cluster: 'demo', service: 'demo-app', procedure: 'minor', toEdition: { name: '2.0' } },
    } as unknown as RunRecord;
    const p = payloadOf('failed', line(MSG.runFailedPaused.code, 'step failed'), run);
    expect(p).toMatchObject({
      event: 'failed',
      cluster: 'demo',
      runId: 'r-1',
      edition: '2.0',
      reason: 'step 2 failed: admin-2 did not become healthy',
      at: '2026-12-06T23:00:00.000Z',
    });
    expect(p.choices.map((c) => c.command)).toEqual([
      'rollgate upgrade resume r-1',
      'rollgate upgrade rollback r-1',
      'rollgate upgrade abort r-1',
    ]);
    expect(payloadOf('succeeded', line(MSG.runCompleted.code, 'done'), run)).toMatchObject({
      reason: null,
      choices: [],
    });
  });

  it('takes the email addresses among the contacts, once each', () => {
    expect(
      contactEmails({
        lead: { name: 'Lea', email: 'lea@example.com' },
        appAdmin: { name: 'Ada', phone: '+44 1' },
        lbAdmin: { name: 'Lou', email: 'lea@example.com' },
        onCall: [
          { role: 'database', name: 'Dee', contact: 'dee@example.com' },
          { role: 'network', name: 'Ned', contact: '+44 2' },
        ],
      }),
    ).toEqual(['lea@example.com', 'dee@example.com']);
    expect(contactEmails(undefined)).toEqual([]);
  });
});

describe('webhook signature and SMTP framing (issue 16 item 4)', () => {
  it('signs the body with HMAC-SHA256 of the secret, as sha256=<hex>', () => {
    const body = '{"event":"started"}';
    const expected = createHmac('sha256', 'k'.repeat(32)).update(body).digest('hex');
    expect(signature('k'.repeat(32), body)).toBe(`sha256=${expected}`);
    expect(signature('x'.repeat(32), body)).not.toBe(`sha256=${expected}`);
  });

  it('shows a webhook URL without its query (which may carry a token)', () => {
    expect(redactUrl('https://hooks.example.com/a/b?token=s3cret')).toBe('https://hooks.example.com/a/b');
  });

  it('doubles leading dots, ends lines with CRLF and keeps line breaks out of headers', () => {
    const m = formatMessage('rollgate@example.com', {
      to: ['a@example.com'],
      subject: 'hello\r\nBcc: evil@example.com',
      text: 'one\n.two\n..three',
    });
    expect(m).toContain('Subject: hello Bcc: evil@example.com\r\n');
    expect(m).not.toMatch(/\r\nBcc:/);
    expect(m.endsWith('one\r\n..two\r\n...three')).toBe(true);
    expect(headerValue('Café')).toBe(`=?utf-8?B?${Buffer.from('Café').toString('base64')}?=`);
    expect(() => checkAddress('a@b>\r\nRCPT TO:<c@d')).toThrow(/not an email address/);
  });
});

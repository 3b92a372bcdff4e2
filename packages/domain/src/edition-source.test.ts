import { describe, expect, it } from 'vitest';
import { checkEditionUrl, editionFetchBySchema, editionUrlForLogs } from './edition-source';

describe('edition URLs (issue 16 item 6, docs/adr/0039)', () => {
  it('keeps only origin and path for logs: a query string may be a signature', () => {
    expect(editionUrlForLogs('https://repo.example:8443/a/b.tgz?X-Sig=s3cret#frag')).toBe(
      'https://repo.example:8443/a/b.tgz',
    );
    expect(editionUrlForLogs('no url?s3cret')).toBe('(invalid URL)');
  });

  it('takes http(s) without credentials and says why anything else is refused', () => {
    expect(checkEditionUrl('http://127.0.0.1:8080/x.tgz?sig=1')).toMatchObject({ ok: true });
    expect(checkEditionUrl('ftp://repo.example/x.tgz')).toEqual({
      ok: false,
      error: 'editions are fetched over http or https only, not ftp',
    });
    const creds = checkEditionUrl('https://user:s3cret@repo.example/x.tgz');
    expect(creds).toMatchObject({ ok: false, error: expect.stringMatching(/user name or password/) });
    expect(JSON.stringify(creds)).not.toContain('s3cret');
    expect(checkEditionUrl(`https://repo.example/${'a'.repeat(4000)}`)).toMatchObject({ ok: false });
    expect(checkEditionUrl('repo.example/x.tgz')).toMatchObject({ ok: false, error: /not a URL/ });
  });

  it('names the two choices of --fetch-by when given another', () => {
    expect(editionFetchBySchema.parse('agents')).toBe('agents');
    expect(editionFetchBySchema.safeParse('servers').error?.issues[0]?.message).toMatch(
      /"coordinator" .* or "agents"/,
    );
  });
});

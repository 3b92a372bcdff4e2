import { ApiError, MAX_EDITION_BYTES, type ApiServices } from '@rollgate/api';
import { StoreConflictError, type EditionRecord } from '@rollgate/engine';
import { editionUrlForLogs } from '@rollgate/domain';
import { createEditionVerbs } from '../editions/edition-verbs';
import { checkFetchUrl } from '../editions/artifact-fetch';
import { ArtifactRefused } from '../editions/artifact-upload';
import type { CoordinatorServicesOptions, SharedServices } from './options';

/** Editions: uploads (inline, streamed, by URL), the edition verbs, the never-overwritten rule. */
export function createEditionServices(
  opts: CoordinatorServicesOptions,
  shared: SharedServices,
): ApiServices['editions'] {
  const { store, engine } = opts;
  const { routing } = shared;

  /** An edition name is never reused for an application (docs/adr/0005). */
  async function refuseTaken(app: string, name: string): Promise<void> {
    const existing = await store.getEdition(app, name);
    if (existing) {
      throw new ApiError(
        'CONFLICT',
        `Edition "${name}" of ${app} already exists (sha256 ${existing.sha256.slice(0, 12)}…). Editions are never overwritten: upload it under a new name such as "${name}_2".`,
      );
    }
  }

  /** Streamed and fetched archives: the store's refusals become the API's clear errors. */
  async function storeOrRefuse<T>(put: () => Promise<T>): Promise<T> {
    try {
      return await put();
    } catch (err) {
      if (err instanceof ArtifactRefused) {
        throw new ApiError(err.status === 413 ? 'PAYLOAD_TOO_LARGE' : 'BAD_REQUEST', err.message);
      }
      throw err;
    }
  }

  /** Records an archive already in the store as an edition, as every way of adding one does. */
  async function recordEdition(
    input: { app: string; name: string; description: string; dbUpgradeCommand?: string | undefined },
    sha256: string,
    size: number,
    actor: string,
    extra: Record<string, unknown> = {},
    origin: { fetchBy?: 'agents'; source?: string; fetchUrl?: string } = {},
  ) {
    const record: EditionRecord = {
      app: input.app,
      name: input.name,
      description: input.description,
      sha256,
      size,
      ...(input.dbUpgradeCommand ? { dbUpgradeCommand: input.dbUpgradeCommand } : {}),
      createdAt: opts.clock.now(),
      createdBy: actor,
      ...(origin.fetchBy ? { fetchBy: origin.fetchBy } : {}),
      ...(origin.source ? { source: origin.source } : {}),
    };
    try {
      await store.insertEdition(record, origin.fetchUrl);
    } catch (err) {
      if (err instanceof StoreConflictError) throw new ApiError('CONFLICT', err.message);
      throw err;
    }
    await store.appendAudit({
      at: opts.clock.now(),
      actor,
      action: 'edition.upload',
      target: `${input.app}/${input.name}`,
      details: { sha256, size, ...extra },
    });
    return record;
  }
  return {
    ...createEditionVerbs({ store, engine, routing }),
    checkUpload: (input) => refuseTaken(input.app, input.name),
    async upload(input, actor) {
      const content = Buffer.from(input.contentBase64, 'base64');
      if (content.length === 0)
        throw new ApiError('BAD_REQUEST', 'The archive is empty or not valid base64.');
      if (content.length > MAX_EDITION_BYTES) {
        throw new ApiError(
          'BAD_REQUEST',
          `The archive is ${content.length} bytes; at most ${MAX_EDITION_BYTES} are accepted.`,
        );
      }
      if (!(content[0] === 0x1f && content[1] === 0x8b)) {
        throw new ApiError('BAD_REQUEST', 'The archive is not gzip-compressed; upload a .tar.gz (tgz) file.');
      }
      const existing = await store.getEdition(input.app, input.name);
      if (existing) {
        throw new ApiError(
          'CONFLICT',
          `Edition "${input.name}" of ${input.app} already exists (sha256 ${existing.sha256.slice(0, 12)}…). Editions are never overwritten: upload it under a new name such as "${input.name}_2".`,
        );
      }
      const { sha256, size } = await opts.artifacts.put(content);
      return recordEdition(input, sha256, size, actor);
    },
    async addStream(input, body, actor) {
      const { sha256, size } = await storeOrRefuse(() =>
        opts.artifacts.putStream(body, { sha256: input.sha256, size: input.size }),
      );
      return recordEdition(input, sha256, size, actor, { streamed: true });
    },
    async addFromUrl(input, actor) {
      await refuseTaken(input.app, input.name);
      const from = editionUrlForLogs(input.url);
      if (input.fetchBy === 'agents') {
        // The coordinator never downloads it (docs/adr/0039): each agent fetches the URL and
        // verifies the sha256 when it stages the edition. Its size is what the operator said,
        // or 0 (unknown: agents then bound it by their own limit).
        await storeOrRefuse(async () => checkFetchUrl(input.url));
        return recordEdition(
          input,
          input.sha256,
          input.size ?? 0,
          actor,
          { from, fetchBy: 'agents' },
          { fetchBy: 'agents', source: from, fetchUrl: input.url },
        );
      }
      const { sha256, size } = await storeOrRefuse(() => opts.artifacts.putFromUrl(input.url, input.sha256));
      return recordEdition(input, sha256, size, actor, { from }, { source: from });
    },
  };
}

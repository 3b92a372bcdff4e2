import { ApiError } from '../errors';
import { t, viewer, operator } from '../trpc';
import {
  editionUploadInput,
  editionStreamInput,
  editionFromUrlInput,
  editionsListInput,
  editionActivateInput,
  editionBackoutInput,
  editionInstallInput,
  editionRolloutInput,
  editionValidateInput,
  editionDeactivateInput,
  editionStatusInput,
} from '../inputs';

export const editionsRouter = t.router({
  list: viewer.input(editionsListInput).query(({ ctx, input }) => ctx.services.queries.editions(input.app)),
  upload: operator
    .input(editionUploadInput)
    .mutation(({ ctx, input }) => ctx.services.editions.upload(input, ctx.actor)),
  /**
   * The check a streamed upload (PUT /upload/edition) makes before it reads the body: the
   * caller's role and token scope, the fields, and that the name is free (docs/adr/0036).
   */
  uploadCheck: operator.input(editionStreamInput).mutation(async ({ ctx, input }) => {
    await ctx.services.editions.checkUpload(input);
    return { ok: true as const };
  }),
  addFromUrl: operator.input(editionFromUrlInput).mutation(({ ctx, input }) => {
    const add = ctx.services.editions.addFromUrl;
    if (!add) throw new ApiError('PRECONDITION_FAILED', 'This coordinator cannot fetch editions by URL.');
    return add(input, ctx.actor);
  }),
  install: operator
    .input(editionInstallInput)
    .mutation(async ({ ctx, input }) =>
      ctx.services.queries.runView(await ctx.services.editions.install(input, ctx.actor)),
    ),
  activate: operator
    .input(editionActivateInput)
    .mutation(async ({ ctx, input }) =>
      ctx.services.queries.runView(await ctx.services.editions.activate(input, ctx.actor)),
    ),
  rollout: operator
    .input(editionRolloutInput)
    .mutation(async ({ ctx, input }) =>
      ctx.services.queries.runView(await ctx.services.editions.rollout(input, ctx.actor)),
    ),
  validate: operator
    .input(editionValidateInput)
    .mutation(async ({ ctx, input }) =>
      ctx.services.queries.runView(await ctx.services.editions.validate(input, ctx.actor)),
    ),
  deactivate: operator
    .input(editionDeactivateInput)
    .mutation(async ({ ctx, input }) =>
      ctx.services.queries.runView(await ctx.services.editions.deactivate(input, ctx.actor)),
    ),
  /** The plan a rollout would run (groups, phases, window), compiled without starting anything. */
  plan: viewer.input(editionRolloutInput).query(({ ctx, input }) => ctx.services.editions.plan(input)),
  backout: operator
    .input(editionBackoutInput)
    .mutation(async ({ ctx, input }) =>
      ctx.services.queries.runView(await ctx.services.editions.backout(input, ctx.actor)),
    ),
  /** The seed's edition metadata: each edition's state per target, which one is the base. */
  status: viewer
    .input(editionStatusInput)
    .query(({ ctx, input }) => ctx.services.queries.editionStatus(input)),
  /** Each edition's state (ACTIVE / VALIDATING / INACTIVE) per cluster, with where it is installed. */
  states: viewer
    .input(editionsListInput)
    .query(({ ctx, input }) => ctx.services.queries.editionStates(input.app)),
});

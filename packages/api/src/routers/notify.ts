import { TRPCError } from '@trpc/server';
import { t, viewer, operator } from '../trpc';
import {
  notifyDeliveriesInput,
  notifyListInput,
  notifyPortalLinkInput,
  notifyRef,
  notifySubscribeInput,
  type NotifyServices,
} from '../notify-router';
import type { ApiContext } from '../api-services';

/** Notifications (docs/adr/0032): per-cluster subscriptions to run events; secrets never answered. */
export const notifyRouter = t.router({
  subscribe: operator
    .input(notifySubscribeInput)
    .mutation(({ ctx, input }) => notifications(ctx).subscribe(input, ctx.actor)),
  list: viewer.input(notifyListInput).query(({ ctx, input }) => notifications(ctx).list(input.cluster)),
  remove: operator
    .input(notifyRef)
    .mutation(({ ctx, input }) => notifications(ctx).remove(input.id, ctx.actor)),
  deliveries: viewer
    .input(notifyDeliveriesInput)
    .query(({ ctx, input }) => notifications(ctx).deliveries(input)),
  emailPortalLink: operator
    .input(notifyPortalLinkInput)
    .mutation(({ ctx, input }) => notifications(ctx).emailPortalLink(input, ctx.actor)),
});

function notifications(ctx: ApiContext): NotifyServices {
  if (!ctx.services.notify) {
    throw new TRPCError({ code: 'NOT_IMPLEMENTED', message: 'This coordinator has no notifications.' });
  }
  return ctx.services.notify;
}

-- Editions agents fetch by URL themselves (issue 16 item 6, docs/adr/0039): who downloads the
-- archive, the origin and path it came from (safe to show), and the full URL handed to agents
-- (it may carry a signature; never shown, logged or audited).
ALTER TABLE "editions" ADD COLUMN "fetch_by" text DEFAULT 'coordinator' NOT NULL;--> statement-breakpoint
ALTER TABLE "editions" ADD COLUMN "source" text;--> statement-breakpoint
ALTER TABLE "editions" ADD COLUMN "fetch_url" text;--> statement-breakpoint
ALTER TABLE "editions" ADD CONSTRAINT "editions_fetch_by_check" CHECK ("fetch_by" IN ('coordinator', 'agents'));

-- Issue 16 item 4 (docs/adr/0032): per-cluster subscriptions to run events, and their deliveries.
-- A delivery is written before it is sent, so a coordinator that stops or crashes loses none: any
-- coordinator on this database claims due rows (FOR UPDATE SKIP LOCKED) and sends them.
CREATE TABLE "notify_subscriptions" (
	"id" text PRIMARY KEY NOT NULL,
	"cluster" text NOT NULL,
	"kind" text NOT NULL,
	"url" text,
	"secret" text,
	"events" text[] NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "notify_subscriptions_kind_check" CHECK ("kind" IN ('webhook', 'email')),
	CONSTRAINT "notify_subscriptions_webhook_check" CHECK ("kind" <> 'webhook' OR ("url" IS NOT NULL AND "secret" IS NOT NULL))
);
--> statement-breakpoint
CREATE INDEX "notify_subscriptions_cluster_idx" ON "notify_subscriptions" USING btree ("cluster");
--> statement-breakpoint
CREATE TABLE "notify_deliveries" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"subscription_id" text NOT NULL REFERENCES "notify_subscriptions"("id") ON DELETE CASCADE,
	"run_id" text,
	"event" text NOT NULL,
	"payload" jsonb NOT NULL,
	"status" text NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_at" timestamp with time zone NOT NULL,
	"last_status" integer,
	"last_error" text,
	"created_at" timestamp with time zone NOT NULL,
	"finished_at" timestamp with time zone,
	CONSTRAINT "notify_deliveries_status_check" CHECK ("status" IN ('pending', 'delivered', 'failed'))
);
--> statement-breakpoint
CREATE INDEX "notify_deliveries_due_idx" ON "notify_deliveries" USING btree ("next_at") WHERE "status" = 'pending';
--> statement-breakpoint
CREATE INDEX "notify_deliveries_subscription_idx" ON "notify_deliveries" USING btree ("subscription_id", "id");

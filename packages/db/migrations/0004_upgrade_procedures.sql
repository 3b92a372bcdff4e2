ALTER TABLE "actions" ADD COLUMN "result" jsonb;--> statement-breakpoint
ALTER TABLE "clusters" ADD COLUMN "settings" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "scheduled_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "options" jsonb DEFAULT '{"onFailure":"pause","windowEndsAt":null,"rollbackAlertMs":3600000,"backupLabel":null}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "readiness" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "excluded" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "proposal" jsonb;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "parent_run_id" text;
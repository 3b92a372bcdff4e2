-- Issue 17 items 2 and 4 (docs/adr/0019): log lines are pruned by when this coordinator stored them
-- (an agent's own clock decides nothing), and batches that can never be stored are set aside here
-- instead of being retried for ever.
-- now() is stable: existing chunks get the migration's time without a table rewrite.
ALTER TABLE "log_chunks" ADD COLUMN "stored_at" timestamp with time zone DEFAULT now() NOT NULL;
--> statement-breakpoint
-- BRIN: chunks are stored in time order, so a few bytes per range of pages find the old ones, and
-- ingest pays next to nothing for it (a btree is one more index entry per chunk).
CREATE INDEX "log_chunks_stored_at_idx" ON "log_chunks" USING brin ("stored_at");
--> statement-breakpoint
CREATE TABLE "log_dead_letters" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"reason" text NOT NULL,
	"line_count" integer NOT NULL,
	"server_ids" text[] NOT NULL,
	"run_ids" text[] NOT NULL,
	"lines" jsonb NOT NULL
);
--> statement-breakpoint
CREATE INDEX "log_dead_letters_at_idx" ON "log_dead_letters" USING btree ("at");

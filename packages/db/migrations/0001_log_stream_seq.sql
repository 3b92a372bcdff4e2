ALTER TABLE "log_lines" ADD COLUMN "stream_id" text;--> statement-breakpoint
ALTER TABLE "log_lines" ADD COLUMN "seq" bigint;--> statement-breakpoint
CREATE UNIQUE INDEX "log_lines_stream_seq_uq" ON "log_lines" USING btree ("server_id","stream_id","seq");
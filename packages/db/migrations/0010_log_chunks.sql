-- Log lines move from one row per line to chunks of lines (see log_chunks in schema.ts): ingest was
-- bound by index maintenance per row. Existing lines become one-line chunks that keep their ids as
-- chunk ids, so a line's id becomes id × 1024 (a follower's cursor from before the upgrade sees a
-- line again at most once); new chunks are numbered after them.
CREATE TABLE "log_chunks" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"run_id" text,
	"action_id" text,
	"server_id" text,
	"step_index" integer,
	"source" text NOT NULL,
	"stream_id" text,
	"ats" bigint[] NOT NULL,
	"levels" text[] NOT NULL,
	"codes" text[] NOT NULL,
	"messages" text[] NOT NULL,
	"seqs" bigint[]
);
--> statement-breakpoint
CREATE TABLE "log_streams" (
	"server_id" text NOT NULL,
	"stream_id" text NOT NULL,
	"stored_seq" bigint NOT NULL,
	CONSTRAINT "log_streams_pk" PRIMARY KEY("server_id","stream_id")
);
--> statement-breakpoint
-- A chunk of agent output (50 lines of ~100 bytes) is ~5 KB: kept whole in the table row instead of
-- moved to TOAST past 2 KB (and tried for compression first), which cost a third of ingest here.
ALTER TABLE "log_chunks" SET (toast_tuple_target = 8160);
--> statement-breakpoint
INSERT INTO "log_chunks" ("id", "run_id", "action_id", "server_id", "step_index", "source", "stream_id", "ats", "levels", "codes", "messages", "seqs")
  SELECT "id", "run_id", "action_id", "server_id", "step_index", "source", "stream_id",
    ARRAY[round(extract(epoch FROM "at") * 1000)::bigint], ARRAY["level"], ARRAY["code"], ARRAY["message"],
    CASE WHEN "seq" IS NULL THEN NULL ELSE ARRAY["seq"] END
  FROM "log_lines" ORDER BY "id";
--> statement-breakpoint
SELECT setval(pg_get_serial_sequence('log_chunks', 'id'), coalesce((SELECT max("id") FROM "log_chunks"), 0) + 1, false);
--> statement-breakpoint
INSERT INTO "log_streams" ("server_id", "stream_id", "stored_seq")
  SELECT "server_id", "stream_id", max("seq") FROM "log_lines"
  WHERE "server_id" IS NOT NULL AND "stream_id" IS NOT NULL AND "seq" IS NOT NULL
  GROUP BY "server_id", "stream_id";
--> statement-breakpoint
DROP TABLE "log_lines" CASCADE;--> statement-breakpoint
CREATE INDEX "log_chunks_run_id_idx" ON "log_chunks" USING btree ("run_id","id");--> statement-breakpoint
CREATE INDEX "log_chunks_server_id_idx" ON "log_chunks" USING btree ("server_id","id");--> statement-breakpoint
-- One row per line, for reading in psql (the store reads log_chunks itself, to use its indexes).
CREATE VIEW "log_lines" AS
  SELECT c."id" * 1024 + u.ord - 1 AS "id", c."run_id", c."action_id", c."server_id", c."step_index",
    to_timestamp(u.at / 1000.0) AS "at", u.level AS "level", u.code AS "code", u.message AS "message",
    c."source", c."stream_id", u.seq AS "seq"
  FROM "log_chunks" c
  CROSS JOIN LATERAL unnest(c."ats", c."levels", c."codes", c."messages", c."seqs")
    WITH ORDINALITY AS u(at, level, code, message, seq, ord);

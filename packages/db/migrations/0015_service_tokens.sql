-- Service tokens for CI (issue 16 item 5, docs/adr/0031): a role and an optional cluster scope, an
-- expiry, revocation and the last use. The token is stored as its sha256 only.
CREATE TABLE "service_tokens" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"role" text NOT NULL,
	"cluster" text,
	"token_hash" text NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"revoked_at" timestamp with time zone,
	"revoked_by" text,
	"last_used_at" timestamp with time zone,
	"last_used_from" text,
	CONSTRAINT "service_tokens_token_hash_unique" UNIQUE("token_hash")
);
--> statement-breakpoint
CREATE UNIQUE INDEX "service_tokens_live_name_idx" ON "service_tokens" USING btree ("name") WHERE "service_tokens"."revoked_at" IS NULL;

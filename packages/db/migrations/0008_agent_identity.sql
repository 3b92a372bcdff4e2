CREATE TABLE "agent_certificates" (
	"serial" text PRIMARY KEY NOT NULL,
	"server_id" text NOT NULL,
	"cluster" text,
	"issued_at" timestamp with time zone NOT NULL,
	"not_after" timestamp with time zone NOT NULL,
	"via" text NOT NULL,
	"revoked_at" timestamp with time zone,
	"revoked_by" text
);
--> statement-breakpoint
CREATE TABLE "agent_transports" (
	"server_id" text PRIMARY KEY NOT NULL,
	"transport" text NOT NULL,
	"at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "join_tokens" (
	"id" text PRIMARY KEY NOT NULL,
	"secret_hash" text NOT NULL,
	"cluster" text,
	"created_by" text NOT NULL,
	"created_from" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"used_at" timestamp with time zone,
	"used_by" text
);
--> statement-breakpoint
CREATE INDEX "agent_certificates_server_idx" ON "agent_certificates" USING btree ("server_id");
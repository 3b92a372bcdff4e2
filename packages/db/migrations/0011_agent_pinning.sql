-- Agents trusted only for their own server (docs/adr/0018): a join token may name the one server
-- id it enrols; a certificate pins the agent's role (and cluster) at its first Hello.
ALTER TABLE "join_tokens" ADD COLUMN "server_id" text;
--> statement-breakpoint
ALTER TABLE "agent_certificates" ADD COLUMN "role" text;
--> statement-breakpoint
-- Certificates issued before pinning: their server's cluster and role as it last said Hello, so a
-- running fleet keeps working after the upgrade. A certificate whose server never said Hello is
-- pinned by its first one.
UPDATE "agent_certificates" AS c SET "cluster" = s."cluster" FROM "servers" AS s
  WHERE c."cluster" IS NULL AND s."id" = c."server_id";
--> statement-breakpoint
UPDATE "agent_certificates" AS c SET "role" = s."role" FROM "servers" AS s
  WHERE c."role" IS NULL AND s."id" = c."server_id";

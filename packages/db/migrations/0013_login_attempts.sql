-- Sign-in attempts counted per key (user name and address, or address alone) in a fixed window,
-- shared by every coordinator on this database: N coordinators allow the budget of one
-- (docs/adr/0020). An attempt is counted before its password is hashed.
CREATE TABLE "login_attempts" (
	"key" text PRIMARY KEY NOT NULL,
	"window_start" bigint NOT NULL,
	"count" integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX "login_attempts_window_idx" ON "login_attempts" USING btree ("window_start");

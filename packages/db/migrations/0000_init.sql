CREATE TABLE "actions" (
	"id" text PRIMARY KEY NOT NULL,
	"run_id" text NOT NULL,
	"step_index" integer NOT NULL,
	"server_id" text NOT NULL,
	"attempt" integer NOT NULL,
	"ops" jsonb NOT NULL,
	"status" text NOT NULL,
	"error" text,
	"created_at" timestamp with time zone NOT NULL,
	"dispatched_at" timestamp with time zone,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "audit_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"actor" text NOT NULL,
	"action" text NOT NULL,
	"target" text NOT NULL,
	"details" jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "clusters" (
	"name" text PRIMARY KEY NOT NULL,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "editions" (
	"app" text NOT NULL,
	"name" text NOT NULL,
	"description" text,
	"sha256" text NOT NULL,
	"size" bigint NOT NULL,
	"db_upgrade_command" text,
	"created_at" timestamp with time zone NOT NULL,
	"created_by" text NOT NULL,
	CONSTRAINT "editions_pk" PRIMARY KEY("app","name")
);
--> statement-breakpoint
CREATE TABLE "lb_ledger" (
	"run_id" text NOT NULL,
	"server_id" text NOT NULL,
	"step_index" integer NOT NULL,
	"closed_at" timestamp with time zone NOT NULL,
	"reopened_at" timestamp with time zone,
	CONSTRAINT "lb_ledger_pk" PRIMARY KEY("run_id","server_id","step_index")
);
--> statement-breakpoint
CREATE TABLE "log_lines" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"run_id" text,
	"action_id" text,
	"server_id" text,
	"step_index" integer,
	"at" timestamp with time zone NOT NULL,
	"level" text NOT NULL,
	"code" text NOT NULL,
	"message" text NOT NULL,
	"source" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "runs" (
	"id" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"status" text NOT NULL,
	"plan" jsonb NOT NULL,
	"current_step" integer NOT NULL,
	"failure" text,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"version" integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE "servers" (
	"id" text PRIMARY KEY NOT NULL,
	"cluster" text NOT NULL,
	"role" text NOT NULL,
	"hostname" text NOT NULL,
	"agent_version" text NOT NULL,
	"capabilities" jsonb NOT NULL,
	"gate_url" text NOT NULL,
	"status" text NOT NULL,
	"gate_open" boolean NOT NULL,
	"services" jsonb NOT NULL,
	"last_heartbeat_at" timestamp with time zone,
	"connected_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "steps" (
	"run_id" text NOT NULL,
	"index" integer NOT NULL,
	"status" text NOT NULL,
	"attempt" integer NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"error" text,
	CONSTRAINT "steps_pk" PRIMARY KEY("run_id","index")
);
--> statement-breakpoint
ALTER TABLE "actions" ADD CONSTRAINT "actions_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "lb_ledger" ADD CONSTRAINT "lb_ledger_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "servers" ADD CONSTRAINT "servers_cluster_clusters_name_fk" FOREIGN KEY ("cluster") REFERENCES "public"."clusters"("name") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "steps" ADD CONSTRAINT "steps_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "actions_run_step_idx" ON "actions" USING btree ("run_id","step_index");--> statement-breakpoint
CREATE INDEX "actions_server_status_idx" ON "actions" USING btree ("server_id","status");--> statement-breakpoint
CREATE INDEX "log_lines_run_id_idx" ON "log_lines" USING btree ("run_id","id");--> statement-breakpoint
CREATE INDEX "runs_status_idx" ON "runs" USING btree ("status");--> statement-breakpoint
CREATE INDEX "runs_created_at_idx" ON "runs" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "servers_cluster_idx" ON "servers" USING btree ("cluster");
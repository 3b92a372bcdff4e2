-- Each balancer's view on the LB ledger (docs/adr/0026): per cluster, balancer, server and pool,
-- the state Rollgate last set there and when, so a balancer of an HA pair that missed changes
-- while it did not answer is seen to disagree with the other.
CREATE TABLE "lb_ledger_views" (
	"cluster" text NOT NULL,
	"balancer" text NOT NULL,
	"server_id" text NOT NULL,
	"pool" text NOT NULL,
	"backend" text NOT NULL,
	"server" text NOT NULL,
	"state" text NOT NULL,
	"set_at" bigint NOT NULL,
	CONSTRAINT "lb_ledger_views_pk" PRIMARY KEY("cluster","balancer","server_id","pool")
);
--> statement-breakpoint
ALTER TABLE "lb_ledger_views" ADD CONSTRAINT "lb_ledger_views_cluster_clusters_name_fk" FOREIGN KEY ("cluster") REFERENCES "public"."clusters"("name") ON DELETE cascade ON UPDATE no action;

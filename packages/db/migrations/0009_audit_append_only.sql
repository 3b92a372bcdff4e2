-- The audit log is append-only: the database itself refuses to change or remove an entry, whatever
-- the application does (TRUNCATE stays possible for the table's owner, e.g. to reset a test database).
CREATE OR REPLACE FUNCTION rollgate_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP
    USING HINT = 'Audit entries are never changed or removed.';
END
$$;
--> statement-breakpoint
DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events;
--> statement-breakpoint
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION rollgate_audit_append_only();

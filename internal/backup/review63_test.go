package backup_test

import (
	"context"
	"crypto/rand"
	"net/url"
	"strings"
	"testing"

	"github.com/dissent-channel/dissent/internal/backup"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// TestReview63RestoredPostgresRefusesAnEventTrigger: `dissent restore
// --postgres` trusts a dump "no more than a snapshot" and refuses one whose
// schema holds a trigger, rule, view, policy, function or operator, or calls
// a function outside pg_catalog (docs/OPERATIONS.md, "Back up and restore").
// An event trigger is no object of the schema, and its function can live in
// a schema of its own, so neither check sees it; pg_dump carries both, and
// pg_restore run as the server's superuser (as `createdb dissent_restored &&
// pg_restore` is, in the documented procedure) brings them back. It then
// runs at the next DDL in that database, which the next upgrade's migration
// is, with the migrating role's rights: here it rewrites a ledger leaf, and
// it could as well add a trigger to any table after the restore's checks.
func TestReview63RestoredPostgresRefusesAnEventTrigger(t *testing.T) {
	ctx := context.Background()
	base, admin := storetest.PostgresAdmin(t)
	// A database of its own: an event trigger acts in the whole database,
	// and the test server's is shared.
	name := "r63_evt_" + strings.ToLower(rand.Text()[:10])
	if _, err := admin.ExecContext(ctx, `CREATE DATABASE `+name); err != nil {
		t.Skipf("cannot create a database (an event trigger needs one of its own, and a superuser): %v", err)
	}
	t.Cleanup(func() { _, _ = admin.ExecContext(context.Background(), `DROP DATABASE `+name+` WITH (FORCE)`) })
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	st, vkey, note := pgDeployment(t, u.String())

	// What the dump brought back besides Dissent's own schema.
	if _, err := st.Raw().ExecContext(ctx, `CREATE SCHEMA r63_elsewhere;
		CREATE FUNCTION r63_elsewhere.act() RETURNS event_trigger LANGUAGE plpgsql AS $$
		BEGIN
			UPDATE public.ledger_leaves SET data = convert_to('{"action":"rewritten after the restore verified it"}', 'UTF8') WHERE idx = 0;
		END $$;
		CREATE EVENT TRIGGER r63_on_ddl ON ddl_command_end EXECUTE FUNCTION r63_elsewhere.act();`); err != nil {
		t.Fatal(err)
	}

	_, err = backup.RestoredPostgres(ctx, st, vkey, backup.Pins{Key: vkey, Checkpoint: note})
	if err != nil && strings.Contains(err.Error(), "r63_") {
		return
	}
	t.Errorf("RestoredPostgres accepts a database holding an event trigger of someone's (error: %v)", err)
	// The next migration (any DDL) runs it.
	if _, err := st.Raw().ExecContext(ctx, `CREATE INDEX r63_a_migration ON notifications (created_at)`); err != nil {
		t.Fatal(err)
	}
	if _, err := backup.Verify(ctx, st, note, vkey); err != nil {
		t.Errorf("after the next DDL the restored ledger no longer verifies against the checkpoint it was checked against: %v", err)
	}
}

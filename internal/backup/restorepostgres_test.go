package backup_test

// RestoredPostgres (`dissent restore --postgres`) and the snapshot's
// configuration at a restore.

import (
	"context"
	"crypto/rand"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dissent-channel/dissent/internal/backup"
	"github.com/dissent-channel/dissent/internal/store/postgres"
	"github.com/dissent-channel/dissent/internal/store/sqlstore"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// pgDeployment fills a PostgreSQL store at dsn (migrated here) and signs
// a checkpoint; it returns the store, the ledger's public key and the
// checkpoint.
func pgDeployment(t *testing.T, dsn string) (*sqlstore.DB, string, []byte) {
	t.Helper()
	ctx := context.Background()
	st, err := postgres.Open(ctx, dsn, postgres.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	d, _, _ := deployment(t, st)
	note, err := d.Svc.SignCheckpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return st, d.LedgerVKey, note
}

// TestRestoredPostgresRefusesAFunctionInAColumnDefault: a column default
// that calls a function acts just as a trigger does: the app's INSERT INTO
// notifications leaves sent_at to its default, so every notice written
// after the restore would run it (here: rewrite a ledger leaf). A dump
// holding one is refused.
func TestRestoredPostgresRefusesAFunctionInAColumnDefault(t *testing.T) {
	ctx := context.Background()
	sc := storetest.NewPostgresSchema(t, "r36_default_")
	st, vkey, note := pgDeployment(t, sc.DSN)
	if _, err := st.Raw().ExecContext(ctx, `CREATE FUNCTION r36_act() RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
		BEGIN
			UPDATE ledger_leaves SET data = convert_to('{"action":"rewritten after the restore verified it"}', 'UTF8') WHERE idx = 0;
			RETURN 0;
		END $$;
		ALTER TABLE notifications ALTER COLUMN sent_at SET DEFAULT r36_act()`); err != nil {
		t.Fatal(err)
	}
	_, err := backup.RestoredPostgres(ctx, st, vkey, backup.Pins{Key: vkey, Checkpoint: note})
	if err != nil && strings.Contains(err.Error(), "a call of r36_act()") {
		return
	}
	t.Errorf("a dump whose column default calls a function: %v", err)
	// The app's own insert (sqlstore/notifications.go) names every column
	// but sent_at and mail_error.
	var user string
	if err := st.Raw().QueryRowContext(ctx, `SELECT id FROM users LIMIT 1`).Scan(&user); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Raw().ExecContext(ctx, `INSERT INTO notifications (id, seq, user_id, kind, memo_id, due_at, created_at, read, email, email_state, attempts, next_try)
		VALUES ('r36-notice', 1000, $1, 'memo.submitted', 'x', 0, 0, 0, '', 'none', 0, 0)`, user); err != nil {
		t.Fatal(err)
	}
	if _, err := backup.Verify(ctx, st, note, vkey); err != nil {
		t.Fatalf("RestoredPostgres accepted a database whose column default runs a function of someone's, and after one notice its ledger no longer verifies against the checkpoint it was checked against: %v", err)
	}
}

// TestRestoredPostgresInAMixedCaseSchema: the store works in any schema
// its search_path names, "R36_Mixed_…" too, and so does the check of a
// restored database.
func TestRestoredPostgresInAMixedCaseSchema(t *testing.T) {
	ctx := context.Background()
	base, admin := storetest.PostgresAdmin(t)
	name := "R36_Mixed_" + strings.ToLower(rand.Text()[:8])
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA "`+name+`"`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = admin.ExecContext(context.Background(), `DROP SCHEMA "`+name+`" CASCADE`) })
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", `"`+name+`"`)
	u.RawQuery = q.Encode()
	st, vkey, note := pgDeployment(t, u.String())
	var schema string
	if err := st.Raw().QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil || schema != name {
		t.Fatalf("the store is in schema %q (%v), want %q", schema, err, name)
	}
	if _, err := backup.RestoredPostgres(ctx, st, vkey, backup.Pins{Key: vkey, Checkpoint: note}); err != nil {
		t.Fatalf("RestoredPostgres of a sound database in the schema %q: %v", name, err)
	}
}

// TestRestoreTakesAConfigurationCompletedByTheEnvironment: a deployment
// whose dissent.toml sets [smtp] and leaves base_url to DISSENT_BASE_URL
// serves, and `dissent backup` copies that dissent.toml; restore reads it
// for what it must refuse (another store) without the checks that need
// the serving machine's environment.
func TestRestoreTakesAConfigurationCompletedByTheEnvironment(t *testing.T) {
	ctx := context.Background()
	snap, d := snapshotOf(t)
	toml := "[smtp]\nhost = \"mail.example.gov\"\nfrom = \"dissent@example.gov\"\n# server.base_url: DISSENT_BASE_URL\n"
	if err := os.WriteFile(filepath.Join(snap, "dissent.toml"), []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := backup.Restore(ctx, snap, filepath.Join(t.TempDir(), "restored"), backup.Pins{Key: d.LedgerVKey}); err != nil {
		t.Fatalf("restore of a sound snapshot whose dissent.toml leaves base_url to DISSENT_BASE_URL: %v", err)
	}
}

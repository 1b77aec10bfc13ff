package backup_test

// A review (helper-42) found: restore and export must keep every row, and must refuse a
// ledger whose rows were changed. The tests before these only ever restore
// sound ledgers (or ones cut at the tail), and compare only the few memos
// they open, so dropping a row of access or notifications in the copy, or
// skipping the ledger's self-check in Verify, went unnoticed.

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dissent-channel/dissent/internal/backup"
	"github.com/dissent-channel/dissent/internal/store/sqlite"
	"github.com/dissent-channel/dissent/internal/store/sqlstore"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// tablesIn names the tables of a SQLite database that hold the
// deployment's rows (as restore sees them), sessions excepted.
func tablesIn(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query(`SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT IN ('schema_migrations', 'sessions') ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func countRows(t *testing.T, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, query string) int {
	t.Helper()
	var n int
	if err := q.QueryRowContext(context.Background(), query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// TestRestoreKeepsEveryRow: every row of every table of the snapshot
// (but the sessions) is in the restored database, unchanged, and nothing
// else is.
func TestRestoreKeepsEveryRow(t *testing.T) {
	ctx := context.Background()
	snap, d := snapshotOf(t)
	restored := filepath.Join(t.TempDir(), "restored")
	if _, err := backup.Restore(ctx, snap, restored, backup.Pins{Key: d.LedgerVKey}); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(restored, "dissent.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `ATTACH DATABASE ? AS snap`, "file:"+filepath.Join(snap, "dissent.db")+"?mode=ro"); err != nil {
		t.Fatal(err)
	}
	tables := tablesIn(t, db)
	for _, want := range []string{"users", "memos", "revisions", "access", "notifications", "ledger_leaves", "checkpoints"} {
		if countRows(t, conn, `SELECT COUNT(*) FROM snap.`+want) == 0 {
			t.Fatalf("the snapshot holds no row of %s: the comparison below would prove nothing about it", want)
		}
	}
	for _, tb := range tables {
		cols := columnsIn(t, conn, tb)
		a := countRows(t, conn, `SELECT COUNT(*) FROM snap.`+tb)
		b := countRows(t, conn, `SELECT COUNT(*) FROM main.`+tb)
		if a != b {
			t.Errorf("table %s: %d rows in the snapshot, %d restored", tb, a, b)
			continue
		}
		missing := countRows(t, conn, `SELECT COUNT(*) FROM (SELECT `+cols+` FROM snap.`+tb+` EXCEPT SELECT `+cols+` FROM main.`+tb+`)`)
		extra := countRows(t, conn, `SELECT COUNT(*) FROM (SELECT `+cols+` FROM main.`+tb+` EXCEPT SELECT `+cols+` FROM snap.`+tb+`)`)
		if missing != 0 || extra != 0 {
			t.Errorf("table %s: %d rows of the snapshot not restored as they were, %d restored that it does not hold", tb, missing, extra)
		}
	}
}

func columnsIn(t *testing.T, conn *sql.Conn, table string) string {
	t.Helper()
	rows, err := conn.QueryContext(context.Background(), `SELECT name FROM pragma_table_info(?, 'main')`, table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, `"`+s+`"`)
	}
	return strings.Join(cols, ", ")
}

// TestRestoreRefusesATamperedLeaf: a snapshot one of whose ledger leaves
// was rewritten (its checkpoints left as they were) is refused.
func TestRestoreRefusesATamperedLeaf(t *testing.T) {
	snap, d := snapshotOf(t)
	tamper(t, snap, `UPDATE ledger_leaves SET data = CAST('{"action":"memo.create","rewritten":true}' AS BLOB) WHERE idx = 1`)
	restoreFails(t, snap, backup.Pins{Key: d.LedgerVKey}, "does not verify")
}

// TestExportKeepsEveryRowAndRefusesATamperedLedger: the copy to
// PostgreSQL holds as many rows of each table as the source (sessions
// excepted), and Verify refuses a copy whose source had a leaf rewritten.
func TestExportKeepsEveryRowAndRefusesATamperedLedger(t *testing.T) {
	ctx := context.Background()
	src, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "dissent.db"), sqlite.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	d, _, _ := deployment(t, src)
	note, err := d.Svc.SignCheckpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dst := storetest.OpenPostgres(t).(*sqlstore.DB)
	if _, _, err := backup.Copy(ctx, src, dst); err != nil {
		t.Fatal(err)
	}
	if _, err := backup.Verify(ctx, dst, note, d.LedgerVKey); err != nil {
		t.Fatal(err)
	}
	for _, tb := range tablesIn(t, src.Raw()) {
		a := countRows(t, src.Raw(), `SELECT COUNT(*) FROM `+tb)
		b := countRows(t, dst.Raw(), `SELECT COUNT(*) FROM `+tb)
		if a != b {
			t.Errorf("table %s: %d rows in the source, %d in the PostgreSQL copy", tb, a, b)
		}
	}

	// A source whose leaf was rewritten: the copy must not verify.
	if _, err := src.Raw().ExecContext(ctx, `UPDATE ledger_leaves SET data = CAST('{"action":"memo.create","rewritten":true}' AS BLOB) WHERE idx = 1`); err != nil {
		t.Fatal(err)
	}
	bad := storetest.OpenPostgres(t).(*sqlstore.DB)
	if _, _, err := backup.Copy(ctx, src, bad); err != nil {
		t.Fatal(err)
	}
	if _, err := backup.Verify(ctx, bad, note, d.LedgerVKey); err == nil || !strings.Contains(err.Error(), "does not verify") {
		t.Fatalf("Verify of a PostgreSQL copy whose ledger leaf 1 was rewritten: %v, want it refused", err)
	}
}

// TestRestoredPostgresRefusesATamperedLeaf: `dissent restore --postgres`
// (RestoredPostgres) refuses a restored database one of whose leaves was
// rewritten, with or without a pinned checkpoint.
func TestRestoredPostgresRefusesATamperedLeaf(t *testing.T) {
	ctx := context.Background()
	sc := storetest.NewPostgresSchema(t, "every_leaf_")
	st, vkey, note := pgDeployment(t, sc.DSN)
	if _, err := st.Raw().ExecContext(ctx, `UPDATE ledger_leaves SET data = convert_to('{"action":"memo.create","rewritten":true}', 'UTF8') WHERE idx = 1`); err != nil {
		t.Fatal(err)
	}
	for name, pins := range map[string]backup.Pins{"no pins": {}, "pinned": {Key: vkey, Checkpoint: note}} {
		if _, err := backup.RestoredPostgres(ctx, st, vkey, pins); err == nil {
			t.Errorf("%s: RestoredPostgres accepted a database whose ledger leaf 1 was rewritten", name)
		}
	}
}

package backup_test

// A snapshot's database and configuration are not trusted: what restore
// carries over of them, and where a snapshot is written.

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/dissent-channel/dissent/internal/backup"
	"github.com/dissent-channel/dissent/internal/config"
	"github.com/dissent-channel/dissent/internal/store/sqlite"
	"github.com/dissent-channel/dissent/internal/store/sqlstore"
)

// openRestored opens the restored folder's database as it is.
func openRestored(t *testing.T, dir string) *sqlstore.DB {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "dissent.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// TestRestoreDropsSessionsDespiteATrigger: OPERATIONS.md says
// "Sign-in sessions are not restored". A snapshot's database is not
// trusted, yet its schema is taken as it is: a trigger put in it keeps
// every session through restore's DELETE FROM sessions, which then
// reports the restore verified with its sessions dropped.
func TestRestoreDropsSessionsDespiteATrigger(t *testing.T) {
	ctx := context.Background()
	snap, d := snapshotOf(t)
	tamper(t, snap, `CREATE TRIGGER keep_sessions BEFORE DELETE ON sessions BEGIN SELECT RAISE(IGNORE); END`)
	restored := filepath.Join(t.TempDir(), "restored")
	r, err := backup.Restore(ctx, snap, restored, backup.Pins{Key: d.LedgerVKey})
	if err != nil {
		t.Logf("refused: %v", err)
		return
	}
	if n := count(t, openRestored(t, restored), "sessions"); n > 0 {
		t.Fatalf("restore reported success (%+v), yet %d sign-in sessions of the snapshot survive it: a trigger in the snapshot's schema kept them", r, n)
	}
}

// TestRestoredLedgerIsTheOneVerified: restore verifies the ledger,
// then deletes the sessions; a trigger in the snapshot's schema runs at
// that moment and rewrites a ledger leaf. Restore reports "verified", the
// operator pinned the key, and the restored ledger no longer verifies.
func TestRestoredLedgerIsTheOneVerified(t *testing.T) {
	ctx := context.Background()
	snap, d := snapshotOf(t)
	note, err := os.ReadFile(filepath.Join(snap, "checkpoint"))
	if err != nil {
		t.Fatal(err)
	}
	tamper(t, snap, `CREATE TRIGGER after_verify AFTER DELETE ON sessions BEGIN
		UPDATE ledger_leaves SET data = CAST('{"action":"rewritten after the restore verified it"}' AS BLOB) WHERE idx = 0;
	END`)
	restored := filepath.Join(t.TempDir(), "restored")
	if _, err := backup.Restore(ctx, snap, restored, backup.Pins{Key: d.LedgerVKey, Checkpoint: note}); err != nil {
		t.Logf("refused: %v", err)
		return
	}
	if _, err := backup.Verify(ctx, openRestored(t, restored), note, d.LedgerVKey); err != nil {
		t.Fatalf("restore reported the snapshot verified, yet the restored database's ledger does not verify against the same checkpoint: %v", err)
	}
}

// TestRestoreCarriesNoForeignSchema: a trigger that deletes every
// notification as it is written (reminders, escalations to the inspector
// general) is restored into the live database and goes on acting there.
// Nothing the migrations make is a trigger or a view.
func TestRestoreCarriesNoForeignSchema(t *testing.T) {
	ctx := context.Background()
	snap, d := snapshotOf(t)
	tamper(t, snap, `CREATE TRIGGER swallow_notices AFTER INSERT ON notifications BEGIN DELETE FROM notifications WHERE id = NEW.id; END`)
	restored := filepath.Join(t.TempDir(), "restored")
	if _, err := backup.Restore(ctx, snap, restored, backup.Pins{Key: d.LedgerVKey}); err != nil {
		t.Logf("refused: %v", err)
		return
	}
	var names []string
	rows, err := openRestored(t, restored).Raw().QueryContext(ctx, `SELECT type || ' ' || name FROM sqlite_schema WHERE type IN ('trigger', 'view')`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		names = append(names, s)
	}
	if len(names) > 0 {
		t.Fatalf("restore reported success, and the restored database holds %v, which no migration made", names)
	}
}

// TestRestoredConfigServesTheVerifiedDatabase: restore checks the
// snapshot's dissent.db whatever its dissent.toml says, but copies that
// dissent.toml into the new data folder unread. `dissent serve --data
// RESTORED` then serves the database the snapshot's configuration names,
// not the one that was verified.
func TestRestoredConfigServesTheVerifiedDatabase(t *testing.T) {
	ctx := context.Background()
	snap, d := snapshotOf(t)
	elsewhere := "postgres://someone@db.elsewhere.invalid/theirs?sslmode=disable"
	toml := "[store]\ndriver = \"postgres\"\nurl = \"" + elsewhere + "\"\n"
	if err := os.WriteFile(filepath.Join(snap, "dissent.toml"), []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	restored := filepath.Join(t.TempDir(), "restored")
	if _, err := backup.Restore(ctx, snap, restored, backup.Pins{Key: d.LedgerVKey}); err != nil {
		t.Logf("refused: %v", err)
		return
	}
	cfg, err := config.Load(restored, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Store.Driver != "sqlite" {
		t.Fatalf("restore reported the snapshot verified, yet the restored folder's configuration serves store %q at %q, not the verified %s",
			cfg.Store.Driver, cfg.Store.URL, cfg.SQLitePath())
	}
}

// TestSnapshotIntoALinkedFolder: --to names an empty folder that
// is a symbolic link (to the backup volume). The snapshot is accepted as
// going there, but the link is deleted and the snapshot written beside it,
// on the link's own file system; the backup volume stays empty.
func TestSnapshotIntoALinkedFolder(t *testing.T) {
	ctx := context.Background()
	data, st, _, _, _ := dataFolder(t)
	volume := filepath.Join(t.TempDir(), "backup-volume")
	if err := os.Mkdir(volume, 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "latest")
	if err := os.Symlink(volume, link); err != nil {
		t.Fatal(err)
	}
	if err := backup.Snapshot(ctx, st, data, "", link); err != nil {
		t.Logf("refused: %v", err)
		return
	}
	info, err := os.Lstat(link)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link %s was replaced by a folder", link)
	}
	if _, err := os.Stat(filepath.Join(volume, "dissent.db")); err != nil {
		t.Errorf("the folder the link led to holds no snapshot: %v", err)
	}
}

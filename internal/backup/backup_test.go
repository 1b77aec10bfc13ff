package backup_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/dissent-channel/dissent/internal/backup"
	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/postgres"
	"github.com/dissent-channel/dissent/internal/store/sqlite"
	"github.com/dissent-channel/dissent/internal/store/sqlstore"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// deployment fills st with memos and returns the ids and the harness.
func deployment(t *testing.T, st store.Store) (*servicetest.Deployment, *service.Actor, []string) {
	d := servicetest.NewDeployment(t, st)
	alice := d.Member("alice")
	var ids []string
	for i := range 3 {
		m, _ := d.Submitted(alice, fmt.Sprintf("memo %d", i))
		ids = append(ids, m.ID)
	}
	return d, alice, ids
}

// checkOpens signs alice in on a service over st and opens every memo.
func checkOpens(t *testing.T, st store.Store, d *servicetest.Deployment, ids []string) {
	t.Helper()
	restored := servicetest.Reopen(t, d.Harness, st)
	alice := restored.SignIn("alice")
	for _, id := range ids {
		if _, err := restored.Svc.GetMemo(d.Ctx, alice, id); err != nil {
			t.Fatalf("memo %s after restore: %v", id, err)
		}
	}
	if res, err := restored.Svc.CheckLedger(d.Ctx, nil); err != nil || !res.OK {
		t.Fatalf("self-check after restore: %+v %v", res, err)
	}
}

func TestSnapshotWhileWritingThenRestore(t *testing.T) {
	ctx := context.Background()
	data, st, d, alice, ids := dataFolder(t)
	if _, err := d.Svc.SignCheckpoint(ctx); err != nil {
		t.Fatal(err)
	}
	// Writes go on while the snapshot is taken; each submission signs a
	// checkpoint, so one may be signed between the copy and its checkpoint.
	stop := submitWhile(t, d, alice, 4)
	snap := filepath.Join(t.TempDir(), "snap")
	err := backup.Snapshot(ctx, st, data, "", snap)
	stop()
	if err != nil {
		t.Fatal(err)
	}
	if err := backup.Snapshot(ctx, st, data, "", snap); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("a snapshot over another: %v", err)
	}

	restored := filepath.Join(t.TempDir(), "restored")
	r, err := backup.Restore(ctx, snap, restored, backup.Pins{Key: d.LedgerVKey})
	if err != nil {
		t.Fatal(err)
	}
	if !r.PinnedKey || r.Sessions == 0 {
		t.Fatalf("restore reported %+v: want the pinned key checked and alice's sessions dropped", r)
	}
	rst, err := sqlite.Open(ctx, filepath.Join(restored, "dissent.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer rst.Close()
	if n := count(t, rst, "sessions"); n != 0 {
		t.Fatalf("%d sessions restored", n)
	}
	checkOpens(t, rst, d, ids)
	if _, err := backup.Restore(ctx, snap, restored, backup.Pins{}); err == nil {
		t.Fatal("restored over a data folder that is in use")
	}
}

// count counts the rows of table.
func count(t *testing.T, st *sqlstore.DB, table string) int {
	t.Helper()
	var n int
	if err := st.Raw().QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// dataFolder is a data folder with a deployment filled by deployment, its
// database open and its ledger.pub written, as a live server's would be.
func dataFolder(t *testing.T) (data string, st *sqlstore.DB, d *servicetest.Deployment, alice *service.Actor, ids []string) {
	t.Helper()
	data = t.TempDir()
	st, err := sqlite.Open(context.Background(), filepath.Join(data, "dissent.db"), sqlite.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	d, alice, ids = deployment(t, st)
	if err := os.WriteFile(filepath.Join(data, "ledger.pub"), []byte(d.LedgerVKey+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return data, st, d, alice, ids
}

// snapshotOf is a snapshot of a deployment whose ledger has several
// signed checkpoints.
func snapshotOf(t *testing.T) (snap string, d *servicetest.Deployment) {
	t.Helper()
	data, st, d, _, _ := dataFolder(t)
	snap = filepath.Join(t.TempDir(), "snap")
	if err := backup.Snapshot(context.Background(), st, data, "", snap); err != nil {
		t.Fatal(err)
	}
	return snap, d
}

// tamper runs SQL on the snapshot's database.
func tamper(t *testing.T, snap string, stmts ...string) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(snap, "dissent.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	conn, err := st.Raw().Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, q := range stmts {
		if _, err := conn.ExecContext(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// cutTail cuts the snapshot's ledger back to its oldest checkpoint, puts
// that (genuinely signed) checkpoint in the checkpoint file, and returns
// the one the file held. With dropLater the later checkpoints go too.
func cutTail(t *testing.T, snap string, dropLater bool) (was []byte) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(snap, "dissent.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var size int64
	var old []byte
	err = st.Raw().QueryRow(`SELECT size, note FROM checkpoints ORDER BY size LIMIT 1`).Scan(&size, &old)
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	stmts := []string{
		fmt.Sprintf(`DELETE FROM ledger_leaves WHERE idx >= %d`, size),
		fmt.Sprintf(`DELETE FROM ledger_hashes WHERE idx >= %d`, tlog.StoredHashCount(size)),
		fmt.Sprintf(`DELETE FROM ledger_details WHERE idx >= %d`, size),
		fmt.Sprintf(`UPDATE ledger_head SET size = %d`, size),
	}
	if dropLater {
		stmts = append(stmts, fmt.Sprintf(`DELETE FROM checkpoints WHERE size > %d`, size))
	}
	tamper(t, snap, stmts...)
	was, err = os.ReadFile(filepath.Join(snap, "checkpoint"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(snap, "checkpoint"), old, 0o600); err != nil {
		t.Fatal(err)
	}
	return was
}

// restoreFails restores snap into a new folder, wants an error that says
// want, and checks that the failed restore left nothing behind.
func restoreFails(t *testing.T, snap string, pins backup.Pins, want string) {
	t.Helper()
	parent := t.TempDir()
	_, err := backup.Restore(context.Background(), snap, filepath.Join(parent, "restored"), pins)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("restore: %v, want an error saying %q", err, want)
	}
	t.Log(err)
	if left, _ := os.ReadDir(parent); len(left) > 0 {
		t.Fatalf("a failed restore left %s behind", left[0].Name())
	}
}

// TestRestoreRefusesACutLedger: a snapshot whose ledger's tail was cut
// off, with an older genuine checkpoint in its checkpoint file, verifies
// against that file alone; the database's later checkpoint gives it away.
func TestRestoreRefusesACutLedger(t *testing.T) {
	snap, _ := snapshotOf(t)
	was := cutTail(t, snap, false)
	latest, err := ledger.OpenCheckpoint(was, mustRead(t, filepath.Join(snap, "ledger.pub")))
	if err != nil {
		t.Fatal(err)
	}
	restoreFails(t, snap, backup.Pins{}, fmt.Sprintf("signed checkpoint of %d entries, later than", latest.Size))
}

// TestRestorePins: a cut ledger whose later checkpoints were deleted too
// is consistent with itself; a checkpoint or key kept apart is not fooled.
func TestRestorePins(t *testing.T) {
	ctx := context.Background()
	snap, d := snapshotOf(t)
	good, err := os.ReadFile(filepath.Join(snap, "checkpoint"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := backup.Restore(ctx, snap, filepath.Join(t.TempDir(), "ok"), backup.Pins{Key: d.LedgerVKey + "\n", Checkpoint: good})
	if err != nil {
		t.Fatal(err)
	}
	if !r.PinnedKey || r.Pinned == nil || r.Pinned.Size != r.Checkpoint.Size {
		t.Fatalf("restore with pins reported %+v", r)
	}
	_, otherKey, err := ledger.GenerateKey("dissent.test")
	if err != nil {
		t.Fatal(err)
	}
	restoreFails(t, snap, backup.Pins{Key: otherKey}, "is not the key given")

	cutTail(t, snap, true)
	if _, err := backup.Restore(ctx, snap, filepath.Join(t.TempDir(), "cut"), backup.Pins{}); err != nil {
		t.Fatalf("a self-consistent cut snapshot without pins: %v (only pins can catch it)", err)
	}
	restoreFails(t, snap, backup.Pins{Checkpoint: good}, "fewer than the")
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestRestoreRefusesAnotherDeploymentsKeys: keys that are not the
// database's, even with a checkpoint re-signed to match them, and a
// signing key that is not ledger.pub's.
func TestRestoreRefusesAnotherDeploymentsKeys(t *testing.T) {
	snap, _ := snapshotOf(t)
	skey, vkey, err := ledger.GenerateKey("dissent.test")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("signing key", func(t *testing.T) {
		s := copySnap(t, snap)
		if err := os.WriteFile(filepath.Join(s, "ledger.key"), []byte(skey+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		restoreFails(t, s, backup.Pins{}, "ledger.key is another deployment's")
	})
	t.Run("both keys", func(t *testing.T) {
		s := copySnap(t, snap)
		cp, err := ledger.OpenCheckpoint([]byte(mustRead(t, filepath.Join(s, "checkpoint"))+"\n"), mustRead(t, filepath.Join(s, "ledger.pub")))
		if err != nil {
			t.Fatal(err)
		}
		resigned, err := ledger.SignCheckpoint(skey, "dissent.test", cp.Size, cp.Root)
		if err != nil {
			t.Fatal(err)
		}
		for f, b := range map[string]string{"ledger.key": skey + "\n", "ledger.pub": vkey + "\n", "checkpoint": string(resigned)} {
			if err := os.WriteFile(filepath.Join(s, f), []byte(b), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		restoreFails(t, s, backup.Pins{}, "is not the key the database was set up with")
	})
}

// copySnap copies a snapshot folder.
func copySnap(t *testing.T, snap string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "snap")
	if err := os.Mkdir(out, 0o700); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(snap)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(snap, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(out, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestRestoreRefusesADamagedDatabase: damage outside the ledger's tables
// passes every ledger check; SQLite's own checks find it.
func TestRestoreRefusesADamagedDatabase(t *testing.T) {
	snap, _ := snapshotOf(t)
	t.Run("index", func(t *testing.T) {
		s := copySnap(t, snap)
		// The index now claims to be over another column than its entries are.
		tamper(t, s, `PRAGMA writable_schema = ON`,
			`UPDATE sqlite_schema SET sql = 'CREATE INDEX memos_submitted ON memos (id) WHERE submitted_at > 0' WHERE name = 'memos_submitted'`)
		restoreFails(t, s, backup.Pins{}, "integrity check")
	})
	t.Run("foreign key", func(t *testing.T) {
		s := copySnap(t, snap)
		tamper(t, s, `PRAGMA foreign_keys = OFF`, `UPDATE revisions SET memo_id = 'no-such-memo' WHERE rowid = (SELECT MIN(rowid) FROM revisions)`)
		restoreFails(t, s, backup.Pins{}, "foreign-key check")
	})
}

// TestRestoreTakesOnlyPlainFiles: a snapshot is not trusted to point
// restore at a device, a pipe or a huge file.
func TestRestoreTakesOnlyPlainFiles(t *testing.T) {
	snap, _ := snapshotOf(t)
	t.Run("link to /dev/zero", func(t *testing.T) {
		s := copySnap(t, snap)
		if err := os.Remove(filepath.Join(s, "ledger.key")); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		if err := os.Symlink("/dev/zero", filepath.Join(s, "ledger.key")); err != nil {
			t.Fatal(err)
		}
		restoreFails(t, s, backup.Pins{}, "not a regular file")
	})
	t.Run("fifo", func(t *testing.T) {
		s := copySnap(t, snap)
		if err := os.Remove(filepath.Join(s, "dissent.toml")); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		if err := syscall.Mkfifo(filepath.Join(s, "dissent.toml"), 0o600); err != nil {
			t.Skip("no FIFOs here:", err)
		}
		restoreFails(t, s, backup.Pins{}, "not a regular file")
	})
	t.Run("huge key", func(t *testing.T) {
		s := copySnap(t, snap)
		if err := os.Truncate(filepath.Join(s, "ledger.pub"), 1<<30); err != nil {
			t.Fatal(err)
		}
		restoreFails(t, s, backup.Pins{}, "more than such a file can be")
	})
	t.Run("into an empty folder", func(t *testing.T) {
		data := t.TempDir()
		if _, err := backup.Restore(context.Background(), snap, data, backup.Pins{}); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(data, "dissent.db")); err != nil {
			t.Fatal(err)
		}
	})
}

// TestSnapshotIsPrivate: the snapshot holds password hashes and the
// signing key, whatever the umask and the folder it is written into.
func TestSnapshotIsPrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	ctx := context.Background()
	data, st, _, _, _ := dataFolder(t)
	out := filepath.Join(t.TempDir(), "snap")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := backup.Snapshot(ctx, st, data, "", out); err != nil {
		t.Fatal(err)
	}
	for f, want := range map[string]os.FileMode{"": 0o700, "dissent.db": 0o600, "checkpoint": 0o600, "ledger.pub": 0o600} {
		info, err := os.Stat(filepath.Join(out, f))
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != want {
			t.Errorf("%s/%s: mode %v, want %v", out, f, info.Mode().Perm(), want)
		}
	}
}

func TestCopyToPostgres(t *testing.T) {
	ctx := context.Background()
	src, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "dissent.db"), sqlite.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	d, _, ids := deployment(t, src)
	note, err := d.Svc.SignCheckpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dst := storetest.OpenPostgres(t).(*sqlstore.DB)
	n, latest, err := backup.Copy(ctx, src, dst)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("copied %d rows", n)
	if string(latest) != string(note) {
		t.Fatal("Copy did not return the latest checkpoint")
	}
	if _, err := backup.Verify(ctx, dst, note, d.LedgerVKey); err != nil {
		t.Fatal(err)
	}
	if c := count(t, src, "sessions"); c == 0 || count(t, dst, "sessions") != 0 {
		t.Fatalf("sessions: %d in the source, %d copied; want none copied", c, count(t, dst, "sessions"))
	}
	// A leaf past the head is not what the checkpoint signs.
	if _, err := dst.Raw().ExecContext(ctx, `INSERT INTO ledger_leaves (idx, data) SELECT size + 5, 'x' FROM ledger_head`); err != nil {
		t.Fatal(err)
	}
	if _, err := backup.Verify(ctx, dst, note, d.LedgerVKey); err == nil || !strings.Contains(err.Error(), "past the ledger's head") {
		t.Fatalf("a leaf past the head: %v", err)
	}
	if _, err := dst.Raw().ExecContext(ctx, `DELETE FROM ledger_leaves WHERE idx >= (SELECT size FROM ledger_head)`); err != nil {
		t.Fatal(err)
	}
	checkOpens(t, dst, d, ids)
	if _, _, err := backup.Copy(ctx, src, dst); err == nil {
		t.Fatal("copied into a database that is not empty")
	}
	// A target on which a node started first has settings and no users:
	// refused before anything is written, with the table named.
	fresh := storetest.OpenPostgres(t).(*sqlstore.DB)
	if _, err := fresh.Raw().ExecContext(ctx, `INSERT INTO settings (name, value) VALUES ('written by a node', '')`); err != nil {
		t.Fatal(err)
	}
	if _, _, err := backup.Copy(ctx, src, fresh); err == nil || !strings.Contains(err.Error(), "settings") {
		t.Fatalf("copy into a database with settings but no users: %v, want it refused naming the table", err)
	}
}

// TestCopyWhileWriting: a server that keeps writing while the copy runs
// must not leave the target with rows of two states (leaves past the
// head it copied) that still verify; the copy reads one snapshot.
func TestCopyWhileWriting(t *testing.T) {
	ctx := context.Background()
	src, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "dissent.db"), sqlite.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	d, alice, _ := deployment(t, src)
	stop := submitWhile(t, d, alice, 1)
	// Some writes first, so that the copy runs among them.
	for count(t, src, "checkpoints") < 8 {
		time.Sleep(5 * time.Millisecond)
	}
	dst := storetest.OpenPostgres(t).(*sqlstore.DB)
	_, note, err := backup.Copy(ctx, src, dst)
	stop()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := backup.Verify(ctx, dst, note, d.LedgerVKey); err != nil {
		t.Fatal(err)
	}
}

// TestPgDumpRestore runs the procedure docs/OPERATIONS.md gives for
// PostgreSQL: pg_dump, then pg_restore into a new database, then `dissent
// restore --postgres` (RestoredPostgres): a trigger put in the dump is
// refused; without it, the ledger verifies against the key and checkpoint
// kept apart, and every sign-in session is dropped.
func TestPgDumpRestore(t *testing.T) {
	if _, err := exec.LookPath("pg_dump"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("pg_dump is not installed")
		}
		t.Skip("pg_dump is not installed")
	}
	ctx := context.Background()
	// Closed after the cleanups below have dropped the databases.
	base, admin := storetest.PostgresAdmin(t)
	from, to := "dissent_dump_"+strings.ToLower(rand.Text()[:10]), "dissent_restore_"+strings.ToLower(rand.Text()[:10])
	for _, db := range []string{from, to} {
		if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+db); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _, _ = admin.ExecContext(context.Background(), "DROP DATABASE "+db+" WITH (FORCE)") })
	}
	url := func(db string) string { return strings.Replace(base, "/test?", "/"+db+"?", 1) }
	st, err := postgres.Open(ctx, url(from), postgres.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	d, _, ids := deployment(t, st)
	note, err := d.Svc.SignCheckpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	dump := filepath.Join(t.TempDir(), "dissent.dump")
	if out, err := exec.Command("pg_dump", "--format=custom", "--file="+dump, url(from)).CombinedOutput(); err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, out)
	}
	if out, err := exec.Command("pg_restore", "--dbname="+url(to), dump).CombinedOutput(); err != nil {
		t.Fatalf("pg_restore: %v\n%s", err, out)
	}
	rst, err := postgres.Open(ctx, url(to), postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer rst.Close()
	if count(t, rst, "sessions") == 0 {
		t.Fatal("the dump holds no sign-in sessions to drop")
	}
	// A trigger put in the dump would act in the restored deployment.
	if _, err := rst.Raw().ExecContext(ctx, `CREATE FUNCTION keep() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
		CREATE TRIGGER keep_sessions BEFORE DELETE ON sessions FOR EACH ROW EXECUTE FUNCTION keep()`); err != nil {
		t.Fatal(err)
	}
	if _, err := backup.RestoredPostgres(ctx, rst, d.LedgerVKey, backup.Pins{}); err == nil || !strings.Contains(err.Error(), "trigger keep_sessions") {
		t.Errorf("a restored database with a trigger of someone's: %v", err)
	}
	if _, err := rst.Raw().ExecContext(ctx, `DROP TRIGGER keep_sessions ON sessions; DROP FUNCTION keep()`); err != nil {
		t.Fatal(err)
	}
	r, err := backup.RestoredPostgres(ctx, rst, d.LedgerVKey, backup.Pins{Key: d.LedgerVKey, Checkpoint: note})
	if err != nil {
		t.Fatal(err)
	}
	if r.Sessions == 0 || count(t, rst, "sessions") != 0 || !r.PinnedKey || r.Pinned == nil {
		t.Errorf("RestoredPostgres = %+v, and %d sessions left", r, count(t, rst, "sessions"))
	}
	checkOpens(t, rst, d, ids)
}

// submitWhile creates memos as author until the returned stop is called,
// submitting every nth, so that a copy runs among writes that each sign a
// checkpoint.
func submitWhile(t *testing.T, d *servicetest.Deployment, author *service.Actor, nth int) (stop func()) {
	ctx := context.Background()
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			m, err := d.Svc.CreateMemo(ctx, author, service.MemoInput{Title: fmt.Sprintf("during %d", i), Body: "b", Marking: "UNCLASSIFIED"})
			if err == nil && i%nth == 0 {
				if _, err = d.Svc.Sign(ctx, author, m.ID, 1); err == nil {
					_, err = d.Svc.Submit(ctx, author, m.ID, 1)
				}
			}
			if err != nil {
				t.Error(err)
				return
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// TestFailedSnapshotLeavesNothing: a snapshot that cannot be completed (here
// a deployment with no signed checkpoint yet) leaves no half-written folder
// that could later be mistaken for a backup, and the same command can be
// run again once the cause is fixed.
func TestFailedSnapshotLeavesNothing(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(data, "dissent.db"), sqlite.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	d := servicetest.NewDeployment(t, st)
	// As a deployment set up before December 2026 had none until its
	// first submission.
	if _, err := st.Raw().ExecContext(ctx, `DELETE FROM checkpoints`); err != nil {
		t.Fatal(err)
	}
	parent := t.TempDir()
	out := filepath.Join(parent, "snap")
	if err := backup.Snapshot(ctx, st, data, "", out); err == nil || !strings.Contains(err.Error(), "no signed checkpoint") {
		t.Fatalf("a snapshot without a checkpoint: %v", err)
	}
	if left, _ := os.ReadDir(parent); len(left) > 0 {
		t.Fatalf("a failed snapshot left %v behind", left)
	}
	if _, err := d.Svc.SignCheckpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if err := backup.Snapshot(ctx, st, data, "", out); err != nil {
		t.Fatalf("the snapshot again, with a checkpoint: %v", err)
	}
}

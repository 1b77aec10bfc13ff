package backup_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/dissent-channel/dissent/internal/backup"
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
		m, err := d.Svc.CreateMemo(d.Ctx, alice, service.MemoInput{Title: fmt.Sprintf("memo %d", i), Body: "body", Marking: "UNCLASSIFIED"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Svc.Sign(d.Ctx, alice, m.ID, 1); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Svc.Submit(d.Ctx, alice, m.ID, 1); err != nil {
			t.Fatal(err)
		}
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
	data := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(data, "dissent.db"), sqlite.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	d, alice, ids := deployment(t, st)
	if err := os.WriteFile(filepath.Join(data, "ledger.pub"), []byte(d.LedgerVKey+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Svc.SignCheckpoint(ctx); err != nil {
		t.Fatal(err)
	}
	// Writes go on while the snapshot is taken.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := d.Svc.CreateMemo(ctx, alice, service.MemoInput{Title: fmt.Sprintf("during %d", i), Body: "b", Marking: "UNCLASSIFIED"}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	snap := filepath.Join(t.TempDir(), "snap")
	err = backup.Snapshot(ctx, st, data, snap)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if err := backup.Snapshot(ctx, st, data, snap); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("a snapshot over another: %v", err)
	}

	restored := filepath.Join(t.TempDir(), "restored")
	if err := backup.Restore(snap, restored); err != nil {
		t.Fatal(err)
	}
	rst, err := sqlite.Open(ctx, filepath.Join(restored, "dissent.db"), sqlite.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rst.Close()
	note, _ := os.ReadFile(filepath.Join(restored, "checkpoint"))
	if _, err := backup.Verify(ctx, rst, note, d.LedgerVKey); err != nil {
		t.Fatal(err)
	}
	checkOpens(t, rst, d, ids)
	if err := backup.Restore(snap, restored); err == nil {
		t.Fatal("restored over a data folder that is in use")
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
	n, err := backup.Copy(ctx, src, dst)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("copied %d rows", n)
	if _, err := backup.Verify(ctx, dst, note, d.LedgerVKey); err != nil {
		t.Fatal(err)
	}
	checkOpens(t, dst, d, ids)
	if _, err := backup.Copy(ctx, src, dst); err == nil {
		t.Fatal("copied into a database that is not empty")
	}
}

// TestPgDumpRestore runs the procedure docs/OPERATIONS.md gives for
// PostgreSQL: pg_dump, then pg_restore into a new database.
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
	if _, err := backup.Verify(ctx, rst, note, d.LedgerVKey); err != nil {
		t.Fatal(err)
	}
	checkOpens(t, rst, d, ids)
}

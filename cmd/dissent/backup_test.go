package main

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/store/sqlite"
)

// initData sets up a deployment in a new data folder.
func initData(t *testing.T) string {
	t.Helper()
	data := filepath.Join(t.TempDir(), "data")
	fastConfig(t, data)
	if code, out := runCLI(t, "a long admin passphrase\n", "init", "--data", data, "--admin", "alice", "--password-stdin"); code != 0 {
		t.Fatalf("init: %d\n%s", code, out)
	}
	return data
}

// forgetCheckpoints deletes data's signed checkpoints, as a deployment
// set up by a release before December 2026 had none until its first
// submission.
func forgetCheckpoints(t *testing.T, data string) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(data, "dissent.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Raw().Exec(`DELETE FROM checkpoints`); err != nil {
		t.Fatal(err)
	}
}

// TestBackupAndRestoreAFreshDeployment backs up a deployment that has no
// signed checkpoint yet, and restores it with the store pointed elsewhere
// by the environment: restore checks the file it copied, nothing else. A
// snapshot whose own configuration points elsewhere is refused: the
// restored folder would serve another database than the one verified.
func TestBackupAndRestoreAFreshDeployment(t *testing.T) {
	data := initData(t)
	forgetCheckpoints(t, data)
	snap := filepath.Join(t.TempDir(), "snap")
	code, out := runCLI(t, "", "backup", "--data", data, "--to", snap)
	if code != 0 || !strings.Contains(out, "signed its first") {
		t.Fatalf("backup of a fresh deployment: %d\n%s", code, out)
	}
	nowhere := "postgres://nobody@127.0.0.1:1/none?sslmode=disable"
	t.Setenv("DISSENT_STORE_URL", nowhere)
	code, out = runCLI(t, "", "restore", "--from", snap, "--data", filepath.Join(t.TempDir(), "restored"))
	if code != 0 || !strings.Contains(out, "checked only against itself") || !strings.Contains(out, "ledger.key is ledger.pub's private half") {
		t.Fatalf("restore with DISSENT_STORE_URL set: %d\n%s", code, out)
	}
	t.Setenv("DISSENT_STORE_URL", "")
	toml, err := os.ReadFile(filepath.Join(snap, "dissent.toml"))
	if err != nil {
		t.Fatal(err)
	}
	elsewhere := append(bytes.Clone(toml), []byte("\n[store]\ndriver = \"postgres\"\nurl = \""+nowhere+"\"\n")...)
	if err := os.WriteFile(filepath.Join(snap, "dissent.toml"), elsewhere, 0o600); err != nil {
		t.Fatal(err)
	}
	refused := filepath.Join(t.TempDir(), "restored")
	code, out = runCLI(t, "", "restore", "--from", snap, "--data", refused)
	if code == 0 || !strings.Contains(out, "take [store] out of the snapshot's dissent.toml") {
		t.Fatalf("restore of a snapshot whose configuration selects PostgreSQL: %d\n%s", code, out)
	}
	if _, err := os.Stat(refused); !os.IsNotExist(err) {
		t.Fatalf("a refused restore left %s: %v", refused, err)
	}
	if err := os.WriteFile(filepath.Join(snap, "dissent.toml"), toml, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out = runCLI(t, "", "restore", "--from", snap, "--data", filepath.Join(t.TempDir(), "restored"),
		"--key", filepath.Join(data, "ledger.pub"), "--checkpoint", filepath.Join(snap, "checkpoint"))
	if code != 0 || !strings.Contains(out, "given with --key") || !strings.Contains(out, "given with --checkpoint") || strings.Contains(out, "only against itself") {
		t.Fatalf("restore pinned to the key and checkpoint: %d\n%s", code, out)
	}
	_, other, err := ledger.GenerateKey("dissent.local")
	if err != nil {
		t.Fatal(err)
	}
	pinned := filepath.Join(t.TempDir(), "other.pub")
	if err := os.WriteFile(pinned, []byte(other+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	restored := filepath.Join(t.TempDir(), "restored")
	code, out = runCLI(t, "", "restore", "--from", snap, "--data", restored, "--key", pinned)
	if code == 0 || !strings.Contains(out, "is not the key given") {
		t.Fatalf("restore against another key: %d\n%s", code, out)
	}
	if _, err := os.Stat(restored); !os.IsNotExist(err) {
		t.Fatalf("a failed restore left %s: %v", restored, err)
	}
}

// TestRefusesAnotherLedgerKey: a data folder whose ledger.key is another
// deployment's does not open; with its own key back, it does.
func TestRefusesAnotherLedgerKey(t *testing.T) {
	data := initData(t)
	own, err := os.ReadFile(filepath.Join(data, "ledger.key"))
	if err != nil {
		t.Fatal(err)
	}
	skey, _, err := ledger.GenerateKey("dissent.local")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "ledger.key"), []byte(skey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out := runCLI(t, "", "ledger", "export", "--data", data, "--to", filepath.Join(t.TempDir(), "x"))
	if code == 0 || !strings.Contains(out, "is not this database's") {
		t.Fatalf("opened with another deployment's ledger key: %d\n%s", code, out)
	}
	if err := os.WriteFile(filepath.Join(data, "ledger.key"), own, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out := runCLI(t, "", "ledger", "export", "--data", data, "--to", filepath.Join(t.TempDir(), "x")); code != 0 {
		t.Fatalf("with its own key back: %d\n%s", code, out)
	}
}

// releaseOne copies the first release's data folder (the upgrade test's
// fixture) into a new folder: a deployment from before keys were anchored.
func releaseOne(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"dissent.db", "dissent.toml", "ledger.key", "ledger.pub"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "internal", "upgrade", "testdata", "release1", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestKeysAnchor: `dissent keys anchor` refuses without --trust-database;
// with it, it anchors the keys of a deployment from before anchors (here
// release one's, migrated by a process that did not anchor them), then has
// nothing to do; and on a deployment whose ledger anchors keys it refuses
// to anchor keys whose anchors someone cleared.
func TestKeysAnchor(t *testing.T) {
	old := releaseOne(t)
	st, err := sqlite.Open(context.Background(), filepath.Join(old, "dissent.db"), sqlite.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if code, out := runCLI(t, "", "keys", "anchor", "--data", old); code == 0 || !strings.Contains(out, "--trust-database") {
		t.Fatalf("keys anchor without --trust-database: %d\n%s", code, out)
	}
	for _, args := range [][]string{{"keys"}, {"keys", "rotate"}, {"keys", "anchor", "--trust-database", "--data", old, "extra"}} {
		if code, out := runCLI(t, "", args...); code == 0 || !strings.Contains(out, "usage: dissent keys anchor") {
			t.Errorf("dissent %v: %d\n%s", args, code, out)
		}
	}
	if code, out := runCLI(t, "", "keys", "anchor", "--trust-database", "--data", old); code != 0 || !strings.Contains(out, "no entry anchored (8:") {
		t.Fatalf("keys anchor: %d\n%s", code, out)
	}
	if code, out := runCLI(t, "", "keys", "anchor", "--trust-database", "--data", old); code != 0 || !strings.Contains(out, "Nothing to do") {
		t.Fatalf("keys anchor again: %d\n%s", code, out)
	}

	data := initData(t)
	st, err = sqlite.Open(context.Background(), filepath.Join(data, "dissent.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Raw().Exec(`UPDATE users SET keys_anchor = -1`); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if code, out := runCLI(t, "", "keys", "anchor", "--trust-database", "--data", data); code == 0 || !strings.Contains(out, "the ledger anchors keys already") {
		t.Fatalf("keys anchor beside cleared anchors: %d\n%s", code, out)
	}
}

// TestRestoreAnchorsAnOldSnapshot: a snapshot from before keys were
// anchored is migrated by the restore, which then anchors its keys, so the
// first serve is ready. (Review finding: it was left with every key
// refused.)
func TestRestoreAnchorsAnOldSnapshot(t *testing.T) {
	snap := releaseOne(t)
	db, err := sql.Open("sqlite", "file:"+filepath.Join(snap, "dissent.db")) // release one's schema: read as it is
	if err != nil {
		t.Fatal(err)
	}
	var note []byte
	if err := db.QueryRow(`SELECT note FROM checkpoints ORDER BY size DESC LIMIT 1`).Scan(&note); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := os.WriteFile(filepath.Join(snap, "checkpoint"), note, 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(t.TempDir(), "restored")
	if code, out := runCLI(t, "", "restore", "--from", snap, "--data", data); code != 0 || !strings.Contains(out, "anchored them as it holds them (8)") {
		t.Fatalf("restore of a snapshot from before anchors: %d\n%s", code, out)
	}
	a, err := openApp(context.Background(), data, "", true) // as serve
	if err != nil {
		t.Fatal(err)
	}
	defer a.store.Close()
	if err := a.svc.Ready(context.Background()); err != nil {
		t.Fatalf("the restored deployment's first serve is not ready: %v", err)
	}
}

package bench

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestReview78BenchLeavesAProductionFolderAlone runs `dissent bench --data
// DIR` on a deployment's data folder whose signing key is kept elsewhere
// (channel.ledger_key_file, a secrets mount, as OPERATIONS.md describes):
// the folder holds a dissent.toml and a database but no ledger.key. The
// help says --data is "new, or one an earlier run kept"; this folder is
// neither, so bench must refuse it and leave its configuration as it was.
// Today bench takes it for a new folder and overwrites its dissent.toml
// (origin, store, key location, witnesses all lost) before running
// `dissent init` in it.
func TestReview78BenchLeavesAProductionFolderAlone(t *testing.T) {
	dir := t.TempDir()
	secrets := t.TempDir()
	keyFile := filepath.Join(secrets, "ledger.key")
	if err := os.WriteFile(keyFile, []byte("not read here\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	toml := "[channel]\norigin = \"dissent.example.gov\"\nledger_key_file = \"" + keyFile + "\"\n\n" +
		"[store]\ndriver = \"postgres\"\nurl = \"postgres://dissent@db.internal/dissent\"\n"
	if err := os.WriteFile(filepath.Join(dir, "dissent.toml"), []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ledger.pub"), []byte("dissent.example.gov+00000000+AAAA\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	opt := Options{
		// No binary is started: the folder must be refused before.
		Exe: filepath.Join(t.TempDir(), "no-such-dissent"), Data: dir, Store: "sqlite",
		Clients: 1, Duration: time.Second, Pool: 1, CablePool: 1, Workloads: []string{},
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := Run(ctx, opt, io.Discard, io.Discard, false)
	if err == nil {
		t.Error("bench ran on a deployment's data folder that no bench run made")
	}
	got, rerr := os.ReadFile(filepath.Join(dir, "dissent.toml"))
	if rerr != nil || string(got) != toml {
		t.Errorf("bench rewrote the deployment's dissent.toml (%v):\n%s\nwant it left as it was:\n%s", rerr, got, toml)
	}
	if _, serr := os.Stat(filepath.Join(dir, "ledger.key")); serr == nil {
		t.Error("bench set up a deployment of its own in the folder")
	}
}

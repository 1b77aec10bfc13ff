package main

// `dissent backup`, `restore` and `export` at their edges: a key kept
// outside the data folder, a target that is not empty, an export that
// fails half way.

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// TestBackupHoldsTheSigningKeyKeptElsewhere: with channel.ledger_key_file
// set (the key on a secrets mount), the snapshot holds the signing key
// from there, as the command says.
func TestBackupHoldsTheSigningKeyKeptElsewhere(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	secrets := t.TempDir()
	keyPath := filepath.Join(secrets, "dissent-ledger.key")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := "[security]\nargon_time = 1\nargon_memory_kib = 64\nargon_threads = 1\nweak_passwords_for_tests = true\n[channel]\nledger_key_file = \"" + keyPath + "\"\n"
	if err := os.WriteFile(filepath.Join(data, "dissent.toml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out := runCLI(t, "a long admin passphrase\n", "init", "--data", data, "--admin", "alice", "--password-stdin"); code != 0 {
		t.Fatalf("init: %d\n%s", code, out)
	}
	snap := filepath.Join(t.TempDir(), "snap")
	code, out := runCLI(t, "", "backup", "--data", data, "--to", snap)
	if code != 0 {
		t.Fatalf("backup: %d\n%s", code, out)
	}
	kept, err := os.ReadFile(filepath.Join(snap, "ledger.key"))
	if err != nil {
		t.Fatalf("the snapshot has no signing key (%v), and backup said:\n%s", err, out)
	}
	if key, err := os.ReadFile(keyPath); err != nil || string(key) != string(kept) {
		t.Errorf("the snapshot's ledger.key is not the one at %s (%v)", keyPath, err)
	}
	if !strings.Contains(out, "holds the ledger's signing key") {
		t.Errorf("backup did not say the snapshot holds the signing key:\n%s", out)
	}
}

// exportData is an initialised data folder to export.
func exportData(t *testing.T) string {
	t.Helper()
	return initData(t)
}

// TestExportRefusesADatabaseThatIsNotEmpty: export copies into an empty
// PostgreSQL database only; pointed by mistake at another application's,
// it refuses before it writes anything there.
func TestExportRefusesADatabaseThatIsNotEmpty(t *testing.T) {
	data := exportData(t)
	sc := storetest.NewPostgresSchema(t, "export_")
	if _, err := sc.Admin.ExecContext(context.Background(), `CREATE TABLE `+sc.Name+`.payroll (employee TEXT, salary INT); INSERT INTO `+sc.Name+`.payroll VALUES ('bob', 1)`); err != nil {
		t.Fatal(err)
	}
	code, out := runCLI(t, "", "export", "--data", data, "--to", "postgres", sc.DSN)
	if code == 0 {
		t.Fatalf("export into a database holding another application's rows succeeded:\n%s", out)
	}
}

// TestFailedExportCanBeRunAgain: an export that fails leaves no copy in
// the target, whether it fails before copying (no ledger.pub to verify the
// copy with) or after (a ledger.pub that is not the database's: the copy
// does not verify), and once the cause is fixed the same command works.
func TestFailedExportCanBeRunAgain(t *testing.T) {
	data := exportData(t)
	pub := filepath.Join(data, "ledger.pub")
	kept, err := os.ReadFile(pub)
	if err != nil {
		t.Fatal(err)
	}
	another, err := os.ReadFile(filepath.Join(initData(t), "ledger.pub"))
	if err != nil {
		t.Fatal(err)
	}
	sc := storetest.NewPostgresSchema(t, "export_")
	for name, put := range map[string]func() error{
		"without ledger.pub":        func() error { return os.Remove(pub) },
		"with another's ledger.pub": func() error { return os.WriteFile(pub, another, 0o644) },
	} {
		if err := put(); err != nil {
			t.Fatal(err)
		}
		code, out := runCLI(t, "", "export", "--data", data, "--to", "postgres", sc.DSN)
		if code == 0 {
			t.Fatalf("export %s succeeded:\n%s", name, out)
		}
		t.Logf("export %s: %d\n%s", name, code, out)
		var users int
		if err := sc.Admin.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM `+sc.Name+`.users`).Scan(&users); err == nil && users > 0 {
			t.Errorf("the export %s left %d users in the target", name, users)
		}
	}
	if err := os.WriteFile(pub, kept, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := runCLI(t, "", "export", "--data", data, "--to", "postgres", sc.DSN); code != 0 {
		t.Fatalf("export again, with ledger.pub back: %d\n%s", code, out)
	}
}

// TestRestoreNamesTheRealSetting: restoring a snapshot without ledger.key
// names the setting that says where the key goes, channel.ledger_key_file.
func TestRestoreNamesTheRealSetting(t *testing.T) {
	data := initData(t)
	snap := filepath.Join(t.TempDir(), "snap")
	if code, out := runCLI(t, "", "backup", "--data", data, "--to", snap); code != 0 {
		t.Fatalf("backup: %d\n%s", code, out)
	}
	if err := os.Remove(filepath.Join(snap, "ledger.key")); err != nil {
		t.Fatal(err)
	}
	code, out := runCLI(t, "", "restore", "--from", snap, "--data", filepath.Join(t.TempDir(), "restored"))
	if code != 0 {
		t.Fatalf("restore: %d\n%s", code, out)
	}
	if strings.Contains(out, "channel.ledger_key ") {
		t.Fatalf("restore names the setting channel.ledger_key, which dissent.toml does not accept (it is channel.ledger_key_file):\n%s", out)
	}
}

// TestRestorePostgresChecksTheDatabase: `dissent restore --postgres` checks
// a PostgreSQL database (here one an export filled) with the data folder's
// ledger.pub, and refuses it against a key that is not its own.
func TestRestorePostgresChecksTheDatabase(t *testing.T) {
	data := exportData(t)
	sc := storetest.NewPostgresSchema(t, "restore_")
	if code, out := runCLI(t, "", "export", "--data", data, "--to", "postgres", sc.DSN); code != 0 {
		t.Fatalf("export: %d\n%s", code, out)
	}
	code, out := runCLI(t, "", "restore", "--postgres", sc.DSN, "--data", data, "--key", filepath.Join(data, "ledger.pub"))
	if code != 0 || !strings.Contains(out, "given with --key") || !strings.Contains(out, "Dropped 0 sign-in sessions") {
		t.Fatalf("restore --postgres: %d\n%s", code, out)
	}
	other := filepath.Join(initData(t), "ledger.pub")
	if code, out := runCLI(t, "", "restore", "--postgres", sc.DSN, "--data", data, "--key", other); code == 0 || !strings.Contains(out, "is not the key given") {
		t.Fatalf("restore --postgres against another key: %d\n%s", code, out)
	}
}

package main

// Each test here proves a review's finding (helper-38), fixed since; its
// comment says what went wrong before.

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestInitRefusesACustodianNameThatIsNoFileName: a custodian named
// "ig/deputy" passes every check, the database takes the set-up and the
// ledger key is written, and only then does writing the share fail. The
// folder can no longer be set up (its ledger key exists) and no custodian
// got a share: the recovery key is lost for good, so the office can never
// be founded. init must refuse such a name before anything is written,
// or write every share.
func TestInitRefusesACustodianNameThatIsNoFileName(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	fastConfig(t, data)
	code, out := runCLI(t, "a long admin passphrase\n", "init", "--data", data, "--admin", "alice", "--password-stdin",
		"--custodians", "ig/deputy,legal-counsel,ciso", "--threshold", "2")
	if code == 0 {
		for _, c := range []string{"ig/deputy", "legal-counsel", "ciso"} {
			if _, err := os.Stat(filepath.Join(data, "recovery-shares", c+".txt")); err != nil {
				t.Errorf("init succeeded but wrote no share for %q: %v", c, err)
			}
		}
		return
	}
	if _, err := os.Stat(filepath.Join(data, "ledger.key")); err == nil {
		entries, _ := os.ReadDir(filepath.Join(data, "recovery-shares"))
		t.Fatalf("init failed (%d) after the set-up was committed: the folder is set up (ledger.key exists) but %d of 3 shares were written, so the recovery key is lost:\n%s", code, len(entries), out)
	}
}

// TestInitKeepsSharesInTheirFolder: a custodian's name is
// joined to the shares folder as a path, so "../../x" writes that share
// outside the data folder.
func TestInitKeepsSharesInTheirFolder(t *testing.T) {
	root := t.TempDir()
	data := filepath.Join(root, "data")
	fastConfig(t, data)
	code, out := runCLI(t, "a long admin passphrase\n", "init", "--data", data, "--admin", "alice", "--password-stdin",
		"--custodians", "../../outside,legal-counsel,ciso", "--threshold", "2")
	if _, err := os.Stat(filepath.Join(root, "outside.txt")); err == nil {
		t.Fatalf("init (%d) wrote a recovery share outside the data folder, at %s:\n%s", code, filepath.Join(root, "outside.txt"), out)
	}
}

// TestInitThatCannotWriteItsKeyCanRunAgain: with
// channel.ledger_key_file in a secrets mount that is not there yet, init
// commits the set-up to the database and then fails to write the key. The
// comment says a failed init leaves a folder init can run on again, but the
// second run is refused as "already set up", and the database's ledger
// key is lost (serve cannot start either).
func TestInitThatCannotWriteItsKeyCanRunAgain(t *testing.T) {
	root := t.TempDir()
	data := filepath.Join(root, "data")
	mount := filepath.Join(root, "secrets")
	fastConfig(t, data)
	cfg := "[security]\nargon_time = 1\nargon_memory_kib = 64\nargon_threads = 1\nweak_passwords_for_tests = true\n[channel]\nledger_key_file = \"" + filepath.Join(mount, "ledger.key") + "\"\n"
	if err := os.WriteFile(filepath.Join(data, "dissent.toml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out := runCLI(t, "a long admin passphrase\n", "init", "--data", data, "--admin", "alice", "--password-stdin")
	if code == 0 {
		t.Skipf("init wrote the key into a missing folder?\n%s", out)
	}
	// The operator mounts the secrets folder and runs init again.
	if err := os.MkdirAll(mount, 0o700); err != nil {
		t.Fatal(err)
	}
	code2, out2 := runCLI(t, "a long admin passphrase\n", "init", "--data", data, "--admin", "alice", "--password-stdin")
	if code2 != 0 {
		t.Fatalf("the first init failed (%d: %s) after committing the set-up; once the mount is there, init cannot run again (%d):\n%s", code, strings.TrimSpace(out), code2, out2)
	}
}

// TestOriginChangedAfterInitIsRefused: OPERATIONS.md has init run first, then
// dissent.toml configured, with origin = "dissent.example.gov". The ledger
// key was made for the default origin, dissent.local. `config check` says
// the configuration is valid and every command (serve too) opens the
// deployment, but no checkpoint can be signed any more: every submission,
// export and scheduled checkpoint fails.
func TestOriginChangedAfterInitIsRefused(t *testing.T) {
	data := initData(t)
	f, err := os.OpenFile(filepath.Join(data, "dissent.toml"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("[channel]\norigin = \"dissent.example.gov\"\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()

	code, out := runCLI(t, "", "config", "check", "--data", data)
	if code == 0 {
		t.Errorf("config check passes an origin the ledger key cannot sign for:\n%s", out)
	}
	ctx := context.Background()
	a, err := openApp(ctx, data, "", false)
	if err != nil {
		return // refused at start: good
	}
	defer a.store.Close()
	if _, err := a.svc.SignCheckpoint(ctx); err != nil {
		t.Errorf("the deployment opened (serve would start and report ready) but cannot sign a checkpoint: %v", err)
	}
}

// TestWitnessKeyKeepsAnExistingKey: running `ledger witness-key`
// again with the same name silently replaces the witness's private key,
// whose verifier key is already in channel.witnesses: its cosignatures
// no longer verify, and the old key is gone.
func TestWitnessKeyKeepsAnExistingKey(t *testing.T) {
	t.Chdir(t.TempDir())
	if code, out := runCLI(t, "", "ledger", "witness-key", "--name", "oig.example.gov"); code != 0 {
		t.Fatalf("witness-key: %d\n%s", code, out)
	}
	first, err := os.ReadFile("oig.example.gov.key")
	if err != nil {
		t.Fatal(err)
	}
	code, out := runCLI(t, "", "ledger", "witness-key", "--name", "oig.example.gov")
	second, _ := os.ReadFile("oig.example.gov.key")
	if string(first) != string(second) {
		t.Fatalf("a second witness-key (%d) replaced the witness's existing private key:\n%s", code, out)
	}
}

// TestWitnessKeyIsWrittenPrivate: os.WriteFile keeps the mode of
// a file that exists: a key file left world-readable stays so.
func TestWitnessKeyIsWrittenPrivate(t *testing.T) {
	t.Chdir(t.TempDir())
	if err := os.WriteFile("oig.example.gov.key", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out := runCLI(t, "", "ledger", "witness-key", "--name", "oig.example.gov")
	info, err := os.Stat("oig.example.gov.key")
	if err != nil {
		t.Fatal(err)
	}
	if code == 0 && info.Mode().Perm()&0o077 != 0 {
		t.Fatalf("witness-key wrote a private key readable by others (mode %v):\n%s", info.Mode().Perm(), out)
	}
}

// TestInitPrintsTheThresholdInForce: --threshold 0 is taken as the
// default, 2, but init tells the operator "0 of 3 needed".
func TestInitPrintsTheThresholdInForce(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	fastConfig(t, data)
	code, out := runCLI(t, "a long admin passphrase\n", "init", "--data", data, "--admin", "alice", "--password-stdin", "--threshold", "0")
	if code == 0 && !strings.Contains(out, "(2 of 3 needed)") {
		t.Fatalf("init made shares with threshold 2 but said:\n%s", out)
	}
}

// TestCommandsRefuseAStoreThatIsNotThere: a PostgreSQL deployment may
// take its store from DISSENT_STORE_URL alone (OPERATIONS.md, "store.url
// (or DISSENT_STORE_URL)"). Run from a shell without it, every command falls
// back to SQLite in the data folder, where there is no database: `migrate`
// creates one and reports "the database schema is up to date", and serve
// (openApp) opens the empty store with the deployment's ledger key, since
// CheckLedgerKey passes a store that records no key. The data folder here is
// exactly such a folder: set up, with no dissent.db in it.
func TestCommandsRefuseAStoreThatIsNotThere(t *testing.T) {
	data := initData(t)
	for _, f := range []string{"dissent.db", "dissent.db-wal", "dissent.db-shm"} {
		_ = os.Remove(filepath.Join(data, f))
	}
	t.Setenv("DISSENT_STORE_URL", "")
	code, out := runCLI(t, "", "migrate", "--data", data)
	if code == 0 {
		t.Errorf("migrate on a set-up folder whose store holds no deployment reports success:\n%s", out)
	}
	_ = os.Remove(filepath.Join(data, "dissent.db"))
	ctx := context.Background()
	a, err := openApp(ctx, data, "", true)
	if err == nil {
		a.store.Close()
		t.Errorf("serve opens a store that holds no deployment (no accounts, no ledger key recorded) with the folder's ledger key")
	}
}

// TestInitClosesTheDataFolder: the data folder is often made
// beforehand (a package's /var/lib/dissent, 0755). init then leaves it as it
// is, and the SQLite store it creates (password hashes, sealed keys, the
// ledger: OPERATIONS.md says to keep a snapshot of it as a secret) is
// readable by every local user under the usual umask.
func TestInitClosesTheDataFolder(t *testing.T) {
	old := syscall.Umask(0o022) // the usual umask
	defer syscall.Umask(old)
	data := filepath.Join(t.TempDir(), "data")
	fastConfig(t, data)
	if err := os.Chmod(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if code, out := runCLI(t, "a long admin passphrase\n", "init", "--data", data, "--admin", "alice", "--password-stdin"); code != 0 {
		t.Fatalf("init: %d\n%s", code, out)
	}
	dir, err := os.Stat(data)
	if err != nil {
		t.Fatal(err)
	}
	db, err := os.Stat(filepath.Join(data, "dissent.db"))
	if err != nil {
		t.Fatal(err)
	}
	if dir.Mode().Perm()&0o005 != 0 && db.Mode().Perm()&0o004 != 0 {
		t.Errorf("after init the data folder is %v and dissent.db %v: any local user reads the store", dir.Mode().Perm(), db.Mode().Perm())
	}
}

// TestUserAddReadsBothPasswordsFromStdin: without DISSENT_PASSWORD
// and with standard input not a terminal, `user add --password-stdin` reads
// the administrator's password from standard input (signIn), through a
// buffered reader that swallows the next line too, so the new account's
// password is never found: "no password on standard input".
func TestUserAddReadsBothPasswordsFromStdin(t *testing.T) {
	data := initData(t)
	t.Setenv("DISSENT_PASSWORD", "")
	code, out := runCLI(t, "a long admin passphrase\nbob's first password\n", "user", "add", "--data", data, "--as", "alice",
		"--username", "bob", "--display-name", "Bob", "--email", "bob@example.test", "--password-stdin")
	if code != 0 {
		t.Fatalf("user add with both passwords on standard input: %d\n%s", code, out)
	}
}

// TestInitRefusesCustodiansThatDifferOnlyInCase: a share's file name is
// its custodian's name, so on a file system that ignores case "CISO" and
// "ciso" would write one file and one of the two would hold no share.
func TestInitRefusesCustodiansThatDifferOnlyInCase(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	fastConfig(t, data)
	code, out := runCLI(t, "a long admin passphrase\n", "init", "--data", data, "--admin", "alice", "--password-stdin",
		"--custodians", "CISO,legal-counsel,ciso", "--threshold", "2")
	if code == 0 {
		t.Fatalf("init accepted custodians CISO and ciso:\n%s", out)
	}
	if !strings.Contains(out, "differ in more than case") {
		t.Errorf("init's refusal does not say why:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(data, "ledger.key")); err == nil {
		t.Errorf("init refused but set the folder up")
	}
}

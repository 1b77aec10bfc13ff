package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReview78CommandsRefuseAFolderNotSetUp: `migrate`, `backup` and
// `export` given a --data folder that no `dissent init` set up (a typo, or
// the default ./dissent-data in the wrong directory) create the folder and
// an SQLite database in it, then fail with advice that sends the operator
// the wrong way: backup and export say "run `dissent migrate`", and migrate,
// having migrated a brand-new empty database, says to run `dissent keys
// anchor --trust-database`. Each should refuse the folder, create nothing,
// and say it is not set up (`dissent init`).
func TestReview78CommandsRefuseAFolderNotSetUp(t *testing.T) {
	t.Setenv("DISSENT_STORE_URL", "")
	for _, args := range [][]string{
		{"migrate"},
		{"backup", "--to", filepath.Join(t.TempDir(), "snap")},
		{"export", "--to", "postgres", "postgres://nobody@127.0.0.1:1/none?sslmode=disable"},
	} {
		typo := filepath.Join(t.TempDir(), "dissnet-data")
		code, out := runCLI(t, "", append([]string{args[0], "--data", typo}, args[1:]...)...)
		if code == 0 {
			t.Errorf("%s on a folder never set up succeeds:\n%s", args[0], out)
		}
		if _, err := os.Stat(typo); err == nil {
			t.Errorf("%s on a folder never set up created it (and a database in it): %s", args[0], out)
		}
		if strings.Contains(out, "run `dissent migrate`") || strings.Contains(out, "keys anchor") {
			t.Errorf("%s on a folder never set up tells the operator to migrate or anchor it:\n%s", args[0], out)
		}
		if !strings.Contains(out, "init") {
			t.Errorf("%s on a folder never set up does not say it is not set up (`dissent init`):\n%s", args[0], out)
		}
	}
}

// TestReview78InitThresholdOneIsBadInput: `init --threshold 1` is bad input
// (the flag's help says "at least 2"), but it fails with exit code 1, as an
// internal failure would, and vault's "bad secret-sharing parameters"; the
// service's own message for a bad threshold says "between 1 and their
// number", which names 1 as allowed. Bad input is exit code 2 with a message
// that says what is allowed.
func TestReview78InitThresholdOneIsBadInput(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	fastConfig(t, data)
	code, out := runCLI(t, "a long admin passphrase\n", "init", "--data", data, "--admin", "alice", "--password-stdin", "--threshold", "1")
	if code != 2 || !strings.Contains(out, "at least 2") {
		t.Errorf("init --threshold 1: exit %d, want 2 and a message saying the threshold is at least 2:\n%s", code, out)
	}
	code, out = runCLI(t, "a long admin passphrase\n", "init", "--data", data, "--admin", "alice", "--password-stdin", "--threshold", "4")
	if code != 2 || strings.Contains(out, "between 1 and") {
		t.Errorf("init --threshold 4 (3 custodians): exit %d, and the message names 1 as an allowed threshold:\n%s", code, out)
	}
}

// TestReview78UserDisableNamesTheMissingFlag: `dissent user disable` (or
// enable) without --username signs the administrator in and answers "not
// found" with exit code 4, as if an account were missing; OPERATIONS.md says
// --username is required, and the error should say so (exit code 2).
func TestReview78UserDisableNamesTheMissingFlag(t *testing.T) {
	data := initData(t)
	t.Setenv("DISSENT_PASSWORD", "a long admin passphrase")
	for _, sub := range []string{"disable", "enable"} {
		code, out := runCLI(t, "", "user", sub, "--data", data, "--as", "alice")
		if code != 2 || !strings.Contains(out, "--username") {
			t.Errorf("user %s without --username: exit %d, want 2 and a message naming --username:\n%s", sub, code, out)
		}
	}
}

// TestReview78VerifyNamesAKeyFileItCannotRead: `dissent verify --key PATH`
// whose file cannot be read (a typo in the path) takes the path itself for
// the key's text and reports "the ledger does NOT verify": an auditor is
// told the ledger failed verification, the tampering alarm, when only the
// key file was missing. It should say the key file cannot be read.
func TestReview78VerifyNamesAKeyFileItCannotRead(t *testing.T) {
	data := initData(t)
	exp := filepath.Join(t.TempDir(), "export")
	if code, out := runCLI(t, "", "ledger", "export", "--data", data, "--to", exp); code != 0 {
		t.Fatalf("ledger export: %d\n%s", code, out)
	}
	if code, out := runCLI(t, "", "verify", "--key", filepath.Join(data, "ledger.pub"), exp); code != 0 {
		t.Fatalf("verify with the right key: %d\n%s", code, out)
	}
	typo := filepath.Join(data, "ledger.pbu")
	code, out := runCLI(t, "", "verify", "--key", typo, exp)
	if code == 0 {
		t.Fatalf("verify with a key file that does not exist passes:\n%s", out)
	}
	if strings.Contains(out, "NOT verify") || !strings.Contains(out, "no such file") {
		t.Errorf("verify --key %s (no such file): want an error that the key file cannot be read, not a verification failure:\n%s", typo, out)
	}
}

// TestReview78SharesAndKeysFromAPipeDoNotHang: `recovery restore` and
// `office found|grant` read the custodians' share files, and `ledger cosign`
// and `verify` the key files, with os.ReadFile: a path that is a named pipe
// (or a device such as /dev/zero, read without end) blocks the command for
// ever, and since main turns SIGINT and SIGTERM into a context that nothing
// here waits on, neither Ctrl-C nor `kill` stops it (only SIGKILL does).
// `verify` refuses such a BUNDLE path and `restore` reads its files with
// readSmall (regular files, bounded); these paths should be read the same
// way and the command should answer at once with a clear error.
func TestReview78SharesAndKeysFromAPipeDoNotHang(t *testing.T) {
	data := initData(t)
	exp := filepath.Join(t.TempDir(), "export")
	if code, out := runCLI(t, "", "ledger", "export", "--data", data, "--to", exp); code != 0 {
		t.Fatalf("ledger export: %d\n%s", code, out)
	}
	pub := filepath.Join(data, "ledger.pub")
	for name, args := range map[string]func(fifo string) []string{
		"recovery restore": func(fifo string) []string {
			return []string{"recovery", "restore", "--data", data, "--user", "alice", "--password-stdin", fifo}
		},
		"office found": func(fifo string) []string {
			return []string{"office", "found", "--data", data, "--user", "alice", "--fingerprint", "aaaa bbbb cccc dddd eeee", fifo}
		},
		"ledger cosign --key": func(fifo string) []string {
			return []string{"ledger", "cosign", "--key", fifo, "--log-key", pub, filepath.Join(exp, "checkpoint")}
		},
		"verify --key": func(fifo string) []string {
			return []string{"verify", "--key", fifo, exp}
		},
	} {
		fifo := filepath.Join(t.TempDir(), "share.txt")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		done := make(chan int, 1)
		go func() {
			code, _ := runCLI(t, "a new password of my own\n", args(fifo)...)
			done <- code
		}()
		select {
		case code := <-done:
			if code == 0 {
				t.Errorf("%s with a named pipe for a file succeeded", name)
			}
			continue
		case <-time.After(5 * time.Second):
			t.Errorf("%s with a named pipe for a file still blocks after 5 s (and ignores Ctrl-C and SIGTERM)", name)
		}
		// Let the blocked command go: a writer that closes at once.
		if w, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			_ = w.Close()
		}
		<-done
	}
}

// TestReview78DocumentedCommandsExist: every `dissent COMMAND` the README and
// docs name is a command the binary has. OPERATIONS.md ("Configure",
// PostgreSQL) sends each organisation to "its own custodians' ceremony
// (`dissent setup`, "Set up" above)", a command that does not exist: the
// ceremony is `dissent init`.
func TestReview78DocumentedCommandsExist(t *testing.T) {
	have := map[string]bool{}
	for _, c := range commands {
		have[c.name] = true
	}
	re := regexp.MustCompile("`dissent ([a-z][a-z-]*)")
	for _, doc := range []string{"../../README.md", "../../docs/OPERATIONS.md", "../../docs/THREAT-MODEL.md", "../../docs/LEDGER.md", "../../docs/ARCHITECTURE.md", "../../docs/BENCHMARKS.md"} {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			if !have[m[1]] {
				t.Errorf("%s names `dissent %s`, which is no command (dissent help)", doc, m[1])
			}
		}
	}
}

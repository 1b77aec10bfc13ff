package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dissent-channel/dissent/internal/store/sqlite"
)

// runCLI runs the command in-process with stdin, and returns its exit code
// and what it printed.
func runCLI(t *testing.T, stdin string, args ...string) (int, string) {
	t.Helper()
	in, err := os.CreateTemp(t.TempDir(), "stdin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.WriteString(stdin); err != nil {
		t.Fatal(err)
	}
	if _, err := in.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	oldIn, oldOut, oldErr := os.Stdin, os.Stdout, os.Stderr
	os.Stdin, os.Stdout, os.Stderr = in, w, w
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	code := run(context.Background(), args)
	_ = w.Close()
	os.Stdin, os.Stdout, os.Stderr = oldIn, oldOut, oldErr
	return code, <-done
}

func fastConfig(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := "[security]\nargon_time = 1\nargon_memory_kib = 64\nargon_threads = 1\nweak_passwords_for_tests = true\n"
	if err := os.WriteFile(filepath.Join(dir, "dissent.toml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestInitIsScriptableAndRefusesTwice(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	fastConfig(t, data)
	code, out := runCLI(t, "a long admin passphrase\n", "init", "--data", data, "--admin", "alice", "--password-stdin")
	if code != 0 || !strings.Contains(out, `administrator "alice"`) {
		t.Fatalf("init: %d\n%s", code, out)
	}
	for _, f := range []string{"dissent.db", "ledger.key", "ledger.pub", "recovery-shares/custodian-1.txt"} {
		if _, err := os.Stat(filepath.Join(data, f)); err != nil {
			t.Errorf("init left no %s: %v", f, err)
		}
	}
	if info, err := os.Stat(filepath.Join(data, "ledger.key")); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("ledger.key mode %v, %v", info.Mode(), err)
	}
	code, out = runCLI(t, "another passphrase\n", "init", "--data", data, "--admin", "bob", "--password-stdin")
	if code == 0 || !strings.Contains(out, "already set up") {
		t.Fatalf("a second init: %d\n%s", code, out)
	}
	code, out = runCLI(t, "", "config", "check", "--data", data)
	if code != 0 || !strings.Contains(out, "The configuration is valid.") || strings.Contains(out, "passphrase") {
		t.Fatalf("config check: %d\n%s", code, out)
	}
}

func TestInitRefusesAShortPassword(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	fastConfig(t, data)
	code, out := runCLI(t, "short\n", "init", "--data", data, "--admin", "alice", "--password-stdin")
	if code != 2 || !strings.Contains(out, "password") {
		t.Fatalf("init with a short password: %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(data, "ledger.key")); err == nil {
		t.Fatal("a failed init left a ledger key behind, so init cannot run again")
	}
}

func TestCalendar(t *testing.T) {
	code, out := runCLI(t, "", "calendar", "--data", t.TempDir(), "--profile", "state-2fam070", "--from", "2026-07-02T16:30:00-04:00")
	if code != 0 {
		t.Fatalf("calendar: %d\n%s", code, out)
	}
	for _, want := range []string{
		"acknowledge by:  Tue 2026-07-07 17:00 EDT", // Friday 3 July is Independence Day observed
		"reply by:        Fri 2026-08-14 17:00 EDT",
		"reply at latest: Mon 2026-09-28 17:00 EDT",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("calendar output lacks %q:\n%s", want, out)
		}
	}
	code, out = runCLI(t, "", "calendar", "--data", t.TempDir(), "--from", "yesterday")
	if code != 2 || !strings.Contains(out, "RFC 3339") {
		t.Fatalf("a bad --from: %d\n%s", code, out)
	}
	code, out = runCLI(t, "", "calendar", "--data", t.TempDir(), "--holidays", "2027")
	if code != 0 || !strings.Contains(out, "2027-06-18") { // Juneteenth on a Saturday, observed Friday
		t.Fatalf("holidays: %d\n%s", code, out)
	}
}

func TestUsage(t *testing.T) {
	if code, out := runCLI(t, "", "no-such-command"); code != 2 || !strings.Contains(out, "unknown command") {
		t.Fatalf("unknown command: %d\n%s", code, out)
	}
	if code, out := runCLI(t, "", "help"); code != 0 || !strings.Contains(out, "dissent serve") {
		t.Fatalf("help: %d\n%s", code, out)
	}
	if code, _ := runCLI(t, "", "serve", "--help"); code != 0 {
		t.Fatalf("serve --help: %d", code)
	}
}

// TestMigrateSaysWhatItApplied migrates a copy of the first release's data
// folder: each migration it lacks is named as it is applied, and a second
// run has nothing to do.
func TestMigrateSaysWhatItApplied(t *testing.T) {
	from := filepath.Join("..", "..", "internal", "upgrade", "testdata", "release1")
	data := t.TempDir()
	for _, f := range []string{"dissent.db", "dissent.toml", "ledger.key", "ledger.pub"} {
		b, err := os.ReadFile(filepath.Join(from, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(data, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	names, err := fs.Glob(sqlite.Migrations(), "*.sql")
	if err != nil || len(names) < 2 {
		t.Fatalf("migrations: %v %v", names, err)
	}
	code, out := runCLI(t, "", "migrate", "--data", data)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("Applied %d migrations", len(names)-1)) {
		t.Fatalf("migrate: %d\n%s", code, out)
	}
	for _, name := range names[1:] { // release one's folder is at 0001
		if !strings.Contains(out, "applied "+name+" in ") {
			t.Errorf("migrate did not name %s:\n%s", name, out)
		}
	}
	code, out = runCLI(t, "", "migrate", "--data", data)
	if code != 0 || !strings.Contains(out, "Nothing to do") || strings.Contains(out, "applied 0") {
		t.Fatalf("migrate again: %d\n%s", code, out)
	}
}

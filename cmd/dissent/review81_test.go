package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/ledger/ledgertest"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// TestReview81LedgerExportKeepsAnotherLedgersExport: docs/LEDGER.md §6 says
// "a newer export may be written into the same directory; the checkpoint is
// replaced last", and OPERATIONS.md tells the operator to keep checkpoints
// away from the database, to catch a ledger rewritten behind their back. But
// `dissent ledger export --to DIR` writes over whatever export DIR holds
// without reading it: an export of another ledger (another deployment's data
// folder named by mistake, or this deployment's ledger rewritten wholesale
// together with its checkpoints table) replaces the checkpoint already there
// and the full tiles beside it, and reports success. The export folder was
// the one record of the earlier tree outside the database; it is gone, and
// nothing was said. An export into a folder whose checkpoint the new one does
// not extend (another origin or key, a smaller tree, another root) should be
// refused, leaving the folder as it was.
func TestReview81LedgerExportKeepsAnotherLedgersExport(t *testing.T) {
	t.Setenv("DISSENT_STORE_URL", "")
	a, b := initData(t), initData(t)
	out := filepath.Join(t.TempDir(), "export")
	if code, o := runCLI(t, "", "ledger", "export", "--data", a, "--to", out); code != 0 {
		t.Fatalf("export of a: %d\n%s", code, o)
	}
	before, err := os.ReadFile(filepath.Join(out, "checkpoint"))
	if err != nil {
		t.Fatal(err)
	}
	code, o := runCLI(t, "", "ledger", "export", "--data", b, "--to", out)
	after, err := os.ReadFile(filepath.Join(out, "checkpoint"))
	if err != nil {
		t.Fatal(err)
	}
	if code == 0 || !bytes.Equal(before, after) {
		t.Errorf("exporting another ledger over an export of a: exit %d, checkpoint replaced: %v\n%s", code, !bytes.Equal(before, after), o)
	}
	pubA := filepath.Join(a, "ledger.pub")
	if code, o := runCLI(t, "", "verify", "--key", pubA, out); code != 0 {
		t.Errorf("the export of a no longer verifies under a's key after the second export:\n%s", o)
	}
}

// TestReview81CosignWithoutProofSaysSo: a witness that keeps --state and
// forgets --proof (LEDGER.md §3: "cosigns a new one only if PROOF.json ...
// shows it extends that one") is told "refusing to cosign: the checkpoint of
// 7 entries does not extend the last one cosigned, of 3" — the very words it
// gets for a fork or a rollback, which tell it the ledger was rewritten. The
// checkpoint does extend the last one; only the proof was not given. The
// refusal should say that --proof is missing (GET /api/v1/ledger/consistency)
// and not call an honest checkpoint a fork.
func TestReview81CosignWithoutProofSaysSo(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	skey, vkey, err := ledger.GenerateKey("dissent.test")
	if err != nil {
		t.Fatal(err)
	}
	wskey, _, err := ledger.GenerateKey("witness.test")
	if err != nil {
		t.Fatal(err)
	}
	file := func(name string, b []byte) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	st := new(ledger.MemStorage)
	for i := range 7 {
		if _, err := ledger.Append(ctx, st, ledgertest.Leaf(i)); err != nil {
			t.Fatal(err)
		}
	}
	sign := func(name string, size int64) string {
		t.Helper()
		root, err := ledger.TreeHash(ctx, st, size)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := ledger.SignCheckpoint(skey, "dissent.test", size, root)
		if err != nil {
			t.Fatal(err)
		}
		return file(name, msg)
	}
	at3, at7 := sign("at3", 3), sign("at7", 7)
	pub, key := file("ledger.pub", []byte(vkey+"\n")), file("witness.key", []byte(wskey+"\n"))
	state := filepath.Join(dir, "last")
	cosign := func(checkpoint string) (int, string) {
		return runCLI(t, "", "ledger", "cosign", "--key", key, "--log-key", pub, "--state", state, checkpoint)
	}
	if code, out := cosign(at3); code != 0 {
		t.Fatalf("the first checkpoint: %d\n%s", code, out)
	}
	code, out := cosign(at7)
	if code == 0 {
		t.Fatalf("a later checkpoint without a proof was cosigned:\n%s", out)
	}
	if !strings.Contains(out, "--proof") || strings.Contains(out, "does not extend") {
		t.Errorf("cosign of an honest later checkpoint with no --proof calls it a fork instead of asking for the proof:\n%s", out)
	}
}

// TestReview81ConfigCheckRefusesAnAddressThatCannotListen: OPERATIONS.md,
// "Configure": "`dissent config check --data DIR` prints what is in force and
// fails on anything that cannot work". server.addr = "nonsense" (a missing
// port) passes — "The configuration is valid." — and `dissent serve` then
// fails at once with "listen on "nonsense": missing port in address".
func TestReview81ConfigCheckRefusesAnAddressThatCannotListen(t *testing.T) {
	t.Setenv("DISSENT_STORE_URL", "")
	t.Setenv("DISSENT_ADDR", "")
	data := initData(t)
	toml, err := os.ReadFile(filepath.Join(data, "dissent.toml"))
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte("[server]\naddr = \"nonsense\"\n"), toml...)
	if err := os.WriteFile(filepath.Join(data, "dissent.toml"), bad, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out := runCLI(t, "", "config", "check", "--data", data)
	if code == 0 {
		t.Errorf("config check passes server.addr = \"nonsense\", on which serve cannot listen:\n%s", out)
	}
}

// TestReview81ExportWithAnAccountAwaitingItsFirstSignIn: OPERATIONS.md,
// "Moving to PostgreSQL", on a deployment set up as the docs say: `dissent
// user add` makes an account with no keys until its user first signs in
// (its sign_public, keys_sealed and keys_recovery are empty blobs). `dissent
// export` then fails, every time, with "copy users: ERROR: null value in
// column "sign_public" of relation "users" violates not-null constraint":
// copyTable scans each value into an `any`, an empty BLOB comes back from
// SQLite as a nil []byte, and PostgreSQL is sent NULL. A deployment cannot
// move to PostgreSQL while any account awaits its first sign-in, which an
// organisation always has some of.
func TestReview81ExportWithAnAccountAwaitingItsFirstSignIn(t *testing.T) {
	t.Setenv("DISSENT_STORE_URL", "")
	data := initData(t)
	t.Setenv("DISSENT_PASSWORD", "")
	if code, out := runCLI(t, "a long admin passphrase\nbob's first password\n", "user", "add", "--data", data, "--as", "alice",
		"--username", "bob", "--display-name", "Bob", "--email", "bob@example.test", "--password-stdin"); code != 0 {
		t.Fatalf("user add: %d\n%s", code, out)
	}
	sc := storetest.NewPostgresSchema(t, "export_")
	code, out := runCLI(t, "", "export", "--data", data, "--to", "postgres", sc.DSN)
	if code != 0 {
		t.Fatalf("export of a deployment with an account awaiting its first sign-in: %d\n%s", code, out)
	}
	var users int
	if err := sc.Admin.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM `+sc.Name+`.users`).Scan(&users); err != nil || users != 2 {
		t.Errorf("the export holds %d users (%v), want 2", users, err)
	}
}

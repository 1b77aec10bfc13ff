package sqlite_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store/sqlite"
)

// TestReview63SignedOutSessionLeavesNoKeysInTheDataFolder: the threat model
// (A database thief) says sessions "are deleted at their time-out (the
// background jobs; the CLI signs out after each command), so a token kept
// from long ago opens nothing in a later copy", and PurgeSessions deletes a
// session's row because it "holds its user's private keys sealed under a key
// derived from the token". The thief's copy is the data folder (the SQLite
// file and its WAL). Without secure_delete, SQLite leaves a deleted row's
// bytes in the page (and its WAL frames), so a later copy of the data folder
// still holds the sealed keys of a session signed out or purged long ago:
// with an old token they open the user's private keys.
func TestReview63SignedOutSessionLeavesNoKeysInTheDataFolder(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	path := filepath.Join(dir, "dissent.db")
	st, err := sqlite.Open(ctx, path, sqlite.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	h := servicetest.New(t, st)
	h.Member("ruth")

	sealedOf := func() map[string][]byte {
		rows, err := st.Raw().QueryContext(ctx, `SELECT id, sealed FROM sessions`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string][]byte{}
		for rows.Next() {
			var id, sealed []byte
			if err := rows.Scan(&id, &sealed); err != nil {
				t.Fatal(err)
			}
			out[string(id)] = sealed
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}

	// Ruth signs in twice (a browser, an API script): she signs out of one,
	// and the other is purged at its time-out, as the background job does.
	before := sealedOf()
	tok, _, err := h.Svc.SignIn(ctx, "ruth", servicetest.Password("ruth"))
	if err != nil {
		t.Fatal(err)
	}
	ruth := h.Authenticate(tok)
	var sealed []byte
	for id, s := range sealedOf() {
		if _, ok := before[id]; !ok {
			sealed = s
			before[id] = s
		}
	}
	if _, _, err := h.Svc.SignIn(ctx, "ruth", servicetest.Password("ruth")); err != nil {
		t.Fatal(err)
	}
	var sealed2 []byte
	for id, s := range sealedOf() {
		if _, ok := before[id]; !ok {
			sealed2 = s
		}
	}
	if len(sealed) < 64 || len(sealed2) < 64 {
		t.Fatalf("found no new session rows (%d, %d bytes)", len(sealed), len(sealed2))
	}
	if err := h.Svc.SignOut(ctx, ruth); err != nil {
		t.Fatal(err)
	}
	h.Clock.Advance(24 * time.Hour)
	if _, err := h.Svc.PurgeSessions(ctx); err != nil {
		t.Fatal(err)
	}
	if left := sealedOf(); len(left) != 0 {
		t.Fatalf("%d sessions left after the purge", len(left))
	}
	// Much later, a copy of the data folder is taken (the database file
	// and its WAL, as the threat model's thief has them).
	if _, err := st.Raw().ExecContext(ctx, `PRAGMA wal_checkpoint(FULL)`); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"dissent.db", "dissent.db-wal"} {
		raw, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			continue
		}
		for what, s := range map[string][]byte{"signed out": sealed, "purged at its time-out": sealed2} {
			if len(s) == 0 {
				continue
			}
			// Any 48 bytes of the sealed keys are enough to tell.
			if bytes.Contains(raw, s[len(s)-48:]) {
				t.Errorf("%s still holds the sealed keys of a session %s: a later copy of the data folder, with the old token, opens the user's private keys", f, what)
			}
		}
	}
}

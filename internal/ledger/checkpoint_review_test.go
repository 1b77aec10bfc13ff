package ledger

// The tests here come from a review (helper-32). Each comment says what the
// review found the code did; the test fails if it does it again.

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// TestWitnessRefusesAnotherEmptyTree: LEDGER.md §5 checks
// "first == second" before "first == 0", so two checkpoints of size 0 are
// consistent only if their roots are equal; §3 says the witness refuses
// "another tree of the same size". VerifyConsistency tests old.Size == 0
// first and never looks at the new root, so a witness whose last checkpoint
// is the genuine empty tree cosigns a size-0 checkpoint over any root — and
// from then on, its state holding a size-0 root that is not SHA-256(""),
// refuses every later checkpoint of the ledger.
func TestWitnessRefusesAnotherEmptyTree(t *testing.T) {
	skey, vkey := testKeys(t, testOrigin)
	wskey, _ := testKeys(t, "witness.example")
	genuine, err := SignCheckpoint(skey, testOrigin, 0, emptyRoot)
	if err != nil {
		t.Fatal(err)
	}
	bogus := tlog.Hash(sha256.Sum256([]byte("not the empty tree")))
	other, err := SignCheckpoint(skey, testOrigin, 0, bogus)
	if err != nil {
		t.Fatal(err)
	}
	old := Checkpoint{Origin: testOrigin, Size: 0, Root: emptyRoot}
	cur := Checkpoint{Origin: testOrigin, Size: 0, Root: bogus}
	if err := VerifyConsistency(old, cur, nil); err == nil {
		t.Errorf("VerifyConsistency accepted two trees of size 0 with different roots (%s and %s); LEDGER.md §5: first == second succeeds only if first_hash == second_hash", emptyRoot, bogus)
	}
	if _, err := CosignAfter(other, wskey, vkey, genuine, nil); err == nil {
		t.Errorf("the witness, having cosigned the empty tree, cosigned another tree of size 0 (root %s): LEDGER.md §3 says it refuses another tree of the same size", bogus)
	}
}

// TestSecondBadLedgerSignatureLine: LEDGER.md §3: "a line that
// names a known key but does not verify makes the whole checkpoint
// invalid". note.Open verifies only the first line of each known key and
// drops later ones unverified, so a checkpoint with a genuine ledger line
// followed by a garbage line by the same key (name and key id) opens in Go,
// while a verifier written from the spec refuses it.
func TestSecondBadLedgerSignatureLine(t *testing.T) {
	skey, vkey := testKeys(t, testOrigin)
	root := tlog.RecordHash([]byte("x"))
	msg, err := SignCheckpoint(skey, testOrigin, 1, root)
	if err != nil {
		t.Fatal(err)
	}
	// The genuine line is "— <origin> <base64(keyid||sig)>\n"; copy it with
	// the signature bytes zeroed (same key id, so it names the known key).
	lines := strings.SplitAfter(string(msg), "\n")
	sigLine := lines[len(lines)-2]
	prefix := "— " + testOrigin + " "
	if !strings.HasPrefix(sigLine, prefix) {
		t.Fatalf("unexpected signature line %q", sigLine)
	}
	b64 := strings.TrimSuffix(strings.TrimPrefix(sigLine, prefix), "\n")
	raw := mustB64(t, b64)
	bad := append(append([]byte{}, raw[:4]...), bytes.Repeat([]byte{0}, 64)...)
	forged := string(msg) + prefix + b64Encode(bad) + "\n"
	if _, err := OpenCheckpoint([]byte(forged), vkey); err == nil {
		t.Errorf("a checkpoint with a second, invalid signature line by the ledger key verified; LEDGER.md §3 says such a line makes the whole checkpoint invalid:\n%s", forged)
	}
}

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func b64Encode(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

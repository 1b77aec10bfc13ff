package ledger

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const testOrigin = "dissent.example/ledger"

func testKeys(t testing.TB, name string) (skey, vkey string) {
	t.Helper()
	skey, vkey, err := GenerateKey(name)
	if err != nil {
		t.Fatal(err)
	}
	return skey, vkey
}

func TestCheckpointRoundTrip(t *testing.T) {
	skey, vkey := testKeys(t, testOrigin)
	root := tlog.RecordHash([]byte("root"))
	msg, err := SignCheckpoint(skey, testOrigin, 20852163, root)
	if err != nil {
		t.Fatal(err)
	}
	wantBody := testOrigin + "\n20852163\n" + root.String() + "\n\n— " + testOrigin + " "
	if !strings.HasPrefix(string(msg), wantBody) {
		t.Fatalf("checkpoint =\n%s\nwant it to start\n%s", msg, wantBody)
	}
	cp, err := OpenCheckpoint(msg, vkey)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Origin != testOrigin || cp.Size != 20852163 || cp.Root != root || !slices.Equal(cp.Signers, []string{testOrigin}) {
		t.Fatalf("OpenCheckpoint = %+v", cp)
	}
}

func TestCheckpointWitness(t *testing.T) {
	skey, vkey := testKeys(t, testOrigin)
	w1skey, w1vkey := testKeys(t, "witness.example/one")
	w2skey, w2vkey := testKeys(t, "witness.example/two")
	root := tlog.RecordHash([]byte("root"))
	msg, err := SignCheckpoint(skey, testOrigin, 7, root)
	if err != nil {
		t.Fatal(err)
	}
	once, err := Cosign(msg, w1skey, vkey)
	if err != nil {
		t.Fatal(err)
	}
	twice, err := Cosign(once, w2skey, vkey)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		msg     []byte
		vkeys   []string
		signers []string
	}{
		{"ledger key only", twice, []string{vkey}, []string{testOrigin}},
		{"one witness asked for", twice, []string{vkey, w2vkey}, []string{testOrigin, "witness.example/two"}},
		{"both witnesses", twice, []string{vkey, w1vkey, w2vkey}, []string{testOrigin, "witness.example/one", "witness.example/two"}},
		{"witness asked for, absent", msg, []string{vkey, w1vkey}, []string{testOrigin}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cp, err := OpenCheckpoint(tt.msg, tt.vkeys...)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(cp.Signers, tt.signers) || cp.Size != 7 || cp.Root != root {
				t.Fatalf("OpenCheckpoint = %+v, want signers %q", cp, tt.signers)
			}
		})
	}
	// Cosigning again replaces the witness's signature rather than adding a second.
	again, err := Cosign(twice, w1skey, vkey)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(again), "— "); n != 3 {
		t.Errorf("after cosigning twice the note has %d signatures, want 3:\n%s", n, again)
	}
}

func TestCheckpointRejects(t *testing.T) {
	skey, vkey := testKeys(t, testOrigin)
	otherSkey, otherVkey := testKeys(t, testOrigin) // same name, other key
	wskey, wvkey := testKeys(t, "witness.example")
	root := tlog.RecordHash([]byte("root"))
	good, err := SignCheckpoint(skey, testOrigin, 5, root)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := SignCheckpoint(otherSkey, testOrigin, 5, root)
	if err != nil {
		t.Fatal(err)
	}
	witnessOnly, err := note.Sign(&note.Note{Text: checkpointBody(testOrigin, 5, root)}, mustSigner(t, wskey))
	if err != nil {
		t.Fatal(err)
	}
	sign := func(body string) []byte {
		msg, err := note.Sign(&note.Note{Text: body}, mustSigner(t, skey))
		if err != nil {
			t.Fatal(err)
		}
		return msg
	}
	b64 := root.String()
	tests := []struct {
		name  string
		msg   []byte
		vkeys []string
	}{
		{"signed by a wrong key", forged, []string{vkey}},
		{"opened with a wrong key", good, []string{otherVkey}},
		{"signed by the witness alone", witnessOnly, []string{vkey, wvkey}},
		{"no keys", good, nil},
		{"malformed key", good, []string{"not a key"}},
		{"key given twice", good, []string{vkey, vkey}},
		{"body altered", []byte(strings.Replace(string(good), "\n5\n", "\n6\n", 1)), []string{vkey}},
		{"signature altered", append(good[:len(good)-3:len(good)-3], "AA\n"...), []string{vkey}},
		{"no signature", []byte(checkpointBody(testOrigin, 5, root)), []string{vkey}},
		{"origin not the key's", sign("other.example\n5\n" + b64 + "\n"), []string{vkey}},
		{"size with leading zero", sign(testOrigin + "\n05\n" + b64 + "\n"), []string{vkey}},
		{"negative size", sign(testOrigin + "\n-5\n" + b64 + "\n"), []string{vkey}},
		{"size with plus", sign(testOrigin + "\n+5\n" + b64 + "\n"), []string{vkey}},
		{"size too large", sign(testOrigin + "\n9223372036854775808\n" + b64 + "\n"), []string{vkey}},
		{"root unpadded", sign(testOrigin + "\n5\n" + strings.TrimRight(b64, "=") + "\n"), []string{vkey}},
		{"root short", sign(testOrigin + "\n5\nAAAA\n"), []string{vkey}},
		{"root missing", sign(testOrigin + "\n5\n"), []string{vkey}},
		{"empty extension line", sign(testOrigin + "\n5\n" + b64 + "\n\n"), []string{vkey}},
		{"too large", append(good, strings.Repeat("x", MaxCheckpointSize)...), []string{vkey}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cp, err := OpenCheckpoint(tt.msg, tt.vkeys...)
			if !errors.Is(err, ErrBadCheckpoint) {
				t.Fatalf("OpenCheckpoint = %+v, %v; want ErrBadCheckpoint", cp, err)
			}
		})
	}
	t.Run("extension lines are ignored", func(t *testing.T) {
		cp, err := OpenCheckpoint(sign(testOrigin+"\n5\n"+b64+"\nsome extension\n"), vkey)
		if err != nil || cp.Size != 5 || cp.Root != root {
			t.Fatalf("OpenCheckpoint = %+v, %v", cp, err)
		}
	})
	t.Run("signing for another origin", func(t *testing.T) {
		if _, err := SignCheckpoint(skey, "other.example", 5, root); !errors.Is(err, ErrBadCheckpoint) {
			t.Fatalf("SignCheckpoint = %v, want ErrBadCheckpoint", err)
		}
	})
	t.Run("cosigning a forgery", func(t *testing.T) {
		if _, err := Cosign(forged, wskey, vkey); !errors.Is(err, ErrBadCheckpoint) {
			t.Fatalf("Cosign = %v, want ErrBadCheckpoint", err)
		}
	})
	t.Run("origin with a space", func(t *testing.T) {
		if _, _, err := GenerateKey("bad origin"); !errors.Is(err, ErrBadCheckpoint) {
			t.Fatalf("GenerateKey = %v, want ErrBadCheckpoint", err)
		}
	})
}

func mustSigner(t *testing.T, skey string) note.Signer {
	t.Helper()
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCheckConsistent(t *testing.T) {
	ctx := context.Background()
	s := new(MemStorage)
	appendN(t, s, 0, 100)
	root, err := TreeHash(ctx, s, 60)
	if err != nil {
		t.Fatal(err)
	}
	old := Checkpoint{Origin: testOrigin, Size: 60, Root: root}
	if err := CheckConsistent(ctx, s, old); err != nil {
		t.Fatalf("CheckConsistent of an honest ledger: %v", err)
	}
	for _, size := range []int64{0, 1, 99, 100} {
		r, err := TreeHash(ctx, s, size)
		if err != nil {
			t.Fatal(err)
		}
		if err := CheckConsistent(ctx, s, Checkpoint{Origin: testOrigin, Size: size, Root: r}); err != nil {
			t.Errorf("CheckConsistent from size %d: %v", size, err)
		}
	}

	forked := old
	forked.Root[0] ^= 1
	var te *TamperError
	if err := CheckConsistent(ctx, s, forked); !errors.As(err, &te) || te.Index != -1 {
		t.Errorf("CheckConsistent with another root at size 60 = %v, want a TamperError", err)
	}
	ahead := Checkpoint{Origin: testOrigin, Size: 101, Root: root}
	if err := CheckConsistent(ctx, s, ahead); !errors.As(err, &te) || te.Index != 100 {
		t.Errorf("CheckConsistent with a checkpoint past the end = %v, want a TamperError at leaf 100", err)
	}
}

func TestVerifyConsistencyRejects(t *testing.T) {
	ctx := context.Background()
	s := new(MemStorage)
	appendN(t, s, 0, 50)
	cp := func(origin string, size int64) Checkpoint {
		r, err := TreeHash(ctx, s, size)
		if err != nil {
			t.Fatal(err)
		}
		return Checkpoint{Origin: origin, Size: size, Root: r}
	}
	proof, err := ProveConsistency(ctx, s, 20, 50)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyConsistency(cp(testOrigin, 20), cp(testOrigin, 50), proof); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		old, new Checkpoint
		proof    tlog.TreeProof
	}{
		{"other ledger", cp("other.example", 20), cp(testOrigin, 50), proof},
		{"shrunk", cp(testOrigin, 50), cp(testOrigin, 20), proof},
		{"wrong old size", cp(testOrigin, 21), cp(testOrigin, 50), proof},
		{"truncated proof", cp(testOrigin, 20), cp(testOrigin, 50), proof[:len(proof)-1]},
		{"proof of another pair", cp(testOrigin, 20), cp(testOrigin, 49), proof},
		{"same size, other root", cp(testOrigin, 50), Checkpoint{Origin: testOrigin, Size: 50}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := VerifyConsistency(tt.old, tt.new, tt.proof); !errors.Is(err, ErrBadProof) {
				t.Fatalf("VerifyConsistency = %v, want ErrBadProof", err)
			}
		})
	}
}

// TestCosignAfter: a witness that keeps its last checkpoint cosigns a
// larger tree only with a consistency proof that holds, and never a smaller
// one or another tree of the same size — so a fork shown to it is caught.
func TestCosignAfter(t *testing.T) {
	ctx := context.Background()
	skey, vkey := testKeys(t, testOrigin)
	wskey, wvkey := testKeys(t, "witness.example/one")
	s := new(MemStorage)
	appendN(t, s, 0, 7)
	fork := new(MemStorage)
	appendN(t, fork, 0, 1)
	appendN(t, fork, 100, 1) // a second leaf the honest ledger does not have
	appendN(t, fork, 2, 5)
	sign := func(st Storage, size int64) []byte {
		t.Helper()
		root, err := TreeHash(ctx, st, size)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := SignCheckpoint(skey, testOrigin, size, root)
		if err != nil {
			t.Fatal(err)
		}
		return msg
	}
	proof := func(st Storage, from, to int64) tlog.TreeProof {
		t.Helper()
		p, err := ProveConsistency(ctx, st, from, to)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	at3, at7, forked7 := sign(s, 3), sign(s, 7), sign(fork, 7)

	first, err := CosignAfter(at3, wskey, vkey, nil, nil)
	if err != nil {
		t.Fatalf("the first checkpoint a witness sees: %v", err)
	}
	if cp, err := OpenCheckpoint(first, vkey, wvkey); err != nil || len(cp.Signers) != 2 {
		t.Fatalf("cosigned: %+v %v", cp, err)
	}
	if _, err := CosignAfter(at7, wskey, vkey, at3, proof(s, 3, 7)); err != nil {
		t.Fatalf("a tree that extends the last: %v", err)
	}
	if _, err := CosignAfter(at7, wskey, vkey, at7, nil); err != nil {
		t.Fatalf("the same checkpoint again: %v", err)
	}
	for _, c := range []struct {
		name    string
		msg     []byte
		last    []byte
		proof   tlog.TreeProof
		noProof bool // told the proof is missing (ErrNoProof), not that it fails
	}{
		{"a larger tree without a proof", at7, at3, nil, true},
		{"a fork, with its own proof", forked7, at3, proof(fork, 3, 7), false},
		{"a fork, with the honest tree's proof", forked7, at3, proof(s, 3, 7), false},
		{"another tree of the same size", forked7, at7, nil, false},
		{"a rollback", at3, at7, nil, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := CosignAfter(c.msg, wskey, vkey, c.last, c.proof)
			if !errors.Is(err, ErrBadProof) {
				t.Fatalf("cosigned: %v, want ErrBadProof", err)
			}
			if errors.Is(err, ErrNoProof) != c.noProof {
				t.Fatalf("%v: told the proof is missing: %v, want %v", err, !c.noProof, c.noProof)
			}
		})
	}
}

// TestAddCosignatures: witnesses' cosignatures of a stored checkpoint are
// added to it, each once, in whatever order they come; a note carrying
// none, or only an unknown key's, adds nothing; the ledger's signature on
// another tree of the same size is a fork.
func TestAddCosignatures(t *testing.T) {
	skey, vkey := testKeys(t, testOrigin)
	w1s, w1v := testKeys(t, "oig.example")
	w2s, w2v := testKeys(t, "ombuds.example")
	strangerS, _ := testKeys(t, "stranger.example")
	witnesses := []string{w1v, w2v}
	stored, err := SignCheckpoint(skey, testOrigin, 7, tlog.RecordHash([]byte("seven")))
	if err != nil {
		t.Fatal(err)
	}
	cosign := func(msg []byte, wskey string) []byte {
		t.Helper()
		out, err := Cosign(msg, wskey, vkey)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	add := func(stored, msg []byte) ([]byte, []string, error) {
		out, _, added, err := AddCosignatures(stored, msg, vkey, witnesses)
		return out, added, err
	}

	one, added, err := add(stored, cosign(stored, w1s))
	if err != nil || !slices.Equal(added, []string{"oig.example"}) {
		t.Fatalf("the first witness: %v, added %v", err, added)
	}
	both, added, err := add(one, cosign(stored, w2s))
	if err != nil || !slices.Equal(added, []string{"ombuds.example"}) {
		t.Fatalf("the second witness: %v, added %v", err, added)
	}
	cp, err := OpenCheckpoint(both, vkey, w1v, w2v)
	if err != nil || !slices.Equal(cp.Signers, []string{testOrigin, "oig.example", "ombuds.example"}) {
		t.Fatalf("the merged note: %v, signers %v\n%s", err, cp.Signers, both)
	}
	if again, added, err := add(both, cosign(cosign(stored, w2s), w1s)); err != nil || len(added) != 0 || string(again) != string(both) {
		t.Errorf("cosignatures given again: %v, added %v\n%s", err, added, again)
	}
	if _, added, err := add(stored, stored); err != nil || len(added) != 0 {
		t.Errorf("the ledger's note alone: %v, added %v", err, added)
	}
	if _, added, err := add(stored, cosign(stored, strangerS)); err != nil || len(added) != 0 {
		t.Errorf("an unknown key's cosignature: %v, added %v", err, added)
	}
	fork, err := SignCheckpoint(skey, testOrigin, 7, tlog.RecordHash([]byte("another seven")))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := add(stored, cosign(fork, w1s)); !errors.Is(err, ErrTampered) {
		t.Errorf("another tree of the same size: %v, want ErrTampered", err)
	}
	otherS, _ := testKeys(t, testOrigin)
	forged, err := SignCheckpoint(otherS, testOrigin, 7, tlog.RecordHash([]byte("seven")))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := add(stored, cosign2(t, forged, w1s)); !errors.Is(err, ErrBadCheckpoint) {
		t.Errorf("a note the ledger key did not sign: %v, want ErrBadCheckpoint", err)
	}
}

// cosign2 adds a witness signature without checking the ledger's.
func cosign2(t *testing.T, msg []byte, wskey string) []byte {
	t.Helper()
	n, err := note.Open(msg, note.VerifierList())
	var unverified *note.UnverifiedNoteError
	if errors.As(err, &unverified) {
		n, err = unverified.Note, nil
	}
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(wskey)
	if err != nil {
		t.Fatal(err)
	}
	out, err := note.Sign(n, signer)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

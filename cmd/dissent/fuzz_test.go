package main

// Fuzz targets of what the command reads from files others may have
// written: a checkpoint (or a receipt holding one) given to restore and
// verify, and a witness's consistency proof.

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/dissent-channel/dissent/internal/bundle"
	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/ledger/ledgertest"
)

// fuzzKeys are note keys from a fixed seed, so that the seed corpus holds
// the same signed notes in every fuzzing process.
func fuzzKeys(f *testing.F, name string, seed byte) (skey, vkey string) {
	skey, vkey, err := note.GenerateKey(rand.NewChaCha8([32]byte{seed}), name)
	if err != nil {
		f.Fatal(err)
	}
	return skey, vkey
}

// fuzzLedger is a ledger of seven entries, an honest one and a fork of it
// from its second entry, with checkpoints signed by a fixed key.
type fuzzLedger struct {
	skey, vkey    string
	honest, fork  *ledger.MemStorage
	at3, at7, fk7 []byte
}

func newFuzzLedger(f *testing.F) *fuzzLedger {
	ctx := context.Background()
	l := &fuzzLedger{honest: new(ledger.MemStorage), fork: new(ledger.MemStorage)}
	l.skey, l.vkey = fuzzKeys(f, "dissent.test", 1)
	for i := range 7 {
		forkLeaf := ledgertest.Leaf(i)
		if i == 1 {
			forkLeaf = ledgertest.Leaf(100)
		}
		if _, err := ledger.Append(ctx, l.honest, ledgertest.Leaf(i)); err != nil {
			f.Fatal(err)
		}
		if _, err := ledger.Append(ctx, l.fork, forkLeaf); err != nil {
			f.Fatal(err)
		}
	}
	sign := func(st ledger.Storage, size int64) []byte {
		root, err := ledger.TreeHash(ctx, st, size)
		if err != nil {
			f.Fatal(err)
		}
		msg, err := ledger.SignCheckpoint(l.skey, "dissent.test", size, root)
		if err != nil {
			f.Fatal(err)
		}
		return msg
	}
	l.at3, l.at7, l.fk7 = sign(l.honest, 3), sign(l.honest, 7), sign(l.fork, 7)
	return l
}

// FuzzReadCheckpointArg writes any bytes to the file given as
// --checkpoint (restore, verify): a refusal is channel's invalid-input
// error and nothing else; a file that is not JSON is the note itself, to
// the byte; one that is, is a receipt whose non-empty checkpoint is taken;
// and nothing larger than the bound is read.
func FuzzReadCheckpointArg(f *testing.F) {
	l := newFuzzLedger(f)
	receipt, err := json.Marshal(bundle.Receipt{MemoID: "m1", Revision: 1, ContentHash: strings.Repeat("ab", 32), AuthorsCount: 1,
		SubmittedAt: time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC), LedgerIndex: 2, Checkpoint: string(l.at3), Leaf: string(ledgertest.Leaf(2)), Proof: []string{}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(l.at3)
	f.Add(receipt)
	f.Add(append([]byte(" \n"), receipt...))
	f.Add([]byte(`{"checkpoint":""}`))
	f.Add([]byte(`{"checkpoint":1}`))
	f.Add([]byte(`{"checkpoint":"a","checkpoint":"b"}`))
	f.Add([]byte(`{"CHECKPOINT":"x"}`))
	f.Add([]byte("{"))
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte("a"), 4*ledger.MaxCheckpointSize+1))
	path := filepath.Join(f.TempDir(), "checkpoint")
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := readCheckpointArg(path)
		if err != nil {
			if out != nil || channel.ErrorCode(err) != channel.EINVALID {
				t.Fatalf("readCheckpointArg(%.80q) = %.80q, %v: want only the invalid-input error", b, out, err)
			}
			return
		}
		if len(b) > 4*ledger.MaxCheckpointSize || len(out) > len(b) {
			t.Fatalf("read %d bytes from a file of %d", len(out), len(b))
		}
		if !strings.HasPrefix(strings.TrimSpace(string(b)), "{") {
			if !bytes.Equal(out, b) {
				t.Fatalf("readCheckpointArg(%.80q) = %.80q, not the note as written", b, out)
			}
			return
		}
		var r struct {
			Checkpoint string `json:"checkpoint"`
		}
		if err := json.Unmarshal(b, &r); err != nil || r.Checkpoint == "" || string(out) != r.Checkpoint {
			t.Fatalf("readCheckpointArg(%.80q) = %.80q from JSON that holds %q (%v)", b, out, r.Checkpoint, err)
		}
	})
}

// FuzzWitnessProof writes any bytes as the --proof file of `dissent ledger
// cosign --state`, for a witness whose last checkpoint is of 3 entries, and
// shown the ledger's checkpoint of 7, or a fork's of 7, or the one of 3
// again. The witness cosigns, keeps the new checkpoint and prints the
// cosigned note only for the one true proof (no hashes at all for the same
// checkpoint, none for the fork); anything else leaves its state as it was
// and prints nothing.
func FuzzWitnessProof(f *testing.F) {
	ctx := context.Background()
	l := newFuzzLedger(f)
	wskey, wvkey := fuzzKeys(f, "witness.test", 2)
	p, err := ledger.ProveConsistency(ctx, l.honest, 3, 7)
	if err != nil {
		f.Fatal(err)
	}
	var hashes []string
	for _, h := range p {
		hashes = append(hashes, h.String())
	}
	forkProof, err := ledger.ProveConsistency(ctx, l.fork, 3, 7)
	if err != nil {
		f.Fatal(err)
	}
	var forkHashes []string
	for _, h := range forkProof {
		forkHashes = append(forkHashes, h.String())
	}
	proofJSON := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	// What GET /api/v1/ledger/consistency answers, as the tests make it.
	honest := proofJSON(map[string]any{"index": 0, "size": 7, "hashes": hashes})
	for shown := range uint8(3) {
		f.Add(shown, honest)
		f.Add(shown, proofJSON(map[string]any{"hashes": hashes}))
		f.Add(shown, proofJSON(map[string]any{"hashes": forkHashes}))
		f.Add(shown, proofJSON(map[string]any{"hashes": hashes[:len(hashes)-1]}))
		f.Add(shown, proofJSON(map[string]any{"hashes": []string{}}))
		f.Add(shown, []byte("null"))
		f.Add(shown, []byte(`{"hashes":["not a hash"]}`))
		f.Add(shown, []byte(`{"Hashes":null,"hashes":[]}`))
		f.Add(shown, []byte(""))
	}
	dir := f.TempDir()
	state, proofFile, stdout := filepath.Join(dir, "last"), filepath.Join(dir, "proof.json"), filepath.Join(dir, "stdout")
	shownNotes := [][]byte{l.at7, l.fk7, l.at3}
	f.Fuzz(func(t *testing.T, shown uint8, b []byte) {
		msg := shownNotes[int(shown)%len(shownNotes)]
		if err := os.WriteFile(state, l.at3, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(proofFile, b, 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(stdout)
		if err != nil {
			t.Fatal(err)
		}
		old := os.Stdout
		os.Stdout = out
		err = cosignAfter(state, proofFile, msg, wskey, l.vkey)
		os.Stdout = old
		if cerr := out.Close(); cerr != nil {
			t.Fatal(cerr)
		}
		printed, rerr := os.ReadFile(stdout)
		kept, kerr := os.ReadFile(state)
		if rerr != nil || kerr != nil {
			t.Fatal(rerr, kerr)
		}

		// The proof as the witness should read it.
		var proof struct {
			Hashes []string `json:"hashes"`
		}
		var got []string
		want := json.Unmarshal(b, &proof) == nil
		for _, h := range proof.Hashes {
			hash, err := tlog.ParseHash(h)
			want = want && err == nil
			got = append(got, hash.String())
		}
		switch {
		case bytes.Equal(msg, l.at7):
			want = want && slices.Equal(got, hashes)
		case bytes.Equal(msg, l.at3):
			want = want && len(got) == 0
		default:
			want = false
		}
		if (err == nil) != want {
			t.Fatalf("proof %q for the note of %d bytes: %v, want cosigned %v", b, len(msg), err, want)
		}
		if err != nil {
			if len(printed) != 0 || !bytes.Equal(kept, l.at3) {
				t.Fatalf("refused (%v), yet printed %q and kept\n%s", err, printed, kept)
			}
			if _, serr := os.Stat(state + ".new"); serr == nil {
				t.Fatal("refused, yet a new state was written")
			}
			return
		}
		if !bytes.Equal(kept, msg) {
			t.Fatalf("cosigned, but kept\n%s", kept)
		}
		cp, err := ledger.OpenCheckpoint(printed, l.vkey, wvkey)
		if err != nil || !slices.Equal(cp.Signers, []string{"dissent.test", "witness.test"}) || !bytes.HasPrefix(printed, bytes.SplitAfter(msg, []byte("\n\n"))[0]) {
			t.Fatalf("printed %q, which opens as %+v, %v", printed, cp, err)
		}
	})
}

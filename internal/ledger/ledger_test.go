package ledger

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// appendN appends testLeaf(from) .. testLeaf(from+n-1) through Append.
func appendN(t testing.TB, s Storage, from, n int) {
	t.Helper()
	ctx := context.Background()
	for i := from; i < from+n; i++ {
		if _, err := Append(ctx, s, testLeaf(i)); err != nil {
			t.Fatalf("Append(%d): %v", i, err)
		}
	}
}

func TestRoundTrip10k(t *testing.T) {
	const n = 10_000
	ctx := context.Background()
	s := new(MemStorage)
	for i := range n {
		idx, err := Append(ctx, s, testLeaf(i))
		if err != nil {
			t.Fatal(err)
		}
		if idx != int64(i) {
			t.Fatalf("Append = %d, want %d", idx, i)
		}
	}
	skey, vkey := testKeys(t, testOrigin)
	rng := rand.New(rand.NewPCG(1, 2))

	checkpointAt := func(size int64) Checkpoint {
		root, err := TreeHash(ctx, s, size)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := SignCheckpoint(skey, testOrigin, size, root)
		if err != nil {
			t.Fatal(err)
		}
		cp, err := OpenCheckpoint(msg, vkey)
		if err != nil {
			t.Fatal(err)
		}
		return cp
	}

	t.Run("inclusion", func(t *testing.T) {
		for range 200 {
			size := 1 + rng.Int64N(n)
			idx := rng.Int64N(size)
			cp := checkpointAt(size)
			proof, err := ProveInclusion(ctx, s, idx, size)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyInclusion(testLeaf(int(idx)), idx, proof, cp); err != nil {
				t.Fatalf("leaf %d of %d: %v", idx, size, err)
			}
			if err := VerifyInclusion(testLeaf(int(idx)+1), idx, proof, cp); !errors.Is(err, ErrBadProof) {
				t.Fatalf("leaf %d of %d verifies with another leaf's bytes: %v", idx, size, err)
			}
		}
	})

	t.Run("consistency", func(t *testing.T) {
		for range 200 {
			a, b := rng.Int64N(n+1), rng.Int64N(n+1)
			from, to := min(a, b), max(a, b)
			proof, err := ProveConsistency(ctx, s, from, to)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyConsistency(checkpointAt(from), checkpointAt(to), proof); err != nil {
				t.Fatalf("%d to %d: %v", from, to, err)
			}
		}
	})

	t.Run("self-check", func(t *testing.T) {
		cp := checkpointAt(n)
		if err := SelfCheck(ctx, s, &cp); err != nil {
			t.Fatal(err)
		}
		older := checkpointAt(n / 3)
		if err := SelfCheck(ctx, s, &older); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("export", func(t *testing.T) {
		dir := t.TempDir()
		size := int64(n - 123) // leave the ledger ahead of the checkpoint, as in life
		root, err := TreeHash(ctx, s, size)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := SignCheckpoint(skey, testOrigin, size, root)
		if err != nil {
			t.Fatal(err)
		}
		if err := Export(ctx, s, dir, msg); err != nil {
			t.Fatal(err)
		}
		cp, err := VerifyExport(dir, vkey)
		if err != nil {
			t.Fatal(err)
		}
		if cp.Size != size || cp.Root != root {
			t.Fatalf("VerifyExport = %+v", cp)
		}
		// Exporting a later checkpoint into the same directory updates it in place.
		full := checkpointAt(n)
		msg, err = SignCheckpoint(skey, testOrigin, full.Size, full.Root)
		if err != nil {
			t.Fatal(err)
		}
		if err := Export(ctx, s, dir, msg); err != nil {
			t.Fatal(err)
		}
		if cp, err := VerifyExport(dir, vkey); err != nil || cp.Size != n {
			t.Fatalf("VerifyExport after re-export = %+v, %v", cp, err)
		}

		// An earlier checkpoint, or a ledger whose first entries were
		// rewritten, does not extend that export: it is kept.
		kept, err := os.ReadFile(filepath.Join(dir, CheckpointFile))
		if err != nil {
			t.Fatal(err)
		}
		rewritten := new(MemStorage)
		for i := range n {
			leaf := testLeaf(i)
			if i == 3 {
				leaf = testLeaf(n + 1)
			}
			if _, err := appendRecord(ctx, rewritten, leaf); err != nil {
				t.Fatal(err)
			}
		}
		for name, c := range map[string]struct {
			s    Storage
			size int64
		}{"an earlier checkpoint": {s, size}, "a rewritten ledger": {rewritten, n}} {
			root, err := TreeHash(ctx, c.s, c.size)
			if err != nil {
				t.Fatal(err)
			}
			msg, err := SignCheckpoint(skey, testOrigin, c.size, root)
			if err != nil {
				t.Fatal(err)
			}
			if err := Export(ctx, c.s, dir, msg); !errors.Is(err, ErrBadCheckpoint) || !strings.Contains(err.Error(), "is kept") {
				t.Errorf("%s over the export: %v, want it refused", name, err)
			}
			if now, _ := os.ReadFile(filepath.Join(dir, CheckpointFile)); !bytes.Equal(now, kept) {
				t.Errorf("%s over the export replaced its checkpoint", name)
			}
		}
		if cp, err := VerifyExport(dir, vkey); err != nil || cp.Size != n {
			t.Fatalf("VerifyExport after the refused exports = %+v, %v", cp, err)
		}
	})
}

func TestAppendRejectsBadLeaf(t *testing.T) {
	ctx := context.Background()
	s := new(MemStorage)
	if _, err := Append(ctx, s, []byte(`{"v":1}`)); !errors.Is(err, ErrBadLeaf) {
		t.Fatalf("Append of a bad leaf = %v, want ErrBadLeaf", err)
	}
	if n, _ := s.Size(ctx); n != 0 {
		t.Fatalf("a refused leaf changed the size to %d", n)
	}
}

func TestProofRanges(t *testing.T) {
	ctx := context.Background()
	s := new(MemStorage)
	appendN(t, s, 0, 10)
	for _, c := range []struct{ index, size int64 }{{-1, 5}, {5, 5}, {0, 0}, {3, 11}} {
		if _, err := ProveInclusion(ctx, s, c.index, c.size); !errors.Is(err, ErrRange) {
			t.Errorf("ProveInclusion(%d, %d) = %v, want ErrRange", c.index, c.size, err)
		}
	}
	for _, c := range []struct{ from, to int64 }{{-1, 5}, {6, 5}, {3, 11}} {
		if _, err := ProveConsistency(ctx, s, c.from, c.to); !errors.Is(err, ErrRange) {
			t.Errorf("ProveConsistency(%d, %d) = %v, want ErrRange", c.from, c.to, err)
		}
	}
	if _, err := TreeHash(ctx, s, 11); !errors.Is(err, ErrRange) {
		t.Errorf("TreeHash past the end = %v, want ErrRange", err)
	}
	if err := VerifyInclusion(testLeaf(0), 10, nil, Checkpoint{Size: 10}); !errors.Is(err, ErrBadProof) {
		t.Errorf("VerifyInclusion past the end = %v, want ErrBadProof", err)
	}
}

func TestMemStorageUpdate(t *testing.T) {
	ctx := context.Background()
	s := new(MemStorage)
	errAbort := errors.New("abort")
	err := s.Update(ctx, func(tx Storage) error {
		appendN(t, tx, 0, 3)
		if n, _ := s.Size(ctx); n != 0 {
			t.Errorf("uncommitted leaves visible outside the transaction: size %d", n)
		}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatalf("Update = %v", err)
	}
	if n, _ := s.Size(ctx); n != 0 {
		t.Fatalf("rolled-back leaves kept: size %d", n)
	}
	if err := s.Update(ctx, func(tx Storage) error { appendN(t, tx, 0, 3); return nil }); err != nil {
		t.Fatal(err)
	}
	ref := new(MemStorage)
	appendN(t, ref, 0, 3)
	a, _ := TreeHash(ctx, s, 3)
	b, _ := TreeHash(ctx, ref, 3)
	if a != b {
		t.Fatal("a transaction's appends hash differently from direct appends")
	}

	// Racing appends outside Update fail cleanly instead of corrupting the tree.
	idx := int64(3)
	if err := s.WriteLeaf(ctx, idx+1, testLeaf(9), []int64{99}, []tlog.Hash{{}}); !errors.Is(err, ErrConflict) {
		t.Errorf("WriteLeaf at a wrong index = %v, want ErrConflict", err)
	}
}

func TestMemStorageConcurrent(t *testing.T) {
	ctx := context.Background()
	s := new(MemStorage)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 25 {
				err := s.Update(ctx, func(tx Storage) error {
					_, err := Append(ctx, tx, testLeaf(g*100+i))
					return err
				})
				if err != nil {
					t.Error(err)
				}
			}
		})
		wg.Go(func() {
			// Readers run beside the writers.
			for range 25 {
				n, err := s.Size(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := TreeHash(ctx, s, n); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if n, _ := s.Size(ctx); n != 200 {
		t.Fatalf("size = %d, want 200", n)
	}
	if err := SelfCheck(ctx, s, nil); err != nil {
		t.Fatal(err)
	}
}

func TestContextCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s := new(MemStorage)
	if _, err := Append(ctx, s, testLeaf(0)); !errors.Is(err, context.Canceled) {
		t.Errorf("Append with a cancelled context = %v", err)
	}
	ctx, cancel = context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	if err := SelfCheck(ctx, s, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("SelfCheck with an expired context = %v", err)
	}
}

// TestExportSizes exports one ledger at sizes on both sides of tile
// boundaries, up to a tree with a level-2 hash tile (2^16 leaves), and checks
// each export verifies to the stored root.
func TestExportSizes(t *testing.T) {
	const n = 1<<16 + 300
	ctx := context.Background()
	s := new(MemStorage)
	for i := range n {
		// appendRecord: these are testLeaf's valid leaves, and decoding 66,000
		// of them under the race detector would only slow the test down.
		if _, err := appendRecord(ctx, s, testLeaf(i)); err != nil {
			t.Fatal(err)
		}
	}
	skey, vkey := testKeys(t, testOrigin)
	for _, size := range []int64{1, 2, 255, 256, 257, 511, 512, 513, 1 << 16, 1<<16 + 1, n} {
		root, err := TreeHash(ctx, s, size)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := SignCheckpoint(skey, testOrigin, size, root)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		if err := Export(ctx, s, dir, msg); err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		cp, err := VerifyExport(dir, vkey)
		if err != nil || cp.Size != size || cp.Root != root {
			t.Fatalf("size %d: VerifyExport = %+v, %v", size, cp, err)
		}
	}
}

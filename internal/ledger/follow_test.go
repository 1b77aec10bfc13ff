package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
)

// checkpointAt is the honest checkpoint of s's first size leaves.
func checkpointAt(t *testing.T, s *MemStorage, size int64) Checkpoint {
	t.Helper()
	root, err := TreeHash(context.Background(), s, size)
	if err != nil {
		t.Fatal(err)
	}
	return Checkpoint{Origin: testOrigin, Size: size, Root: root}
}

// every7 keeps the leaves of indexes divisible by 7 (testLeaf puts the
// index in the actor's id).
func every7(leaf []byte) bool {
	l, err := DecodeLeaf(leaf)
	if err != nil {
		return false
	}
	var i int
	_, err = fmt.Sscanf(l.Actor, "u-%d", &i)
	return err == nil && i%7 == 0
}

func TestFollowerExtendsInSteps(t *testing.T) {
	ctx := context.Background()
	s, _ := tamperLedger(t)
	var f Follower
	var got []int64
	for _, size := range []int64{0, 1, 2, 255, 256, 257, 300, 300, 699, 700} {
		kept, err := f.Extend(ctx, s, checkpointAt(t, s, size), every7)
		if err != nil {
			t.Fatalf("Extend to %d: %v", size, err)
		}
		if f.Size() != size {
			t.Fatalf("after Extend to %d, Size = %d", size, f.Size())
		}
		for _, e := range kept {
			if !bytes.Equal(e.Leaf, s.leaves[e.Index]) {
				t.Fatalf("entry %d is not leaf %d", e.Index, e.Index)
			}
			got = append(got, e.Index)
		}
	}
	var want []int64
	for i := int64(0); i < tamperSize; i += 7 {
		want = append(want, i)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("kept %v, want every seventh leaf once: %v", got, want)
	}
	// An older checkpoint vouches for nothing new and moves nothing.
	if kept, err := f.Extend(ctx, s, checkpointAt(t, s, 10), every7); err != nil || kept != nil || f.Size() != tamperSize {
		t.Fatalf("older checkpoint: kept %v, err %v, size %d", kept, err, f.Size())
	}
}

// TestFollowerRefusesWhatNoCheckpointVouchesFor rewrites leaves (and, where
// it helps the forger, every stored hash): the follower trusts no stored
// hash, so each is caught, nothing is handed on, and it stays where it was.
func TestFollowerRefusesWhatNoCheckpointVouchesFor(t *testing.T) {
	ctx := context.Background()
	honest, cp := tamperLedger(t)
	tests := []struct {
		name   string
		from   int64 // the follower has verified this far before
		tamper func(m *MemStorage)
	}{
		{"a leaf edited", 0, func(m *MemStorage) { m.leaves[300] = testLeaf(9999) }},
		{"a leaf edited after the follower's size", 256, func(m *MemStorage) { m.leaves[600] = testLeaf(9999) }},
		{"a leaf and every hash rewritten", 100, func(m *MemStorage) {
			leaves := m.leaves
			leaves[400] = testLeaf(9999)
			m.leaves, m.hashes = nil, nil
			for _, l := range leaves {
				if _, err := appendRecord(ctx, m, l); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"two leaves swapped", 0, func(m *MemStorage) { m.leaves[10], m.leaves[11] = m.leaves[11], m.leaves[10] }},
		{"the newest leaf gone", 0, func(m *MemStorage) { m.leaves = m.leaves[:tamperSize-1] }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := honest.clone()
			var f Follower
			if _, err := f.Extend(ctx, m, checkpointAt(t, honest, tc.from), every7); err != nil {
				t.Fatal(err)
			}
			tc.tamper(m)
			kept, err := f.Extend(ctx, m, cp, func([]byte) bool { return true })
			if !errors.Is(err, ErrTampered) || kept != nil {
				t.Fatalf("Extend = %d entries, %v; want tampering found and nothing kept", len(kept), err)
			}
			if f.Size() != tc.from {
				t.Fatalf("the follower moved to %d on a refused extension, want %d", f.Size(), tc.from)
			}
			// The honest ledger still extends from where it stood.
			if _, err := f.Extend(ctx, honest, cp, every7); err != nil || f.Size() != tamperSize {
				t.Fatalf("honest extension after a refused one: size %d, %v", f.Size(), err)
			}
		})
	}
}

package ledger

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// 700 leaves make three data tiles (256, 256, 188) and a partial level-1 hash
// tile, so tampering can be tried inside a tile, across tiles and above level 0.
const tamperSize = 700

// tamperLedger returns an honest ledger and its checkpoint at full size.
func tamperLedger(t *testing.T) (*MemStorage, Checkpoint) {
	t.Helper()
	s := new(MemStorage)
	appendN(t, s, 0, tamperSize)
	root, err := TreeHash(context.Background(), s, tamperSize)
	if err != nil {
		t.Fatal(err)
	}
	return s, Checkpoint{Origin: testOrigin, Size: tamperSize, Root: root}
}

func (m *MemStorage) clone() *MemStorage {
	m.mu.RLock()
	defer m.mu.RUnlock()
	c := &MemStorage{hashes: slices.Clone(m.hashes)}
	for _, l := range m.leaves {
		c.leaves = append(c.leaves, slices.Clone(l))
	}
	return c
}

// wantTamper fails unless err is a *TamperError at index.
func wantTamper(t *testing.T, err error, index int64) {
	t.Helper()
	var te *TamperError
	if !errors.As(err, &te) || !errors.Is(err, ErrTampered) {
		t.Fatalf("error = %v, want tampering at leaf %d", err, index)
	}
	if te.Index != index {
		t.Fatalf("tampering reported at leaf %d (%v), want %d", te.Index, err, index)
	}
}

func TestSelfCheckDetectsTampering(t *testing.T) {
	ctx := context.Background()
	honest, cp := tamperLedger(t)
	if err := SelfCheck(ctx, honest, &cp); err != nil {
		t.Fatalf("honest ledger: %v", err)
	}
	tests := []struct {
		name   string
		tamper func(m *MemStorage)
		index  int64
	}{
		{"edit a leaf", func(m *MemStorage) { m.leaves[300] = testLeaf(9999) }, 300},
		{"edit one byte", func(m *MemStorage) { m.leaves[5][len(m.leaves[5])-3] ^= 1 }, 5},
		{"delete a leaf", func(m *MemStorage) { m.leaves = slices.Delete(m.leaves, 300, 301) }, 300},
		{"reorder two leaves", func(m *MemStorage) { m.leaves[100], m.leaves[400] = m.leaves[400], m.leaves[100] }, 100},
		{"insert a leaf", func(m *MemStorage) { m.leaves = slices.Insert(m.leaves, 500, testLeaf(9999)) }, 500},
		{"change a record hash", func(m *MemStorage) { m.hashes[tlog.StoredHashIndex(0, 42)][0] ^= 1 }, 42},
		// The level-3 node 5 covers leaves 40..47 and is stored with leaf 47.
		{"change an interior hash", func(m *MemStorage) { m.hashes[tlog.StoredHashIndex(3, 5)][7] ^= 1 }, 47},
		{"drop the newest leaf", func(m *MemStorage) { m.leaves = m.leaves[:tamperSize-1] }, tamperSize - 1},
		{"rewrite a leaf and every hash", func(m *MemStorage) {
			leaves := m.leaves
			leaves[10] = testLeaf(9999)
			m.leaves, m.hashes = nil, nil
			for _, l := range leaves {
				if _, err := appendRecord(ctx, m, l); err != nil {
					t.Fatal(err)
				}
			}
		}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := honest.clone()
			tt.tamper(m)
			wantTamper(t, SelfCheck(ctx, m, &cp), tt.index)
		})
	}
	t.Run("a wholesale rewrite passes without a checkpoint", func(t *testing.T) {
		// Documented limit: only a checkpoint held outside can expose it.
		m := new(MemStorage)
		for i := range tamperSize {
			if _, err := appendRecord(ctx, m, testLeaf(i+1)); err != nil {
				t.Fatal(err)
			}
		}
		if err := SelfCheck(ctx, m, nil); err != nil {
			t.Fatal(err)
		}
	})
}

// editTile edits the leaves of one exported data tile.
func editTile(t *testing.T, dir, tile string, edit func([][]byte) [][]byte) {
	t.Helper()
	path := filepath.Join(dir, filepath.FromSlash(tile))
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	lines = lines[:len(lines)-1] // the empty string after the last newline
	lines = edit(lines)
	if err := os.WriteFile(path, bytes.Join(lines, nil), 0o644); err != nil {
		t.Fatal(err)
	}
}

func flipByte(t *testing.T, dir, file string, at int) {
	t.Helper()
	path := filepath.Join(dir, filepath.FromSlash(file))
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[at] ^= 1
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyExportDetectsTampering(t *testing.T) {
	ctx := context.Background()
	honest, cp := tamperLedger(t)
	skey, vkey := testKeys(t, testOrigin)
	msg, err := SignCheckpoint(skey, testOrigin, cp.Size, cp.Root)
	if err != nil {
		t.Fatal(err)
	}
	export := func(t *testing.T) string {
		dir := t.TempDir()
		if err := Export(ctx, honest, dir, msg); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	if _, err := VerifyExport(export(t), vkey); err != nil {
		t.Fatalf("honest export: %v", err)
	}
	const (
		data0 = "tile/8/data/000"
		data1 = "tile/8/data/001"
		data2 = "tile/8/data/002.p/188"
		hash0 = "tile/8/0/000"
		hash1 = "tile/8/1/000.p/2"
	)
	tests := []struct {
		name   string
		tamper func(t *testing.T, dir string)
		index  int64
	}{
		{"edit a leaf", func(t *testing.T, dir string) {
			editTile(t, dir, data1, func(l [][]byte) [][]byte { l[44] = append(testLeaf(9999), '\n'); return l })
		}, 300},
		{"delete a leaf", func(t *testing.T, dir string) {
			editTile(t, dir, data1, func(l [][]byte) [][]byte { return slices.Delete(l, 44, 45) })
		}, 300},
		{"delete the last leaf of a tile", func(t *testing.T, dir string) {
			editTile(t, dir, data2, func(l [][]byte) [][]byte { return l[:len(l)-1] })
		}, tamperSize - 1},
		{"reorder two leaves across tiles", func(t *testing.T, dir string) {
			var a, b []byte
			editTile(t, dir, data0, func(l [][]byte) [][]byte { a = l[100]; return l })
			editTile(t, dir, data1, func(l [][]byte) [][]byte { b = l[144]; l[144] = a; return l })
			editTile(t, dir, data0, func(l [][]byte) [][]byte { l[100] = b; return l })
		}, 100},
		{"insert a leaf", func(t *testing.T, dir string) {
			editTile(t, dir, data1, func(l [][]byte) [][]byte { return slices.Insert(l, 244, append(testLeaf(9999), '\n')) })
		}, 500},
		{"append a leaf past the checkpoint", func(t *testing.T, dir string) {
			editTile(t, dir, data2, func(l [][]byte) [][]byte { return append(l, append(testLeaf(9999), '\n')) })
		}, tamperSize},
		{"change a record hash", func(t *testing.T, dir string) { flipByte(t, dir, hash0, 42*tlog.HashSize+5) }, 42},
		// Entry 1 of the level-1 tile is the level-8 node over leaves 256..511.
		{"change an upper hash", func(t *testing.T, dir string) { flipByte(t, dir, hash1, 1*tlog.HashSize) }, 511},
		{"remove a data tile", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, filepath.FromSlash(data1))); err != nil {
				t.Fatal(err)
			}
		}, 256},
		{"rewrite a leaf and its record hash", func(t *testing.T, dir string) {
			// The level-0 tile agrees with the forged leaf; the level-8 node
			// completed by leaf 255 does not.
			forged := testLeaf(9999)
			editTile(t, dir, data0, func(l [][]byte) [][]byte { l[10] = append(forged, '\n'); return l })
			path := filepath.Join(dir, filepath.FromSlash(hash0))
			tile, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			h := tlog.RecordHash(forged)
			copy(tile[10*tlog.HashSize:], h[:])
			if err := os.WriteFile(path, tile, 0o644); err != nil {
				t.Fatal(err)
			}
		}, 255},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := export(t)
			tt.tamper(t, dir)
			_, err := VerifyExport(dir, vkey)
			wantTamper(t, err, tt.index)
		})
	}
	t.Run("checkpoint signed by a wrong key", func(t *testing.T) {
		dir := export(t)
		_, otherVkey := testKeys(t, testOrigin)
		if _, err := VerifyExport(dir, otherVkey); !errors.Is(err, ErrBadCheckpoint) {
			t.Fatalf("VerifyExport = %v, want ErrBadCheckpoint", err)
		}
	})
	// Tampering done in storage before an export is caught on the way out:
	// Export checks every leaf against its stored record hash, and what it
	// does not check (upper stored hashes) VerifyExport does.
	storageTampering := []struct {
		name   string
		tamper func(m *MemStorage)
		index  int64
	}{
		{"edit a leaf", func(m *MemStorage) { m.leaves[300] = testLeaf(9999) }, 300},
		{"delete a leaf", func(m *MemStorage) { m.leaves = slices.Delete(m.leaves, 300, 301) }, 300},
		{"reorder two leaves", func(m *MemStorage) { m.leaves[100], m.leaves[400] = m.leaves[400], m.leaves[100] }, 100},
		{"insert a leaf", func(m *MemStorage) { m.leaves = slices.Insert(m.leaves, 500, testLeaf(9999)) }, 500},
		{"change a record hash", func(m *MemStorage) { m.hashes[tlog.StoredHashIndex(0, 42)][0] ^= 1 }, 42},
		// Node (8, 1) covers leaves 256..511: the export's level-1 tile carries it.
		{"change a level-8 hash", func(m *MemStorage) { m.hashes[tlog.StoredHashIndex(8, 1)][0] ^= 1 }, 511},
	}
	for _, tt := range storageTampering {
		t.Run("stored ledger: "+tt.name, func(t *testing.T) {
			m := honest.clone()
			tt.tamper(m)
			dir := t.TempDir()
			if err := Export(ctx, m, dir, msg); err != nil {
				wantTamper(t, err, tt.index)
				return
			}
			_, err := VerifyExport(dir, vkey)
			wantTamper(t, err, tt.index)
		})
	}
	t.Run("export with a foreign checkpoint is refused", func(t *testing.T) {
		other, err := SignCheckpoint(skey, testOrigin, cp.Size, tlog.RecordHash(nil))
		if err != nil {
			t.Fatal(err)
		}
		if err := Export(ctx, honest, t.TempDir(), other); !errors.Is(err, ErrBadCheckpoint) {
			t.Fatalf("Export = %v, want ErrBadCheckpoint", err)
		}
	})
}

func TestVerifyExportEmpty(t *testing.T) {
	ctx := context.Background()
	skey, vkey := testKeys(t, testOrigin)
	msg, err := SignCheckpoint(skey, testOrigin, 0, emptyRoot)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := Export(ctx, new(MemStorage), dir, msg); err != nil {
		t.Fatal(err)
	}
	if cp, err := VerifyExport(dir, vkey); err != nil || cp.Size != 0 {
		t.Fatalf("VerifyExport of an empty ledger = %+v, %v", cp, err)
	}
}

// TestVerifyExportHugeSize has the ledger key sign checkpoints of sizes no
// export can hold, and of sizes whose tile count overflowed the verifier's
// arithmetic: an empty directory must never verify as such an export, and
// Export must refuse them rather than compute with them.
func TestVerifyExportHugeSize(t *testing.T) {
	skey, vkey := testKeys(t, testOrigin)
	cases := []struct {
		size int64
		want error
	}{
		{math.MaxInt64, ErrBadCheckpoint},
		{math.MaxInt64 - tileWidth + 2, ErrBadCheckpoint}, // the smallest size whose size+255 overflows
		{MaxExportSize + 1, ErrBadCheckpoint},
		{MaxExportSize, ErrTampered}, // possible in principle: its first tile is missing
	}
	notes := make([][]byte, len(cases))
	for i, c := range cases {
		msg, err := SignCheckpoint(skey, testOrigin, c.size, emptyRoot)
		if err != nil {
			t.Fatal(err)
		}
		notes[i] = msg
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, CheckpointFile), msg, 0o644); err != nil {
			t.Fatal(err)
		}
		if cp, err := VerifyExport(dir, vkey); !errors.Is(err, c.want) {
			t.Fatalf("VerifyExport of an empty directory with a checkpoint of size %d = %+v, %v; want %v", c.size, cp, err, c.want)
		}
	}
	for i, c := range cases {
		if err := Export(context.Background(), new(MemStorage), t.TempDir(), notes[i]); err == nil {
			t.Errorf("exported %d leaves of an empty ledger", c.size)
		}
	}
}

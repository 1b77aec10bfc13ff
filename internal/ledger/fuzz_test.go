package ledger

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"golang.org/x/mod/sumdb/tlog"
)

func FuzzDecodeLeaf(f *testing.F) {
	f.Add(testLeaf(1))
	f.Add([]byte(`{"v":1,"at":"2016-06-20T14:03:09.12Z","action":"memo.submit","memo":"01J0ZK3V7Q","role":"author","actor_commit":"` +
		hashA + `","detail":"` + hashB + `","content":"` + hashA + `","rev":3}`))
	f.Add([]byte(`{"v":1,"at":"2026-01-01T00:00:00Z","action":"memo.read","rev":1.0}`))
	f.Add([]byte(`{"v":1,"at":"2026-01-01T01:00:00+01:00","action":"memo.read"}`))
	f.Add([]byte(`{"V":1,"at":"2026-01-01T00:00:00Z","action":"memo.read","action":"x"}`))
	f.Add([]byte(`{"v":1,"at":"2026-12-06T00:00:00Z","action":"user.new_keys","actor":"u-1","role":"principal","content":"` + strings.Repeat("ab", 32) +
		`","anchor_of":"` + strings.Repeat("cd", MinAnchorOfSize) + `","salt":"00112233445566778899aabbccddeeff"}`))
	f.Add([]byte(`{"v":1,"at":"2026-12-07T00:00:00Z","action":"session.fail","role":"system","salt":"00112233445566778899aabbccddeeff","count":12}`))
	f.Add([]byte(`{"v":1,"at":"2026-12-07T00:00:00Z","action":"session.fail","count":01}`))
	f.Add([]byte(`{"v":1,"at":"2026-12-07T00:00:00Z","action":"memo.submit","memo":"m1","role":"author","due":"2026-12-09T05:00:00Z,2027-01-20T05:00:00Z,2027-03-03T05:00:00Z"}`))
	f.Add([]byte(`{"v":1,"at":"2026-12-07T00:00:00Z","action":"memo.appeal","count":2,"due":"2026-12-09T05:00:00+01:00"}`))
	f.Add([]byte("\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := DecodeLeaf(b)
		// The fast path and the JSON parser accept the same leaves as the
		// same events.
		if byJSON, jerr := decodeJSON(b); (err == nil) != (jerr == nil) || err == nil && byJSON != l {
			t.Fatalf("DecodeLeaf = %+v, %v; by the JSON parser %+v, %v", l, err, byJSON, jerr)
		}
		if err != nil {
			return
		}
		again, err := l.Encode()
		if err != nil {
			t.Fatalf("decoded leaf does not encode: %v", err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs:\n%q\n%q", b, again)
		}
		back, err := DecodeLeaf(again)
		if err != nil || back != l {
			t.Fatalf("second decode = %+v, %v; want %+v", back, err, l)
		}
	})
}

func FuzzOpenCheckpoint(f *testing.F) {
	// Keys from a fixed seed, so that the corpus holds validly signed notes
	// to mutate from one run to the next.
	seeded := func(name string, seed byte) (skey, vkey string) {
		skey, vkey, err := note.GenerateKey(rand.NewChaCha8([32]byte{seed}), name)
		if err != nil {
			f.Fatal(err)
		}
		return skey, vkey
	}
	skey, vkey := seeded("dissent.example/ledger", 1)
	wskey, wvkey := seeded("witness.example", 2)
	root := tlog.RecordHash([]byte("root"))
	msg, err := SignCheckpoint(skey, "dissent.example/ledger", 42, root)
	if err != nil {
		f.Fatal(err)
	}
	cosigned, err := Cosign(msg, wskey, vkey)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(msg)
	f.Add(cosigned)
	f.Add([]byte("dissent.example/ledger\n42\n" + root.String() + "\n"))
	f.Add([]byte("dissent.example/ledger\n042\n" + root.String() + "\n\n— dissent.example/ledger AAAAAAAA\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cp, err := OpenCheckpoint(b, vkey, wvkey)
		if err != nil {
			return
		}
		if len(cp.Signers) == 0 || cp.Signers[0] != "dissent.example/ledger" || cp.Origin != cp.Signers[0] {
			t.Fatalf("opened a checkpoint without the ledger's signature: %+v", cp)
		}
		// A checkpoint that opens carries exactly the body its fields describe,
		// possibly followed by extension lines.
		body := checkpointBody(cp.Origin, cp.Size, cp.Root)
		if !bytes.HasPrefix(b, []byte(body)) {
			t.Fatalf("opened checkpoint %+v does not start with its own body:\n%q", cp, b)
		}
	})
}

// fuzzKeys are keys from a fixed seed, so that a corpus entry means the same
// from one run to the next.
func fuzzKeys(f *testing.F, name string, seed byte) (skey, vkey string) {
	skey, vkey, err := note.GenerateKey(rand.NewChaCha8([32]byte{seed}), name)
	if err != nil {
		f.Fatal(err)
	}
	return skey, vkey
}

// FuzzVerifyExport replaces one file of an honest export (or none) with the
// fuzzer's bytes, and has the ledger key sign a checkpoint of the fuzzer's
// size over the export's root or the empty tree's: VerifyExport must accept
// exactly the honest export, or an empty checkpoint, whatever the size
// claimed and the files hold.
func FuzzVerifyExport(f *testing.F) {
	const n = 300 // two data tiles, the second partial, and a level-1 hash tile
	ctx := context.Background()
	s := new(MemStorage)
	for i := range n {
		if _, err := appendRecord(ctx, s, testLeaf(i)); err != nil {
			f.Fatal(err)
		}
	}
	root, err := TreeHash(ctx, s, n)
	if err != nil {
		f.Fatal(err)
	}
	skey, vkey := fuzzKeys(f, "dissent.example/ledger", 1)
	msg, err := SignCheckpoint(skey, "dissent.example/ledger", n, root)
	if err != nil {
		f.Fatal(err)
	}
	honest := f.TempDir()
	if err := Export(ctx, s, honest, msg); err != nil {
		f.Fatal(err)
	}
	var files []string // the tiles, in a fixed order
	err = filepath.WalkDir(honest, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Base(path) != CheckpointFile {
			rel, _ := filepath.Rel(honest, path)
			files = append(files, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		f.Fatal(err)
	}
	slices.Sort(files)
	original := map[string][]byte{}
	for _, name := range files {
		if original[name], err = os.ReadFile(filepath.Join(honest, filepath.FromSlash(name))); err != nil {
			f.Fatal(err)
		}
	}

	none := uint8(len(files)) // replaces no file
	f.Add(int64(n), false, none, []byte(nil))
	for _, size := range []int64{0, 1, n - 1, n + 1, 256, 512, MaxExportSize, MaxExportSize + 1, math.MaxInt64 - 254, math.MaxInt64} {
		f.Add(size, false, none, []byte(nil))
		// The tile count of the largest sizes once overflowed to none,
		// and an empty tree's root then verified.
		f.Add(size, true, none, []byte(nil))
	}
	for i, name := range files {
		b := original[name]
		f.Add(int64(n), false, uint8(i), b)
		f.Add(int64(n), false, uint8(i), b[:len(b)-1])
		f.Add(int64(n), false, uint8(i), append(slices.Clone(b), '\n'))
		flipped := slices.Clone(b)
		flipped[len(b)/2] ^= 1
		f.Add(int64(n), false, uint8(i), flipped)
	}
	f.Fuzz(func(t *testing.T, size int64, emptyTree bool, file uint8, data []byte) {
		if size < 0 {
			return // no checkpoint has a negative size: SignCheckpoint refuses it
		}
		dir := t.TempDir()
		if err := os.CopyFS(dir, os.DirFS(honest)); err != nil {
			t.Fatal(err)
		}
		replaced := -1
		if i := int(file) % (len(files) + 1); i < len(files) {
			replaced = i
			if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(files[i])), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		signedRoot := root
		if emptyTree {
			signedRoot = emptyRoot
		}
		signed, err := SignCheckpoint(skey, "dissent.example/ledger", size, signedRoot)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, CheckpointFile), signed, 0o644); err != nil {
			t.Fatal(err)
		}
		cp, err := VerifyExport(dir, vkey)
		if err != nil {
			return
		}
		if cp.Size == 0 && cp.Root == emptyRoot {
			return // an empty ledger's export: no tile is read
		}
		if cp.Size != n || cp.Root != root {
			t.Fatalf("verified a checkpoint of size %d over the root %s", cp.Size, cp.Root)
		}
		if replaced >= 0 && !bytes.Equal(data, original[files[replaced]]) {
			t.Fatalf("verified an export whose %s was changed to %q", files[replaced], data)
		}
	})
}

// FuzzVerifyConsistency checks consistency proofs of the fuzzer's sizes,
// roots (the true ones, or altered) and proof hashes against a real ledger:
// VerifyConsistency must accept exactly the proofs that are true, which
// for two sizes of one tree is the one ProveConsistency gives.
func FuzzVerifyConsistency(f *testing.F) {
	const n = 40
	ctx := context.Background()
	s := new(MemStorage)
	appendN(f, s, 0, n)
	roots := make([]tlog.Hash, n+1)
	for i := range roots {
		var err error
		if roots[i], err = TreeHash(ctx, s, int64(i)); err != nil {
			f.Fatal(err)
		}
	}
	// rootOf is the true root of a size the ledger has, or a stand-in.
	rootOf := func(size int64) tlog.Hash {
		if size >= 0 && size <= n {
			return roots[size]
		}
		return tlog.RecordHash([]byte(strconv.FormatInt(size, 10)))
	}
	honest := func(m, k int64) tlog.TreeProof {
		p, err := ProveConsistency(ctx, s, m, k)
		if err != nil {
			f.Fatal(err)
		}
		return p
	}
	join := func(p tlog.TreeProof) []byte {
		var b []byte
		for _, h := range p {
			b = append(b, h[:]...)
		}
		return b
	}
	for _, c := range [][2]int64{{0, 0}, {0, n}, {1, 1}, {1, 2}, {3, 7}, {4, 8}, {7, 8}, {13, 40}, {32, 40}, {39, 40}, {n, n}} {
		f.Add(c[0], c[1], uint8(0), uint8(0), join(honest(c[0], c[1])))
	}
	f.Add(int64(3), int64(7), uint8(1), uint8(0), join(honest(3, 7)))
	f.Add(int64(3), int64(7), uint8(0), uint8(1), join(honest(3, 7)))
	f.Add(int64(7), int64(3), uint8(0), uint8(0), join(honest(3, 7)))
	f.Add(int64(-1), int64(3), uint8(0), uint8(0), []byte(nil))
	f.Add(int64(MaxExportSize), int64(MaxExportSize), uint8(0), uint8(0), []byte(nil))
	f.Add(int64(3), int64(MaxExportSize+1), uint8(0), uint8(0), join(honest(3, 7)))
	f.Fuzz(func(t *testing.T, m, k int64, flipOld, flipNew uint8, proofBytes []byte) {
		proof := make(tlog.TreeProof, len(proofBytes)/tlog.HashSize)
		for i := range proof {
			copy(proof[i][:], proofBytes[i*tlog.HashSize:])
		}
		oldRoot, newRoot := rootOf(m), rootOf(k)
		oldRoot[0] ^= flipOld
		newRoot[0] ^= flipNew
		old := Checkpoint{Origin: testOrigin, Size: m, Root: oldRoot}
		cur := Checkpoint{Origin: testOrigin, Size: k, Root: newRoot}
		err := VerifyConsistency(old, cur, proof)
		var want bool
		switch {
		case m < 0 || m > k:
		case k > MaxExportSize: // larger than any ledger (tlog would never return)
		case m == 0: // every tree extends the empty one, and an empty one is one tree
			want = oldRoot == emptyRoot && len(proof) == 0 && (k > 0 || newRoot == emptyRoot)
		case m == k:
			want = oldRoot == newRoot && len(proof) == 0
		case k <= n:
			want = flipOld == 0 && flipNew == 0 && slices.Equal(proof, honest(m, k))
		}
		if (err == nil) != want {
			t.Fatalf("VerifyConsistency(%d → %d, flips %d %d, %d hashes) = %v, want accepted %v", m, k, flipOld, flipNew, len(proof), err, want)
		}
	})
}

// sigLines returns the signature lines of a note (those after the blank
// line), or nil for text that is not one.
func sigLines(msg []byte) []string {
	_, sigs, ok := bytes.Cut(msg, []byte("\n\n"))
	if !ok {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(sigs), "\n"), "\n")
}

// FuzzAddCosignatures feeds AddCosignatures the notes that auditors post
// to POST /api/v1/ledger/cosignatures, against a stored checkpoint with
// none or one witness's cosignature. A note it refuses changes nothing; a
// note it accepts was the ledger's own over the stored text, and the
// result keeps every stored signature line, adds only the named
// witnesses' (each once), opens with all the keys, stays within
// MaxCheckpointSize, and taking the same note again adds nothing.
func FuzzAddCosignatures(f *testing.F) {
	const origin = "dissent.example/ledger"
	skey, vkey := fuzzKeys(f, origin, 1)
	w1s, w1v := fuzzKeys(f, "oig.example", 2)
	w2s, w2v := fuzzKeys(f, "ombuds.example", 3)
	strangerS, _ := fuzzKeys(f, "stranger.example", 4)
	forgerS, _ := fuzzKeys(f, origin, 5) // the ledger's name, another key
	witnesses := []string{w1v, w2v}
	root := tlog.RecordHash([]byte("seven"))
	stored, err := SignCheckpoint(skey, origin, 7, root)
	if err != nil {
		f.Fatal(err)
	}
	cosign := func(msg []byte, wskey string) []byte {
		out, err := Cosign(msg, wskey, vkey)
		if err != nil {
			f.Fatal(err)
		}
		return out
	}
	storedW1 := cosign(stored, w1s) // a stored checkpoint one witness already cosigned
	fork, err := SignCheckpoint(skey, origin, 7, tlog.RecordHash([]byte("another seven")))
	if err != nil {
		f.Fatal(err)
	}
	forged, err := SignCheckpoint(forgerS, origin, 7, root)
	if err != nil {
		f.Fatal(err)
	}
	for _, withW1 := range []bool{false, true} {
		f.Add(withW1, stored)
		f.Add(withW1, cosign(stored, w1s))
		f.Add(withW1, cosign(stored, w2s))
		f.Add(withW1, cosign(cosign(stored, w2s), w1s))
		f.Add(withW1, cosign(stored, strangerS))
		f.Add(withW1, cosign(fork, w1s))
		f.Add(withW1, append(slices.Clone(forged), cosign(stored, w1s)[len(stored):]...))
		f.Add(withW1, append(cosign(stored, w2s), cosign(stored, w2s)[len(stored):]...))
	}
	f.Add(false, []byte("\xff"))
	f.Fuzz(func(t *testing.T, withW1 bool, msg []byte) {
		base := stored
		if withW1 {
			base = storedW1
		}
		keep, msgCopy := slices.Clone(base), slices.Clone(msg)
		ws := slices.Clone(witnesses)
		before, err := OpenCheckpoint(base, vkey, w1v, w2v)
		if err != nil {
			t.Fatal(err)
		}
		out, cp, added, err := AddCosignatures(base, msg, vkey, ws)
		if !bytes.Equal(base, keep) || !bytes.Equal(msg, msgCopy) || !slices.Equal(ws, witnesses) {
			t.Fatalf("AddCosignatures changed its arguments")
		}
		if err != nil {
			if out != nil || added != nil {
				t.Fatalf("refused (%v), yet returned %q, added %v", err, out, added)
			}
			if !errors.Is(err, ErrBadCheckpoint) && !errors.Is(err, ErrTampered) {
				t.Fatalf("refused with %v, neither ErrBadCheckpoint nor ErrTampered", err)
			}
			if err.Error() == "" {
				t.Fatal("an error without a message")
			}
			return
		}
		// Only the ledger's own note over the stored text is taken.
		offered, err := OpenCheckpoint(msg, vkey)
		if err != nil {
			t.Fatalf("accepted %q, which does not open with the ledger key: %v", msg, err)
		}
		if offered.Origin != before.Origin || offered.Size != before.Size || offered.Root != before.Root {
			t.Fatalf("accepted a note of %+v for the stored %+v", offered, before)
		}
		if len(out) > MaxCheckpointSize {
			t.Fatalf("merged note of %d bytes", len(out))
		}
		again, err := OpenCheckpoint(out, vkey, w1v, w2v)
		if err != nil {
			t.Fatalf("the merged note does not open: %v\n%s", err, out)
		}
		if !slices.Equal(again.Signers, cp.Signers) || again.Origin != cp.Origin || again.Size != cp.Size || again.Root != cp.Root {
			t.Fatalf("returned %+v for a note that opens as %+v", cp, again)
		}
		if cp.Size != before.Size || cp.Root != before.Root || !bytes.HasPrefix(out, []byte(checkpointBody(cp.Origin, cp.Size, cp.Root)+"\n")) {
			t.Fatalf("the merged note is of another tree: %+v\n%s", cp, out)
		}
		outLines := sigLines(out)
		for _, l := range sigLines(base) {
			if !slices.Contains(outLines, l) {
				t.Fatalf("the stored signature line %q was dropped:\n%s", l, out)
			}
		}
		// Signers: the stored ones, then those added, each once, all known.
		want := append(slices.Clone(before.Signers), added...)
		slices.Sort(want)
		got := slices.Clone(cp.Signers)
		slices.Sort(got)
		if !slices.Equal(got, want) || len(slices.Compact(got)) != len(cp.Signers) {
			t.Fatalf("stored signers %v, added %v; the merged note's: %v", before.Signers, added, cp.Signers)
		}
		for _, name := range added {
			if name == origin || slices.Contains(before.Signers, name) {
				t.Fatalf("added %q, which had signed already (%v)", name, before.Signers)
			}
		}
		// Nothing more comes of the same note.
		twice, _, more, err := AddCosignatures(out, msg, vkey, witnesses)
		if err != nil || len(more) != 0 || !bytes.Equal(twice, out) {
			t.Fatalf("the same note again: %v, added %v\n%s\nthen\n%s", err, more, out, twice)
		}
	})
}

// FuzzCosignAfter is what a witness's `dissent ledger cosign --state`
// reads from a server: a checkpoint, its own last one (as it keeps it, a
// file anyone with the disk may have changed) and a consistency proof.
// Every note the ledger key signed here is a checkpoint of an honest tree
// or of a fork of it; CosignAfter must cosign exactly the checkpoints that
// extend the last, with the one true proof, and the cosigned note must
// open with the ledger's and the witness's keys.
func FuzzCosignAfter(f *testing.F) {
	const origin = "dissent.example/ledger"
	const n = 8
	ctx := context.Background()
	skey, vkey := fuzzKeys(f, origin, 1)
	wskey, wvkey := fuzzKeys(f, "witness.example", 2)
	honest, fork := new(MemStorage), new(MemStorage)
	appendN(f, honest, 0, n)
	appendN(f, fork, 0, 1)
	appendN(f, fork, 100, 1) // the fork's history differs from the second leaf
	appendN(f, fork, 2, n-2)
	trees := map[string]Storage{"honest": honest, "fork": fork}
	type signed struct {
		tree string
		size int64
	}
	whose := map[tlog.Hash]signed{} // root → the tree and size it is of
	sign := func(tree string, size int64) []byte {
		root, err := TreeHash(ctx, trees[tree], size)
		if err != nil {
			f.Fatal(err)
		}
		if _, ok := whose[root]; !ok {
			whose[root] = signed{tree, size}
		}
		msg, err := SignCheckpoint(skey, origin, size, root)
		if err != nil {
			f.Fatal(err)
		}
		return msg
	}
	join := func(p tlog.TreeProof) []byte {
		var b []byte
		for _, h := range p {
			b = append(b, h[:]...)
		}
		return b
	}
	prove := func(tree string, m, k int64) tlog.TreeProof {
		p, err := ProveConsistency(ctx, trees[tree], m, k)
		if err != nil {
			f.Fatal(err)
		}
		return p
	}
	at0, at3, at7, at8 := sign("honest", 0), sign("honest", 3), sign("honest", 7), sign("honest", 8)
	forked7, forked8 := sign("fork", 7), sign("fork", 8)
	cosigned7, err := Cosign(at7, wskey, vkey)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(at3, []byte(nil), []byte(nil))
	f.Add(at7, at3, join(prove("honest", 3, 7)))
	f.Add(at8, at3, join(prove("honest", 3, 8)))
	f.Add(at8, at7, join(prove("honest", 7, 8)))
	f.Add(at7, at7, []byte(nil))
	f.Add(at7, at0, []byte(nil))
	f.Add(cosigned7, at3, join(prove("honest", 3, 7)))
	f.Add(at7, cosigned7, []byte(nil))
	f.Add(forked8, forked7, join(prove("fork", 7, 8)))
	f.Add(at7, at3, []byte(nil))                     // a larger tree without a proof
	f.Add(forked7, at3, join(prove("fork", 3, 7)))   // a fork, with its own proof
	f.Add(forked7, at3, join(prove("honest", 3, 7))) // a fork, with the honest proof
	f.Add(forked7, at7, []byte(nil))                 // another tree of the same size
	f.Add(at3, at7, []byte(nil))                     // a rollback
	f.Add(at7, []byte("\xff"), []byte(nil))
	f.Fuzz(func(t *testing.T, msg, last, proofBytes []byte) {
		if len(last) == 0 {
			last = nil // the witness's first checkpoint
		}
		proof := make(tlog.TreeProof, len(proofBytes)/tlog.HashSize)
		for i := range proof {
			copy(proof[i][:], proofBytes[i*tlog.HashSize:])
		}
		msgCopy, lastCopy := slices.Clone(msg), slices.Clone(last)
		out, err := CosignAfter(msg, wskey, vkey, last, proof)
		if !bytes.Equal(msg, msgCopy) || !bytes.Equal(last, lastCopy) {
			t.Fatal("CosignAfter changed its arguments")
		}

		// What CosignAfter should do, from the trees the notes are of.
		want := true
		cur, err1 := OpenCheckpoint(msg, vkey)
		if err1 != nil {
			want = false
		} else if last != nil {
			prev, err2 := OpenCheckpoint(last, vkey)
			p, c := whose[prev.Root], whose[cur.Root]
			switch {
			case err2 != nil, prev.Size > cur.Size:
				want = false
			case prev.Size == 0: // every tree extends the empty one
				want = len(proof) == 0
			case prev.Size == cur.Size:
				want = prev.Root == cur.Root && len(proof) == 0
			default:
				want = p.tree == c.tree && slices.Equal(proof, prove(c.tree, prev.Size, cur.Size))
			}
		}
		if (err == nil) != want {
			t.Fatalf("CosignAfter = %v, want accepted %v (proof of %d hashes)\nmsg:\n%s\nlast:\n%s", err, want, len(proof), msg, last)
		}
		if err != nil {
			if out != nil {
				t.Fatalf("refused (%v), yet returned %q", err, out)
			}
			if !errors.Is(err, ErrBadCheckpoint) && !errors.Is(err, ErrBadProof) {
				t.Fatalf("refused with %v, neither ErrBadCheckpoint nor ErrBadProof", err)
			}
			return
		}
		cp, err := OpenCheckpoint(out, vkey, wvkey)
		if err != nil || !slices.Equal(cp.Signers, []string{origin, "witness.example"}) {
			t.Fatalf("the cosigned note opens as %+v, %v\n%s", cp, err, out)
		}
		if cp.Size != cur.Size || cp.Root != cur.Root || len(out) > MaxCheckpointSize {
			t.Fatalf("cosigned %+v (%d bytes) for %+v", cp, len(out), cur)
		}
	})
}

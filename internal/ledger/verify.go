package ledger

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/mod/sumdb/tlog"
)

// emptyRoot is the RFC 6962 hash of the empty tree, SHA-256 of nothing.
var emptyRoot = mustTreeHash0()

func mustTreeHash0() tlog.Hash {
	h, err := tlog.TreeHash(0, nil)
	if err != nil {
		panic("ledger: internal: empty tree hash: " + err.Error())
	}
	return h
}

// VerifyInclusion checks that leaf is leaf number index of the tree that cp
// signs, using an inclusion proof from ProveInclusion. With a checkpoint from
// OpenCheckpoint this is a receipt check that needs no server.
func VerifyInclusion(leaf []byte, index int64, proof tlog.RecordProof, cp Checkpoint) error {
	if index < 0 || index >= cp.Size {
		return fmt.Errorf("%w: leaf %d is outside a tree of %d", ErrBadProof, index, cp.Size)
	}
	if cp.Size > MaxExportSize {
		// tlog's proofs loop forever on sizes from 2^62 up.
		return fmt.Errorf("%w: a tree of %d leaves is larger than any ledger", ErrBadProof, cp.Size)
	}
	if err := tlog.CheckRecord(proof, cp.Size, cp.Root, index, tlog.RecordHash(leaf)); err != nil {
		return fmt.Errorf("%w: leaf %d in size %d: %v", ErrBadProof, index, cp.Size, err)
	}
	return nil
}

// VerifyConsistency checks that the tree new signs extends the tree old signs,
// using a consistency proof from ProveConsistency. Both must be the same
// ledger's. A failure between two validly signed checkpoints is evidence that
// the ledger was rewritten or forked.
func VerifyConsistency(old, new Checkpoint, proof tlog.TreeProof) error {
	if old.Origin != new.Origin {
		return fmt.Errorf("%w: checkpoints of different ledgers %q and %q", ErrBadProof, old.Origin, new.Origin)
	}
	if old.Size < 0 || old.Size > new.Size {
		return fmt.Errorf("%w: size %d cannot extend size %d", ErrBadProof, new.Size, old.Size)
	}
	if new.Size > MaxExportSize {
		return fmt.Errorf("%w: a tree of %d leaves is larger than any ledger", ErrBadProof, new.Size)
	}
	if old.Size == 0 {
		// Every tree extends the empty one; two empty trees are the same
		// tree only with the same hash, the empty one (LEDGER.md §5).
		if old.Root != emptyRoot || len(proof) != 0 || (new.Size == 0 && new.Root != emptyRoot) {
			return fmt.Errorf("%w: an empty tree has the empty hash and an empty proof", ErrBadProof)
		}
		return nil
	}
	if err := tlog.CheckTree(proof, new.Size, new.Root, old.Size, old.Root); err != nil {
		return fmt.Errorf("%w: size %d extends %d: %v", ErrBadProof, new.Size, old.Size, err)
	}
	return nil
}

// CheckConsistent checks that the ledger in s now extends the tree that old
// signs, as the checkpoint job should before it signs a new checkpoint. A
// ledger smaller than old, or one whose hashes give another root at old.Size,
// has been rewritten: the error is ErrTampered.
func CheckConsistent(ctx context.Context, s Storage, old Checkpoint) error {
	n, err := ledgerSize(ctx, s)
	if err != nil {
		return fmt.Errorf("ledger: check consistency: %w", err)
	}
	if old.Size > n {
		return tampered(n, "ledger has %d leaves, fewer than the %d of checkpoint %q", n, old.Size, old.Origin)
	}
	root, err := TreeHash(ctx, s, n)
	if err != nil {
		return err
	}
	proof, err := ProveConsistency(ctx, s, old.Size, n)
	if err != nil {
		return err
	}
	cur := Checkpoint{Origin: old.Origin, Size: n, Root: root}
	if err := VerifyConsistency(old, cur, proof); err != nil {
		return tampered(-1, "ledger of %d leaves does not extend the checkpoint of size %d: %v", n, old.Size, err)
	}
	return nil
}

// selfCheckBatch is how many leaves SelfCheck reads at a time: enough to make
// each storage round trip worthwhile, small enough to bound memory.
const selfCheckBatch = 1024

// SelfCheck recomputes every leaf's record hash and the whole tree from the
// leaves alone, compares each stored hash with its recomputed value, and, if
// latest is not nil, compares the recomputed root at latest.Size with the
// checkpoint's. It returns nil or a *TamperError naming the first bad leaf.
//
// It reads the whole ledger, so it uses Sizer rather than LockedSize when s
// offers it, and does not block appends. A ledger truncated and rehashed after
// its latest checkpoint, or rewritten wholesale with no checkpoint to compare,
// cannot be told apart from a genuine one: that is what published checkpoints
// and witnesses are for.
func SelfCheck(ctx context.Context, s Storage, latest *Checkpoint) error {
	n, err := ledgerSize(ctx, s)
	if err != nil {
		return fmt.Errorf("ledger: self-check: %w", err)
	}
	var b treeBuilder
	checkRoot := func() error {
		if latest != nil && b.n == latest.Size && b.root() != latest.Root {
			return tampered(-1, "leaves [0, %d) hash to a root other than the latest checkpoint's, though every stored hash matches them", latest.Size)
		}
		return nil
	}
	for from := int64(0); from < n; from += selfCheckBatch {
		if err := ctx.Err(); err != nil {
			return err
		}
		to := min(from+selfCheckBatch, n)
		leaves, err := s.ReadLeaves(ctx, from, to)
		if err != nil {
			return fmt.Errorf("ledger: self-check: read leaves [%d, %d): %w", from, to, err)
		}
		if int64(len(leaves)) != to-from {
			return tampered(from+int64(len(leaves)), "leaf missing: storage returned %d leaves for [%d, %d)", len(leaves), from, to)
		}
		stored, err := readStoredHashes(ctx, s, from, to)
		if err != nil {
			return err
		}
		for i, leaf := range leaves {
			if err := checkRoot(); err != nil {
				return err
			}
			idx := from + int64(i)
			_, hashes := b.add(tlog.RecordHash(leaf))
			if stored[i] == nil {
				return tampered(idx, "stored hashes of the leaf are missing")
			}
			for j, h := range hashes {
				if j >= len(stored[i]) || stored[i][j] != h {
					if j == 0 {
						return tampered(idx, "record hash of the leaf differs from the stored hash")
					}
					return tampered(idx, "stored hash of the level-%d subtree this leaf completes differs from the recomputed one", j)
				}
			}
		}
	}
	if latest != nil && latest.Size > n {
		return tampered(n, "ledger has %d leaves, fewer than the %d of the latest checkpoint", n, latest.Size)
	}
	return checkRoot()
}

// readStoredHashes returns, for each leaf in [from, to), the stored hashes
// written with it. The hashes of consecutive leaves occupy one dense range of
// storage indexes, read in one call. If that fails because some were never
// written (ErrRange) — a leaf inserted without hashes — it reads leaf by leaf,
// marking leaves whose hashes are missing with nil, so the caller can still
// name the first bad leaf rather than fail the whole batch.
func readStoredHashes(ctx context.Context, s HashReader, from, to int64) ([][]tlog.Hash, error) {
	read := func(lo, hi int64) ([]tlog.Hash, error) {
		indexes := make([]int64, hi-lo)
		for i := range indexes {
			indexes[i] = lo + int64(i)
		}
		hashes, err := s.ReadHashes(ctx, indexes)
		if err == nil && len(hashes) != len(indexes) {
			err = fmt.Errorf("storage returned %d hashes for %d indexes", len(hashes), len(indexes))
		}
		return hashes, err
	}
	out := make([][]tlog.Hash, to-from)
	lo, hi := tlog.StoredHashIndex(0, from), tlog.StoredHashIndex(0, to)
	all, err := read(lo, hi)
	if err == nil {
		for i := range out {
			end := tlog.StoredHashIndex(0, from+int64(i)+1)
			out[i], all = all[:end-lo], all[end-lo:]
			lo = end
		}
		return out, nil
	}
	if !errors.Is(err, ErrRange) {
		return nil, fmt.Errorf("ledger: self-check: read hashes of leaves [%d, %d): %w", from, to, err)
	}
	for i := range out {
		end := tlog.StoredHashIndex(0, from+int64(i)+1)
		hashes, err := read(lo, end)
		switch {
		case err == nil:
			out[i] = hashes
		case errors.Is(err, ErrRange):
			return out, nil // out[i] and later stay nil: missing
		default:
			return nil, fmt.Errorf("ledger: self-check: read hashes of leaf %d: %w", from+int64(i), err)
		}
		lo = end
	}
	return out, nil
}

package ledger

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/mod/sumdb/tlog"
)

// LeafReader reads leaves [from, to), as Storage does.
type LeafReader interface {
	ReadLeaves(ctx context.Context, from, to int64) ([][]byte, error)
}

// Entry is a leaf and its index in the ledger.
type Entry struct {
	Index int64
	Leaf  []byte
}

// Follower reads a ledger as it grows and hands on the leaves a caller
// wants only once a checkpoint vouches for them. It recomputes the tree
// from the leaves alone, trusting no stored hash, and keeps the frontier
// between calls, so each leaf is read and hashed once however often it is
// asked to catch up. The zero Follower is at the start of the ledger. It is
// not safe for concurrent use.
type Follower struct {
	b treeBuilder
}

// followBatch is how many leaves Extend reads at once.
const followBatch = 1024

// Size returns how many leaves f has verified.
func (f *Follower) Size() int64 { return f.b.n }

// Extend reads the leaves from f.Size() up to cp.Size, recomputes the tree
// and compares its root with cp's, which the caller has verified. If they
// match, it moves f on to cp.Size and returns, in order, the entries among
// those leaves for which keep returned true; otherwise it returns a
// *TamperError and f stays where it was. A checkpoint of f's size is only
// compared; one older than f's size vouches for nothing new, and changes
// nothing.
func (f *Follower) Extend(ctx context.Context, r LeafReader, cp Checkpoint, keep func(leaf []byte) bool) ([]Entry, error) {
	if cp.Size < f.b.n {
		return nil, nil
	}
	next := f.b // a copy: f moves only once the root matches
	next.buf = nil
	var kept []Entry
	for from := next.n; from < cp.Size; from = next.n {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		to := min(from+followBatch, cp.Size)
		leaves, err := r.ReadLeaves(ctx, from, to)
		if errors.Is(err, ErrRange) {
			// The checkpoint vouches for them: they were there.
			return nil, tampered(from, "leaves of [%d, %d) missing: %v", from, to, err)
		}
		if err != nil {
			return nil, fmt.Errorf("ledger: follow: read leaves [%d, %d): %w", from, to, err)
		}
		if int64(len(leaves)) != to-from {
			return nil, tampered(from+int64(len(leaves)), "leaf missing: storage returned %d leaves for [%d, %d)", len(leaves), from, to)
		}
		for i, leaf := range leaves {
			next.add(tlog.RecordHash(leaf))
			if keep(leaf) {
				kept = append(kept, Entry{Index: from + int64(i), Leaf: leaf})
			}
		}
	}
	if next.root() != cp.Root {
		return nil, tampered(-1, "leaves [0, %d) hash to a root other than the checkpoint's", cp.Size)
	}
	f.b = next
	return kept, nil
}

// Package ledger is Dissent's audit ledger: an append-only Merkle log of audit
// events in the style of Certificate Transparency (RFC 6962 / RFC 9162), with
// signed checkpoints that anyone can verify offline.
//
// Every audited action appends one Leaf in the same database transaction as
// the change it records, through the narrow Storage interface that the store
// package implements. The Merkle arithmetic is golang.org/x/mod/sumdb/tlog's
// and the signatures are golang.org/x/mod/sumdb/note's; this package decides
// what a leaf is, how it is appended, and how a ledger, a receipt or an export
// is checked. docs/LEDGER.md is the format an outside verifier works from.
//
// What it must never do: speak SQL (storage is behind Storage), touch the
// network, or learn secrets — leaves hold opaque ids and hashes only, authors
// appear as commitments, and signing keys are passed in by the caller. It
// keeps no mutable package-level state.
package ledger

import (
	"context"
	"fmt"

	"golang.org/x/mod/sumdb/tlog"
)

// tlogReader adapts a HashReader to tlog's context-free interface for the
// length of one call.
type tlogReader struct {
	ctx context.Context
	r   HashReader
}

func (t tlogReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	return t.r.ReadHashes(t.ctx, indexes)
}

// Append adds leaf to the ledger and returns its index. Call it inside the
// transaction that makes the change the leaf records, so that both commit or
// neither does. leaf must be a canonical Leaf encoding (see Leaf.Encode):
// anything else is refused with ErrBadLeaf before storage is touched.
func Append(ctx context.Context, s Storage, leaf []byte) (index int64, err error) {
	if _, err := DecodeLeaf(leaf); err != nil {
		return -1, err
	}
	return appendRecord(ctx, s, leaf)
}

// appendRecord appends any bytes; tests use it directly to replay the RFC 6962
// vectors, whose leaves are not Dissent leaves.
func appendRecord(ctx context.Context, s Storage, record []byte) (int64, error) {
	n, err := s.LockedSize(ctx)
	if err != nil {
		return -1, fmt.Errorf("ledger: append: %w", err)
	}
	hashes, err := tlog.StoredHashesForRecordHash(n, tlog.RecordHash(record), tlogReader{ctx, s})
	if err != nil {
		return -1, fmt.Errorf("ledger: append leaf %d: %w", n, err)
	}
	first := tlog.StoredHashIndex(0, n)
	indexes := make([]int64, len(hashes))
	for i := range indexes {
		indexes[i] = first + int64(i)
	}
	if err := s.WriteLeaf(ctx, n, record, indexes, hashes); err != nil {
		return -1, fmt.Errorf("ledger: append leaf %d: %w", n, err)
	}
	return n, nil
}

// TreeHash returns the root hash of the ledger's first size leaves.
func TreeHash(ctx context.Context, r HashReader, size int64) (tlog.Hash, error) {
	if size < 0 {
		return tlog.Hash{}, fmt.Errorf("%w: tree size %d", ErrRange, size)
	}
	h, err := tlog.TreeHash(size, tlogReader{ctx, r})
	if err != nil {
		return tlog.Hash{}, fmt.Errorf("ledger: tree hash at size %d: %w", size, err)
	}
	return h, nil
}

// ProveInclusion returns the proof that leaf index is in the tree of size
// leaves (RFC 6962's audit path). Check it with VerifyInclusion.
func ProveInclusion(ctx context.Context, r HashReader, index, size int64) (tlog.RecordProof, error) {
	if index < 0 || index >= size {
		return nil, fmt.Errorf("%w: leaf %d in a tree of %d", ErrRange, index, size)
	}
	p, err := tlog.ProveRecord(size, index, tlogReader{ctx, r})
	if err != nil {
		return nil, fmt.Errorf("ledger: prove leaf %d in size %d: %w", index, size, err)
	}
	return p, nil
}

// ProveConsistency returns the proof that the tree of size to extends the tree
// of size from (RFC 6962's consistency proof). Every tree extends the empty
// one, so from == 0 gives an empty proof. Check it with VerifyConsistency.
func ProveConsistency(ctx context.Context, r HashReader, from, to int64) (tlog.TreeProof, error) {
	if from < 0 || to < from {
		return nil, fmt.Errorf("%w: consistency from size %d to %d", ErrRange, from, to)
	}
	if from == 0 {
		return tlog.TreeProof{}, nil
	}
	p, err := tlog.ProveTree(to, from, tlogReader{ctx, r})
	if err != nil {
		return nil, fmt.Errorf("ledger: prove size %d extends %d: %w", to, from, err)
	}
	return p, nil
}

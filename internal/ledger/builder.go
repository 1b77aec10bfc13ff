package ledger

import (
	"fmt"

	"golang.org/x/mod/sumdb/tlog"
)

// treeBuilder recomputes a tree from its record hashes, one record at a time,
// the way a verifier without trustworthy stored hashes must. It keeps only the
// frontier — the newest complete subtree hash at each level — because that is
// all tlog reads when it hashes the next record or the root, so memory stays
// at 64 hashes however long the ledger is.
type treeBuilder struct {
	n        int64 // records added
	next     int64 // storage index of the next record's first stored hash
	frontier [64]frontierHash
	buf      []tlog.Hash // ReadHashes' result, reused: tlog reads it once and drops it
}

type frontierHash struct {
	index int64 // tlog storage index
	hash  tlog.Hash
	set   bool
}

// add adds the record with hash rh and returns the stored hashes tlog computes
// for it; they belong at storage indexes first, first+1, ....
func (b *treeBuilder) add(rh tlog.Hash) (first int64, hashes []tlog.Hash) {
	hashes, err := tlog.StoredHashesForRecordHash(b.n, rh, b)
	if err != nil {
		panic("ledger: internal: tree builder frontier incomplete: " + err.Error())
	}
	first = b.next
	// hashes[i] is the level-i node completed by this record, stored at first+i;
	// it is now the newest complete node at level i.
	for i, h := range hashes {
		b.frontier[i] = frontierHash{index: first + int64(i), hash: h, set: true}
	}
	b.n++
	b.next += int64(len(hashes))
	return first, hashes
}

// root returns the tree hash of the records added so far.
func (b *treeBuilder) root() tlog.Hash {
	h, err := tlog.TreeHash(b.n, b)
	if err != nil {
		panic("ledger: internal: tree builder frontier incomplete: " + err.Error())
	}
	return h
}

// ReadHashes serves tlog from the frontier. The result is valid until the
// next call, which is all tlog's StoredHashesForRecordHash and TreeHash need;
// not allocating it saves a third of the rebuilding's garbage.
func (b *treeBuilder) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := append(b.buf[:0], make([]tlog.Hash, len(indexes))...)
	b.buf = out
	for i, x := range indexes {
		found := false
		for l := range b.frontier {
			f := &b.frontier[l] // by pointer: ranging over the array by value would copy all 64
			if !f.set {
				break // levels fill from the bottom, so the first gap ends the frontier
			}
			if f.index == x {
				out[i], found = f.hash, true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("stored hash %d is not on the frontier after %d records", x, b.n)
		}
	}
	return out, nil
}

package ledger

import (
	"context"
	"fmt"
	"sync"

	"golang.org/x/mod/sumdb/tlog"
)

// HashReader reads stored hashes by their tlog storage index (see
// tlog.StoredHashIndex). It is all that tree hashes and proofs need, so those
// functions accept it rather than a whole Storage.
type HashReader interface {
	// ReadHashes returns one hash per index, in the order asked, or an error.
	// An index that was never written is an error wrapping ErrRange, never a
	// zero hash: SelfCheck tells missing rows (tampering) from failing storage
	// by it.
	ReadHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error)
}

// Storage is the ledger's view of one database transaction. The store package
// implements it over the ledger_leaves(idx, data) and ledger_hashes(idx, hash)
// tables and a head row; ledgertest.TestStorage checks an implementation.
type Storage interface {
	HashReader
	// LockedSize returns the number of leaves and, for the rest of the
	// transaction, holds the append lock, so that two transactions never
	// append the same index.
	LockedSize(ctx context.Context) (int64, error)
	// WriteLeaf stores leaf number idx and the stored hashes that tlog computed
	// for it (hashIndexes[i] is where hashes[i] goes), and sets the size to idx+1.
	WriteLeaf(ctx context.Context, idx int64, leaf []byte, hashIndexes []int64, hashes []tlog.Hash) error
	// ReadLeaves returns leaves [from, to): exactly to-from of them, or an
	// error, wrapping ErrRange if to is past the last leaf.
	ReadLeaves(ctx context.Context, from, to int64) ([][]byte, error)
}

// Sizer is optionally implemented by a Storage that can report its number of
// leaves without taking the append lock. SelfCheck and CheckConsistent use it
// when present, so that a long check does not hold up every audited action;
// leaves below the size never change, so no lock is needed to read them.
type Sizer interface {
	// Size returns the number of committed leaves visible to the caller.
	Size(ctx context.Context) (int64, error)
}

// ledgerSize returns the ledger size, without the append lock if s allows it.
func ledgerSize(ctx context.Context, s Storage) (int64, error) {
	if sz, ok := s.(Sizer); ok {
		return sz.Size(ctx)
	}
	return s.LockedSize(ctx)
}

// MemStorage is an in-memory Storage for tests, here and in other packages.
// The zero value is an empty ledger. It is safe for concurrent use: every
// method is atomic, and WriteLeaf refuses an index other than the current size
// (ErrConflict), so racing appends fail instead of corrupting the tree. Use
// Update for transactions: it serializes them like the append lock of a real
// store and rolls back on error.
type MemStorage struct {
	tx sync.Mutex // held for the whole of an Update: the append lock

	mu     sync.RWMutex
	leaves [][]byte
	hashes []tlog.Hash
}

var (
	_ Storage = (*MemStorage)(nil)
	_ Sizer   = (*MemStorage)(nil)
)

// LockedSize returns the number of leaves. MemStorage's own append lock
// exists only inside Update; outside it, WriteLeaf's index check catches races.
func (m *MemStorage) LockedSize(ctx context.Context) (int64, error) {
	return m.Size(ctx)
}

// Size returns the number of leaves.
func (m *MemStorage) Size(ctx context.Context) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	return int64(len(m.leaves)), nil
}

// ReadHashes returns the stored hashes at indexes.
func (m *MemStorage) ReadHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	return readHashes(m.hashes, nil, indexes)
}

// readHashes reads from committed hashes followed by staged ones.
func readHashes(committed, staged []tlog.Hash, indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	n := int64(len(committed))
	for i, x := range indexes {
		switch {
		case 0 <= x && x < n:
			out[i] = committed[x]
		case n <= x && x < n+int64(len(staged)):
			out[i] = staged[x-n]
		default:
			return nil, fmt.Errorf("%w: no stored hash %d", ErrRange, x)
		}
	}
	return out, nil
}

// WriteLeaf appends leaf idx, which must be the next one, and its hashes.
func (m *MemStorage) WriteLeaf(ctx context.Context, idx int64, leaf []byte, hashIndexes []int64, hashes []tlog.Hash) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := checkWrite(int64(len(m.leaves)), int64(len(m.hashes)), idx, hashIndexes, hashes); err != nil {
		return err
	}
	m.leaves = append(m.leaves, append([]byte(nil), leaf...))
	m.hashes = append(m.hashes, hashes...)
	return nil
}

// checkWrite holds a write to the shape tlog guarantees: leaves and their
// hashes are both appended densely, in order.
func checkWrite(nLeaves, nHashes, idx int64, hashIndexes []int64, hashes []tlog.Hash) error {
	if idx != nLeaves {
		return fmt.Errorf("%w: leaf %d written at size %d", ErrConflict, idx, nLeaves)
	}
	if len(hashIndexes) != len(hashes) || len(hashes) == 0 {
		return fmt.Errorf("ledger: write of leaf %d: %d hash indexes for %d hashes", idx, len(hashIndexes), len(hashes))
	}
	for i, x := range hashIndexes {
		if x != nHashes+int64(i) {
			return fmt.Errorf("%w: hash %d written at %d stored hashes", ErrConflict, x, nHashes+int64(i))
		}
	}
	return nil
}

// ReadLeaves returns copies of leaves [from, to).
func (m *MemStorage) ReadLeaves(ctx context.Context, from, to int64) ([][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	return readLeaves(m.leaves, nil, from, to)
}

func readLeaves(committed, staged [][]byte, from, to int64) ([][]byte, error) {
	n := int64(len(committed))
	if from < 0 || to < from || to > n+int64(len(staged)) {
		return nil, fmt.Errorf("%w: leaves [%d, %d) of %d", ErrRange, from, to, n+int64(len(staged)))
	}
	out := make([][]byte, 0, to-from)
	for i := from; i < to; i++ {
		if i < n {
			out = append(out, append([]byte(nil), committed[i]...))
		} else {
			out = append(out, append([]byte(nil), staged[i-n]...))
		}
	}
	return out, nil
}

// Update runs fn as one transaction: fn's writes become visible together when
// it returns nil and are dropped when it returns an error. Updates run one at
// a time, as if LockedSize held a real append lock. Like a database
// transaction, the Storage fn receives is for fn's goroutine only, and fn
// must not call Update again.
func (m *MemStorage) Update(ctx context.Context, fn func(Storage) error) error {
	m.tx.Lock()
	defer m.tx.Unlock()
	m.mu.RLock()
	t := &memTx{m: m, baseLeaves: int64(len(m.leaves)), baseHashes: int64(len(m.hashes))}
	m.mu.RUnlock()
	if err := fn(t); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if int64(len(m.leaves)) != t.baseLeaves || int64(len(m.hashes)) != t.baseHashes {
		// A direct WriteLeaf, outside any Update, slipped in.
		return fmt.Errorf("%w: ledger grew during the transaction", ErrConflict)
	}
	m.leaves = append(m.leaves, t.leaves...)
	m.hashes = append(m.hashes, t.hashes...)
	return nil
}

// memTx is the Storage that Update hands to fn: reads see the committed
// ledger followed by fn's own writes.
type memTx struct {
	m                      *MemStorage
	baseLeaves, baseHashes int64
	leaves                 [][]byte
	hashes                 []tlog.Hash
}

func (t *memTx) LockedSize(ctx context.Context) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return t.baseLeaves + int64(len(t.leaves)), nil
}

func (t *memTx) ReadHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t.m.mu.RLock()
	defer t.m.mu.RUnlock()
	return readHashes(t.m.hashes[:t.baseHashes], t.hashes, indexes)
}

func (t *memTx) WriteLeaf(ctx context.Context, idx int64, leaf []byte, hashIndexes []int64, hashes []tlog.Hash) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkWrite(t.baseLeaves+int64(len(t.leaves)), t.baseHashes+int64(len(t.hashes)), idx, hashIndexes, hashes); err != nil {
		return err
	}
	t.leaves = append(t.leaves, append([]byte(nil), leaf...))
	t.hashes = append(t.hashes, hashes...)
	return nil
}

func (t *memTx) ReadLeaves(ctx context.Context, from, to int64) ([][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t.m.mu.RLock()
	defer t.m.mu.RUnlock()
	return readLeaves(t.m.leaves[:t.baseLeaves], t.leaves, from, to)
}

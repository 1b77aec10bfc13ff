package service_test

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/dissent-channel/dissent/internal/store"
)

// hookStore wraps a node's store for tests that count what a request
// reads or force an interleaving: its transactions, read and write, count
// some reads and call the hooks set, each once (when the hook returns
// true; one that returns false stays set).
type hookStore struct {
	store.Store
	mu sync.Mutex
	// latest, ledger and names count MemoLatest (one per memo whose keys
	// are vouched for), MemoLedger and UserNames calls.
	latest, ledger, names atomic.Int64
	// beforeWrite runs as the next write transaction is about to begin.
	beforeWrite func() bool
	// onUsersByIDs runs after UsersByIDs read the rows.
	onUsersByIDs func(ids []string, write bool) bool
	// onUserByID runs after UserByID read the row.
	onUserByID func(id string, write bool) bool
	// onUserByUsername runs after UserByUsername read the row.
	onUserByUsername func(username string, write bool) bool
	// onUsersByUsernames runs after UsersByUsernames read the rows.
	onUsersByUsernames func(usernames []string, write bool) bool
	// onMemoLatest runs before MemoLatest: after the memo's row was read,
	// before its history is.
	onMemoLatest func(memoID string, write bool) bool
	// onUserNames runs after UserNames read the names.
	onUserNames func(write bool) bool
	// onSetting runs every time a transaction reads a setting.
	onSetting func(name string, err error)
}

type hookTx struct {
	store.Tx
	s     *hookStore
	write bool
}

func (s *hookStore) Begin(ctx context.Context, write bool) (store.Tx, error) {
	if write {
		if f := hookTake(s, &s.beforeWrite); f != nil && !f() {
			hookArm(s, &s.beforeWrite, f)
		}
	}
	tx, err := s.Store.Begin(ctx, write)
	if err != nil {
		return tx, err
	}
	return &hookTx{Tx: tx, s: s, write: write}, nil
}

// hookTake returns the hook at h and clears it: the requests it makes
// while it runs do not fire it. hookArm puts back one that did not fire.
func hookTake[F any](s *hookStore, h *F) F {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := *h
	var zero F
	*h = zero
	return f
}

func hookArm[F any](s *hookStore, h *F, f F) {
	s.mu.Lock()
	defer s.mu.Unlock()
	*h = f
}

func (t *hookTx) UsersByIDs(ctx context.Context, ids []string) ([]*store.User, error) {
	us, err := t.Tx.UsersByIDs(ctx, ids)
	if f := hookTake(t.s, &t.s.onUsersByIDs); f != nil && !f(ids, t.write) {
		hookArm(t.s, &t.s.onUsersByIDs, f)
	}
	return us, err
}

func (t *hookTx) UserByID(ctx context.Context, id string) (*store.User, error) {
	u, err := t.Tx.UserByID(ctx, id)
	if f := hookTake(t.s, &t.s.onUserByID); f != nil && !f(id, t.write) {
		hookArm(t.s, &t.s.onUserByID, f)
	}
	return u, err
}

func (t *hookTx) UsersByUsernames(ctx context.Context, usernames []string) ([]*store.User, error) {
	us, err := t.Tx.UsersByUsernames(ctx, usernames)
	if f := hookTake(t.s, &t.s.onUsersByUsernames); f != nil && !f(usernames, t.write) {
		hookArm(t.s, &t.s.onUsersByUsernames, f)
	}
	return us, err
}

func (t *hookTx) UserByUsername(ctx context.Context, username string) (*store.User, error) {
	u, err := t.Tx.UserByUsername(ctx, username)
	if f := hookTake(t.s, &t.s.onUserByUsername); f != nil && !f(username, t.write) {
		hookArm(t.s, &t.s.onUserByUsername, f)
	}
	return u, err
}

func (t *hookTx) MemoLatest(ctx context.Context, memoID string) (int64, error) {
	t.s.latest.Add(1)
	if f := hookTake(t.s, &t.s.onMemoLatest); f != nil && !f(memoID, t.write) {
		hookArm(t.s, &t.s.onMemoLatest, f)
	}
	return t.Tx.MemoLatest(ctx, memoID)
}

func (t *hookTx) MemoLedger(ctx context.Context, memoID string) ([]store.LedgerEntry, error) {
	t.s.ledger.Add(1)
	return t.Tx.MemoLedger(ctx, memoID)
}

func (t *hookTx) UserNames(ctx context.Context, ids []string) (map[string]store.UserName, error) {
	t.s.names.Add(1)
	names, err := t.Tx.UserNames(ctx, ids)
	if f := hookTake(t.s, &t.s.onUserNames); f != nil && !f(t.write) {
		hookArm(t.s, &t.s.onUserNames, f)
	}
	return names, err
}

func (t *hookTx) Setting(ctx context.Context, name string) ([]byte, error) {
	v, err := t.Tx.Setting(ctx, name)
	if t.s.onSetting != nil {
		t.s.onSetting(name, err)
	}
	return v, err
}

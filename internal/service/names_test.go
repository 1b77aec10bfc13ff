package service_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// namesStore counts the queries for users' names (UserNames).
type namesStore struct {
	store.Store
	names atomic.Int64
}

type namesTx struct {
	store.Tx
	s *namesStore
}

func (s *namesStore) Begin(ctx context.Context, write bool) (store.Tx, error) {
	tx, err := s.Store.Begin(ctx, write)
	if err != nil {
		return tx, err
	}
	return &namesTx{Tx: tx, s: s}, nil
}

func (t *namesTx) UserNames(ctx context.Context, ids []string) (map[string]store.UserName, error) {
	t.s.names.Add(1)
	return t.Tx.UserNames(ctx, ids)
}

// TestNamesAreReadOnceAWhile: a memo's page names its authors, readers
// and the actors of its history, one query a page. A node keeps the names
// it read for a few seconds: the office opening memos one after another
// reads them once.
func TestNamesAreReadOnceAWhile(t *testing.T) {
	st := &namesStore{Store: storetest.OpenSQLite(t)}
	d := servicetest.NewDeployment(t, st)
	m := submitted(t, d, d.Member("alice"), "named")
	read := func() *service.Memo {
		t.Helper()
		got, err := d.Svc.GetMemo(d.Ctx, d.Office, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	first := read()
	before := st.names.Load()
	again := read()
	if n := st.names.Load() - before; n != 0 {
		t.Errorf("opening the memo again at once read users' names %d times, want 0", n)
	}
	if p1 := readerNamed(first, "p1"); p1 == "" || readerNamed(again, "p1") != p1 {
		t.Errorf("the reader p1's name: %q, then %q", p1, readerNamed(again, "p1"))
	}
	d.Clock.Advance(6 * time.Second)
	before = st.names.Load()
	read()
	if n := st.names.Load() - before; n != 1 {
		t.Errorf("opening the memo six seconds later read users' names %d times, want 1", n)
	}
}

// TestRenamedShowsNewName: an administrator corrects a principal's display
// name. The node that made the change shows the new one at once; another
// node (app nodes share the database, not their memory) within a few
// seconds. (Authors are named as they were when they signed: the roster
// keeps their names.)
func TestRenamedShowsNewName(t *testing.T) {
	st := storetest.OpenSQLite(t)
	d := servicetest.NewDeployment(t, st)
	m := submitted(t, d, d.Member("alice"), "renamed")
	other := servicetest.Reopen(t, d.Harness, st)
	office2 := other.SignIn("office")
	p1Name := func(h *servicetest.Harness, a *service.Actor) string {
		t.Helper()
		got, err := h.Svc.GetMemo(d.Ctx, a, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		return readerNamed(got, "p1")
	}
	old := p1Name(d.Harness, d.Office)
	if got := p1Name(other, office2); got != old {
		t.Fatalf("the other node names p1 %q, want %q", got, old)
	}
	const corrected = "P. One, Under Secretary"
	if _, err := d.Svc.UpdateUser(d.Ctx, d.Admin, "p1", service.UserUpdate{DisplayName: new(corrected)}); err != nil {
		t.Fatal(err)
	}
	if got := p1Name(d.Harness, d.Office); got != corrected {
		t.Errorf("the node that renamed p1 shows %q, want %q", got, corrected)
	}
	d.Clock.Advance(6 * time.Second)
	if got := p1Name(other, office2); got != corrected {
		t.Errorf("another node shows %q six seconds after the change, want %q", got, corrected)
	}
}

// namesHookStore runs onNames, once, right after a read transaction's
// UserNames has read the rows (a view resolving its nameBook).
type namesHookStore struct {
	store.Store
	mu      sync.Mutex
	onNames func()
}

type namesHookTx struct {
	store.Tx
	s     *namesHookStore
	write bool
}

func (s *namesHookStore) Begin(ctx context.Context, write bool) (store.Tx, error) {
	tx, err := s.Store.Begin(ctx, write)
	if err != nil {
		return tx, err
	}
	return &namesHookTx{Tx: tx, s: s, write: write}, nil
}

func (t *namesHookTx) UserNames(ctx context.Context, ids []string) (map[string]store.UserName, error) {
	names, err := t.Tx.UserNames(ctx, ids)
	if !t.write {
		t.s.mu.Lock()
		f := t.s.onNames
		t.s.onNames = nil
		t.s.mu.Unlock()
		if f != nil {
			f()
		}
	}
	return names, err
}

// TestRenameDuringAViewIsForgottenOnTheSameNode (review 52): an
// administrator corrects p1's display name while the office's page of a
// memo is being put together on the same (single) node. The page read
// p1's old name just before the change committed; UpdateUser then forgets
// p1's cached names, and only afterwards does the page put the old name
// it read into the cache, stamped with the page's time. The node that
// made the change then shows the old name for up to nameTTL, although
// UpdateUser has returned: "forgets it on the node that made the change"
// does not hold.
func TestRenameDuringAViewIsForgottenOnTheSameNode(t *testing.T) {
	st := &namesHookStore{Store: storetest.OpenSQLite(t)}
	d := servicetest.NewDeployment(t, st)
	m := submitted(t, d, d.Member("alice"), "renamed while read")
	name := func() string {
		t.Helper()
		got, err := d.Svc.GetMemo(d.Ctx, d.Office, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		return readerNamed(got, "p1")
	}
	old := name()
	d.Clock.Advance(6 * time.Second) // nothing cached any more

	const corrected = "P. One, Under Secretary"
	fired := false
	st.onNames = func() {
		fired = true
		if _, err := d.Svc.UpdateUser(d.Ctx, d.Admin, "p1", service.UserUpdate{DisplayName: new(corrected)}); err != nil {
			t.Errorf("renaming p1: %v", err)
		}
	}
	if got := name(); got != old {
		t.Logf("the page under way showed %q", got)
	}
	if !fired {
		t.Fatal("the interleaving did not happen")
	}
	// UpdateUser has returned: the same node must show the new name.
	if got := name(); got != corrected {
		t.Errorf("after UpdateUser returned, the node that renamed p1 still shows %q, want %q", got, corrected)
	}
	d.Clock.Advance(4 * time.Second)
	if got := name(); got != corrected {
		t.Errorf("4 seconds after the rename, the same node still shows %q, want %q", got, corrected)
	}
}

// TestRenameDuringASnapshotIsForgotten: on SQLite a read transaction
// reads as of its first statement. The administrator's change commits,
// and the node forgets p1's name, after the office's page began but
// before it looks its names up: the page reads the name of its snapshot,
// the old one, and must not keep it.
func TestRenameDuringASnapshotIsForgotten(t *testing.T) {
	st := &raceStore{Store: storetest.OpenSQLite(t)}
	d := servicetest.NewDeployment(t, st)
	m := submitted(t, d, d.Member("alice"), "renamed while a page began")
	name := func() string {
		t.Helper()
		got, err := d.Svc.GetMemo(d.Ctx, d.Office, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		return readerNamed(got, "p1")
	}
	name()
	d.Clock.Advance(6 * time.Second)
	const corrected = "P. One, Under Secretary"
	fired := false
	st.onMemoLatest = func(memoID string, write bool) bool {
		if write {
			return false
		}
		fired = true
		if _, err := d.Svc.UpdateUser(d.Ctx, d.Admin, "p1", service.UserUpdate{DisplayName: new(corrected)}); err != nil {
			t.Errorf("renaming p1: %v", err)
		}
		return true
	}
	name()
	if !fired {
		t.Fatal("the interleaving did not happen")
	}
	if got := name(); got != corrected {
		t.Errorf("after UpdateUser returned, the node that renamed p1 shows %q, want %q", got, corrected)
	}
}

func readerNamed(m *service.Memo, username string) string {
	for _, r := range m.Distribution {
		if r.Username == username {
			return r.DisplayName
		}
	}
	return ""
}

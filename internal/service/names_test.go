package service_test

import (
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// TestNamesAreReadOnceAWhile: a memo's page names its authors, readers
// and the actors of its history, one query a page. A node keeps the names
// it read for a few seconds: the office opening memos one after another
// reads them once.
func TestNamesAreReadOnceAWhile(t *testing.T) {
	st := &hookStore{Store: storetest.OpenSQLite(t)}
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
	old := p1Name(t, d.Harness, d.Office, m.ID)
	if got := p1Name(t, other, office2, m.ID); got != old {
		t.Fatalf("the other node names p1 %q, want %q", got, old)
	}
	const corrected = "P. One, Under Secretary"
	if _, err := d.Svc.UpdateUser(d.Ctx, d.Admin, "p1", service.UserUpdate{DisplayName: new(corrected)}); err != nil {
		t.Fatal(err)
	}
	if got := p1Name(t, d.Harness, d.Office, m.ID); got != corrected {
		t.Errorf("the node that renamed p1 shows %q, want %q", got, corrected)
	}
	d.Clock.Advance(6 * time.Second)
	if got := p1Name(t, other, office2, m.ID); got != corrected {
		t.Errorf("another node shows %q six seconds after the change, want %q", got, corrected)
	}
}

// TestRenameDuringAViewIsForgottenOnTheSameNode (review 52): an
// administrator corrects p1's display name while the office's page of a
// memo is being put together on the same node. The page read p1's old
// name just before the change committed; UpdateUser then forgot p1's
// cached names, and only afterwards did the page put the old name it read
// into the cache: the node that made the change showed the old name for
// up to nameTTL after UpdateUser returned.
func TestRenameDuringAViewIsForgottenOnTheSameNode(t *testing.T) {
	renamedWhileAPageIsUnderWay(t, func(st *hookStore, rename func(write bool) bool) {
		st.onUserNames = rename
	})
}

// TestRenameDuringASnapshotIsForgotten: on SQLite a read transaction
// reads as of its first statement. The administrator's change commits,
// and the node forgets p1's name, after the office's page began but
// before it looks its names up: the page reads the name of its snapshot,
// the old one, and must not keep it.
func TestRenameDuringASnapshotIsForgotten(t *testing.T) {
	renamedWhileAPageIsUnderWay(t, func(st *hookStore, rename func(write bool) bool) {
		st.onMemoLatest = func(_ string, write bool) bool { return rename(write) }
	})
}

// renamedWhileAPageIsUnderWay has an administrator correct p1's display
// name at the point of the office's page of a memo (in its read
// transaction) that arm hooks rename to, and checks that the node shows
// the new name from the moment UpdateUser returned.
func renamedWhileAPageIsUnderWay(t *testing.T, arm func(st *hookStore, rename func(write bool) bool)) {
	t.Helper()
	st := &hookStore{Store: storetest.OpenSQLite(t)}
	d := servicetest.NewDeployment(t, st)
	m := submitted(t, d, d.Member("alice"), "renamed while a page is under way")
	old := p1Name(t, d.Harness, d.Office, m.ID)
	d.Clock.Advance(6 * time.Second) // nothing cached any more
	const corrected = "P. One, Under Secretary"
	fired := false
	arm(st, func(write bool) bool {
		if write {
			return false
		}
		fired = true
		if _, err := d.Svc.UpdateUser(d.Ctx, d.Admin, "p1", service.UserUpdate{DisplayName: new(corrected)}); err != nil {
			t.Errorf("renaming p1: %v", err)
		}
		return true
	})
	if got := p1Name(t, d.Harness, d.Office, m.ID); got != old && got != corrected {
		t.Errorf("the page under way showed %q", got)
	}
	if !fired {
		t.Fatal("the interleaving did not happen")
	}
	if got := p1Name(t, d.Harness, d.Office, m.ID); got != corrected {
		t.Errorf("after UpdateUser returned, the node that renamed p1 shows %q, want %q", got, corrected)
	}
	d.Clock.Advance(4 * time.Second)
	if got := p1Name(t, d.Harness, d.Office, m.ID); got != corrected {
		t.Errorf("4 seconds after the rename, the node still shows %q, want %q", got, corrected)
	}
}

// p1Name is the name a's page of the memo gives the reader p1.
func p1Name(t *testing.T, h *servicetest.Harness, a *service.Actor, memoID string) string {
	t.Helper()
	got, err := h.Svc.GetMemo(h.Ctx, a, memoID)
	if err != nil {
		t.Fatal(err)
	}
	return readerNamed(got, "p1")
}

func readerNamed(m *service.Memo, username string) string {
	for _, r := range m.Distribution {
		if r.Username == username {
			return r.DisplayName
		}
	}
	return ""
}

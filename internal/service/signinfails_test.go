package service_test

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// sessionFails returns the counts of the ledger's session.fail entries,
// oldest first (1 for an entry that stands for one failed sign-in).
func sessionFails(t *testing.T, d *servicetest.Deployment) []int {
	t.Helper()
	leaves, _ := allLeaves(t, d.Store)
	var out []int
	for _, l := range leaves {
		if l.Action == "session.fail" {
			if l.Actor != "" || l.ActorCommit != "" || l.Subject != "" || l.Memo != "" {
				t.Errorf("a session.fail entry names someone: %+v", l)
			}
			out = append(out, max(l.Count, 1))
		}
	}
	return out
}

// TestFailedSignInsAreCounted: a caller who tries made-up usernames, as
// fast as the password check lets them, grows the ledger by one entry a
// minute, and the ledger still says how many sign-ins failed: the first
// failure after a calm minute is written at once, those after it are
// counted and written together once the minute has passed, by the next
// failure or by the node's background work, or at once when the node
// stops.
func TestFailedSignInsAreCounted(t *testing.T) {
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t))
	d.Member("alice")
	fail := func(username string) {
		t.Helper()
		if _, _, err := d.Svc.SignIn(d.Ctx, username, "a wrong guess"); channel.ErrorCode(err) != channel.EUNAUTHORIZED {
			t.Fatalf("sign-in as %q with a wrong password: %v", username, err)
		}
	}
	want := func(step string, counts ...int) {
		t.Helper()
		if got := sessionFails(t, d); !slices.Equal(got, counts) {
			t.Fatalf("%s: session.fail entries stand for %v failed sign-ins, want %v", step, got, counts)
		}
	}
	want("before any")

	fail("alice")
	want("the first failure", 1)

	for i := range 40 {
		fail("nobody-" + strconv.Itoa(i))
		d.Clock.Advance(time.Second)
	}
	fail("alice")
	want("41 more within the minute", 1)
	if err := d.Svc.FlushSignInFailures(d.Ctx, false); err != nil {
		t.Fatal(err)
	}
	want("a flush before the minute is up", 1)

	d.Clock.Advance(20 * time.Second)
	if err := d.Svc.FlushSignInFailures(d.Ctx, false); err != nil {
		t.Fatal(err)
	}
	want("the background work's flush once the minute passed", 1, 41)
	if err := d.Svc.FlushSignInFailures(d.Ctx, true); err != nil {
		t.Fatal(err)
	}
	want("a flush with nothing counted", 1, 41)

	// A failure within the minute after that entry is counted; the next
	// one after the minute writes both.
	d.Clock.Advance(30 * time.Second)
	fail("nobody-else")
	d.Clock.Advance(31 * time.Second)
	fail("nobody-else")
	want("two failures a minute apart", 1, 41, 2)

	// After a calm minute, one failure is written at once.
	d.Clock.Advance(2 * time.Minute)
	fail("alice")
	want("a failure after a calm minute", 1, 41, 2, 1)

	// The node stops: what it counted is written, however recent.
	fail("alice")
	fail("alice")
	if err := d.Svc.FlushSignInFailures(d.Ctx, true); err != nil {
		t.Fatal(err)
	}
	want("the node stopping", 1, 41, 2, 1, 2)

	// A success is no failure, and is written as before.
	if _, _, err := d.Svc.SignIn(d.Ctx, "alice", servicetest.Password("alice")); err != nil {
		t.Fatal(err)
	}
	want("a success", 1, 41, 2, 1, 2)
}

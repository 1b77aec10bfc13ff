package jobs_test

import (
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/jobs"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store/sqlstore"
	"github.com/dissent-channel/dissent/internal/store/storetest"
	"github.com/dissent-channel/dissent/internal/vault"
)

// TestEndedSessionsArePurged: a session's row holds its user's private
// keys sealed under a key derived from the token. Nothing deleted a row
// once its session ended by a password change or timed out, so an old
// token (a cookie, an API script's) and any later copy of the database
// opened the user's keys for good (review helper-40). The background jobs
// now delete sessions past their time-out; a live one stays.
func TestEndedSessionsArePurged(t *testing.T) {
	st := storetest.OpenSQLite(t)
	d := servicetest.NewDeployment(t, st)
	d.Member("alice")
	d.Member("bob")
	old, _, err := d.Svc.SignIn(d.Ctx, "alice", servicetest.Password("alice"))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Svc.ChangePassword(d.Ctx, d.Authenticate(old), servicetest.Password("alice"), "alice chose another passphrase"); err != nil {
		t.Fatal(err)
	}
	w := jobs.New(d.Svc, jobs.Options{Node: "n1", Log: quiet})
	var live string
	for i := range 24 {
		d.Clock.Advance(time.Hour)
		if i == 23 { // signed in within the hour: within both time-outs
			if live, _, err = d.Svc.SignIn(d.Ctx, "bob", servicetest.Password("bob")); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Tick(d.Ctx); err != nil {
			t.Fatal(err)
		}
	}
	db := st.(*sqlstore.DB)
	rows := func(tok string) int {
		raw, err := vault.ParseToken(tok)
		if err != nil {
			t.Fatal(err)
		}
		sid := vault.SessionID(raw)
		var n int
		if err := db.Raw().QueryRowContext(d.Ctx, db.Rebind(`SELECT count(*) FROM sessions WHERE id = ?`), sid[:]).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if rows(old) != 0 {
		t.Error("alice's session, ended by her password change a day ago and past its time-out, is still in the database")
	}
	if rows(live) != 1 {
		t.Error("bob's live session was deleted")
	}
	if d.Authenticate(live) == nil {
		t.Error("bob's live session no longer works")
	}
}

package service_test

// Review 68: what the channel office (holding the office's key, perhaps
// with a colluding administrator's access to the database) can learn of
// who filed an anonymous report.

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/sqlstore"
	"github.com/dissent-channel/dissent/internal/store/storetest"
	"github.com/dissent-channel/dissent/internal/vault"
)

// review68Cover is the cover roster of an anonymous report as the office
// opens it with the memo's key (version kv), and the sealed roster column
// as the database holds it.
func review68Cover(t *testing.T, d *servicetest.Deployment, st store.Store, memoID string, kv int) (channel.Roster, []byte) {
	t.Helper()
	db := st.(*sqlstore.DB)
	var sealed []byte
	if err := db.Raw().QueryRowContext(d.Ctx, db.Rebind(`SELECT roster FROM memos WHERE id = ?`), memoID).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	k := officeMemoKey(t, d, st, memoID, kv)
	plain, err := vault.Open(k, vault.AD("memo", memoID, "roster", fmt.Sprint(kv)), sealed)
	if err != nil {
		t.Fatalf("the office's key does not open the cover: %v", err)
	}
	var cover channel.Roster
	if err := json.Unmarshal(plain, &cover); err != nil {
		t.Fatal(err)
	}
	return cover, sealed
}

// review68Report is anonymousReport for any member: made, signed and
// submitted.
func review68Report(t *testing.T, d *servicetest.Deployment, who *service.Actor) *service.Memo {
	t.Helper()
	m, err := d.Svc.CreateMemo(d.Ctx, who, service.MemoInput{Title: "Invoices split to stay under the tender limit", Body: "Since March the unit splits invoices.", Marking: "UNCLASSIFIED", Anonymous: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Svc.Sign(d.Ctx, who, m.ID, m.Revision); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Svc.Submit(d.Ctx, who, m.ID, m.Revision); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestReview68HiddenRosterSizeTellsTheAuthorsNameLength: the real roster
// of an anonymous report (the author's user id, username, display name,
// nonce, signature and keys) is sealed into the cover unpadded. The office
// opens the cover with the memo's key and reads the hidden roster's
// length; anyone with the database reads the roster column's. Both grow
// with the author's username and display name, which the directory shows
// for every member: two reports filed the same way by members whose
// names differ in length must not differ in size (index entries are
// padded for the same reason, THREAT-MODEL "A database thief").
func TestReview68HiddenRosterSizeTellsTheAuthorsNameLength(t *testing.T) {
	st := storetest.OpenSQLite(t)
	d := servicetest.NewDeployment(t, st, servicetest.Options{Profile: "eu-2019-1937"})
	short := d.Member("al")
	long := d.Member("maximilian-alexander-von-hohenberg")
	a := review68Report(t, d, short)
	b := review68Report(t, d, long)

	coverA, rowA := review68Cover(t, d, st, a.ID, 1)
	coverB, rowB := review68Cover(t, d, st, b.ID, 1)
	if !coverA.Anonymous || !coverB.Anonymous || len(coverA.Authors) != 0 || len(coverB.Authors) != 0 {
		t.Fatalf("control: the covers name no one: %+v / %+v", coverA, coverB)
	}
	if len(coverA.Hidden) != len(coverB.Hidden) {
		t.Errorf("the hidden roster the office reads in the cover is %d bytes for %q's report and %d for %q's: its size tells the office how long the author's name is",
			len(coverA.Hidden), short.User.Username, len(coverB.Hidden), long.User.Username)
	}
	if len(rowA) != len(rowB) {
		t.Errorf("the roster column of the database is %d bytes for %q's report and %d for %q's: its size tells whoever holds the database how long the author's name is",
			len(rowA), short.User.Username, len(rowB), long.User.Username)
	}
}

// TestReview68ForgedAuthorsKeySinglesOutTheAuthor: the office, which
// holds the report's key and so reads its cover (the authors' box
// included), and can write the database, makes a key of its own, seals
// the cover under it as a new key version, and wraps it to the authors'
// box only: no wrap to the office or a reader. Only the author's
// requests now meet that key (authorsAccess), and they must answer as
// every other member's do; instead the author's opening is refused as
// tampering, with an error and a log line, and the node stops reporting
// ready: the moment, and the failing request, is the author's alone.
func TestReview68ForgedAuthorsKeySinglesOutTheAuthor(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st, servicetest.Options{Profile: "eu-2019-1937"})
		alice, bob := d.Member("alice"), d.Member("bob")
		m := anonymousReport(t, d, alice)
		if _, err := d.Svc.Acknowledge(d.Ctx, d.Office, m.ID); err != nil {
			t.Fatal(err)
		}
		if err := d.Svc.Ready(d.Ctx); err != nil {
			t.Fatalf("control: the node is not ready before the forgery: %v", err)
		}

		cover, _ := review68Cover(t, d, st, m.ID, 1)
		plain, err := json.Marshal(cover)
		if err != nil {
			t.Fatal(err)
		}
		forged, err := vault.NewKey()
		if err != nil {
			t.Fatal(err)
		}
		wrapped, err := vault.WrapKey(cover.AuthorsBox, forged)
		if err != nil {
			t.Fatal(err)
		}
		db := st.(*sqlstore.DB)
		if _, err := db.Raw().ExecContext(d.Ctx, db.Rebind(`UPDATE memos SET key_version = 2, roster = ? WHERE id = ?`),
			vault.Seal(forged, vault.AD("memo", m.ID, "roster", "2"), plain), m.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Raw().ExecContext(d.Ctx, db.Rebind(`INSERT INTO access (memo_id, grantee, key_version, wrapped, added_by, standing, added_at) VALUES (?, 'group:authors', 2, ?, 'system', ?, ?)`),
			m.ID, wrapped, 1, d.Clock.Now().UnixMicro()); err != nil {
			t.Fatal(err)
		}

		// The office and the readers cannot open the report at the new
		// version: nothing they do meets the forged key.
		if _, err := d.Svc.GetMemo(d.Ctx, d.Office, m.ID); err == nil {
			t.Fatalf("control: the office opens the report at a version wrapped to the authors alone")
		}
		if err := d.Svc.Ready(d.Ctx); err != nil {
			t.Fatalf("control: the office's own requests raised the alarm: %v", err)
		}

		answer := func(who *service.Actor) string {
			_, gerr := d.Svc.GetMemo(d.Ctx, who, m.ID)
			_, berr := d.Svc.Notifications(d.Ctx, who, 50)
			return fmt.Sprintf("open: %s; bell: %v", channel.ErrorCode(gerr), berr)
		}
		other := answer(bob)
		if err := d.Svc.Ready(d.Ctx); err != nil {
			t.Fatalf("control: another member's requests raised the alarm: %v", err)
		}
		mine := answer(alice)
		if mine != other {
			t.Errorf("the anonymous author's requests answer otherwise than another member's after the office wrapped a key of its own to the authors' box:\n the author: %s\n bob: %s", mine, other)
		}
		if err := d.Svc.Ready(d.Ctx); err != nil {
			t.Errorf("the anonymous author's requests alone raised the tampering alarm (the node stops reporting ready, with a log line at that moment): %v", err)
		}
	})
}

// TestReview68MessageSealedTheOldWayStopsTheReporterAnswering: an item
// sealed before December 2026 names neither its kind nor its revision
// ("item:<id>"), and every view still opens it (openBoundField falls back
// to that label). The check of whether the office was told lately of the
// authors' messages (officeToldLately), which runs on the authors'
// messages alone, opens every message under the new label only: on a
// report whose history holds a message from before then, the reporter can
// no longer answer the office (an internal error, logged, on their
// requests alone), while the office writes on, and both read the thread.
func TestReview68MessageSealedTheOldWayStopsTheReporterAnswering(t *testing.T) {
	st := storetest.OpenSQLite(t)
	d := servicetest.NewDeployment(t, st, servicetest.Options{Profile: "eu-2019-1937"})
	alice := d.Member("alice")
	m := anonymousReport(t, d, alice)
	const question = "Which two suppliers?"
	if _, err := d.Svc.Message(d.Ctx, d.Office, m.ID, question); err != nil {
		t.Fatal(err)
	}
	// The office's message as a deployment from before December 2026
	// holds it: its body under the memo's key, sealed under "item:<id>".
	db := st.(*sqlstore.DB)
	var id string
	if err := db.Raw().QueryRowContext(d.Ctx, db.Rebind(`SELECT id FROM items WHERE memo_id = ? AND kind = 'message'`), m.ID).Scan(&id); err != nil {
		t.Fatal(err)
	}
	k := officeMemoKey(t, d, st, m.ID, 1)
	plain, err := json.Marshal(map[string]string{"body": question, "from": "office"})
	if err != nil {
		t.Fatal(err)
	}
	execSQL(t, db, `UPDATE items SET sealed = ? WHERE id = ?`, vault.Seal(k, vault.AD("memo", m.ID, "item:"+id, "1"), plain), id)

	for _, who := range []*service.Actor{d.Office, alice} {
		got, err := d.Svc.GetMemo(d.Ctx, who, m.ID)
		if err != nil || len(got.Messages) != 1 || got.Messages[0].Body != question {
			t.Fatalf("control: %s reads the thread with the message of before: %+v, %v", who.User.Username, got, err)
		}
	}
	if _, err := d.Svc.Message(d.Ctx, alice, m.ID, "Nordwerk and Baltica."); err != nil {
		t.Errorf("the reporter answers the office on a report whose thread holds a message sealed before December 2026: %v", err)
	}
	if _, err := d.Svc.Message(d.Ctx, d.Office, m.ID, "Thank you."); err != nil {
		t.Errorf("control: the office writes on: %v", err)
	}
}

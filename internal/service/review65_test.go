package service_test

// Findings of review 65 (the cryptography as used, and the ledger).

import (
	"encoding/json"
	"testing"

	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/sqlstore"
	"github.com/dissent-channel/dissent/internal/store/storetest"
	"github.com/dissent-channel/dissent/internal/vault"
)

// TestReview65CommentRenamedIntoTheLegacyLabelShowsAsReply: an item is
// sealed under "item:<kind>:<id>", and opened, failing that, under the
// label of before December 2026, "item:<id>". The id is a column in the
// clear: a principal's comment (sealed under "item:comment:C") whose row
// is given kind "reply" and id "comment:C" fails the first label,
// "item:reply:comment:C", and opens under the legacy one, "item:comment:C",
// which is exactly its seal's. THREAT-MODEL says a comment relabelled as
// the reply is refused as tampering; here it is shown to the authors as
// the office's reply.
func TestReview65CommentRenamedIntoTheLegacyLabelShowsAsReply(t *testing.T) {
	st := storetest.OpenSQLite(t)
	d := servicetest.NewDeployment(t, st)
	alice := d.Member("alice")
	m, _ := d.Submitted(alice, "a memo")
	const candid = "Between us: the authors are right, but we will bury this."
	if _, err := d.Svc.Comment(d.Ctx, d.Principals[0], m.ID, candid); err != nil {
		t.Fatal(err)
	}
	execSQL(t, st.(*sqlstore.DB), `UPDATE items SET kind = 'reply', id = 'comment:' || id WHERE memo_id = ? AND kind = 'comment'`, m.ID)
	if got, err := d.Svc.GetMemo(d.Ctx, alice, m.ID); err == nil {
		shown := ""
		if got.Reply != nil {
			shown = got.Reply.Body
		}
		t.Errorf("the memo opens for its author with a principal's comment relabelled as the office's reply (reply shown: %q)", shown)
	}
}

// TestReview65ReaderReasonMovesBetweenDecisions: the reason the office
// gives for adding a reader is sealed on each access row under the label
// "reason", which names neither the reader nor the decision, and the
// rows' added_by and standing columns are in the clear. Whoever writes
// the database copies the reason of one decision onto another reader's
// row: it opens, and the memo's authors are shown a reason the office
// never gave for that reader (the memo.distribute entries, sealed, record
// the true one).
func TestReview65ReaderReasonMovesBetweenDecisions(t *testing.T) {
	st := storetest.OpenSQLite(t)
	d := servicetest.NewDeployment(t, st)
	alice := d.Member("alice")
	m, _ := d.Submitted(alice, "a memo")
	d.Principal("p3")
	d.Principal("p4")
	const r3, r4 = "p3 leads the country team and must see this", "p4 asked to be kept informed"
	if _, err := d.Svc.AddReaders(d.Ctx, d.Office, m.ID, service.ReadersInput{Usernames: []string{"p3"}, Reason: r3}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Svc.AddReaders(d.Ctx, d.Office, m.ID, service.ReadersInput{Usernames: []string{"p4"}, Reason: r4}); err != nil {
		t.Fatal(err)
	}
	db := st.(*sqlstore.DB)
	execSQL(t, db, `UPDATE access SET reason = (SELECT a.reason FROM access a JOIN users u ON u.id = a.grantee
		WHERE a.memo_id = ? AND u.username = 'p3') WHERE memo_id = ? AND grantee = (SELECT id FROM users WHERE username = 'p4')`, m.ID, m.ID)
	got, err := d.Svc.GetMemo(d.Ctx, alice, m.ID)
	if err != nil {
		return // refused as tampering: sound
	}
	for _, r := range got.Distribution {
		if r.Username == "p4" && r.Reason != r4 {
			t.Errorf("the authors are shown p4 added for the reason %q, which the office gave for p3; it gave %q", r.Reason, r4)
		}
	}
}

// TestReview65ForgedMailTellsWhoWroteAMemo: anyone who can write the
// database can post mail (a mailbox row, age-sealed to a public key in
// the users table) naming any memo, and the recipient's next collection
// files what it holds in their author index without asking whether the
// memo's ledger made the key or whether they are on its roster: the entry
// of a memo they wrote is rewritten in place, one for a memo they did not
// write is inserted. The administrator posts such a mail to alice and to
// carol about memo M, keeps a copy of author_index before each collects
// it, and compares: the rows show which of them wrote M. THREAT-MODEL:
// the administrator "cannot learn from the database who wrote or signed
// a memo"; mailbox rows and the index are meant to tell nothing of it.
func TestReview65ForgedMailTellsWhoWroteAMemo(t *testing.T) {
	st := storetest.OpenSQLite(t)
	d := servicetest.NewDeployment(t, st)
	alice, carol := d.Member("alice"), d.Member("carol")
	m, _ := d.Submitted(alice, "a memo alice wrote")
	db := st.(*sqlstore.DB)
	raw := db.Raw()

	index := func() map[string]string {
		rows, err := raw.QueryContext(d.Ctx, `SELECT owner, entry, sealed FROM author_index`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string]string{}
		for rows.Next() {
			var o, e, s []byte
			if err := rows.Scan(&o, &e, &s); err != nil {
				t.Fatal(err)
			}
			out[string(o)+"/"+string(e)] = string(s)
		}
		return out
	}
	// post is the administrator's forged mail: a key of their own for
	// version 1 of memo M, sealed to the user's public box key.
	post := func(username string) {
		var box string
		if err := raw.QueryRowContext(d.Ctx, db.Rebind(`SELECT box_public FROM users WHERE username = ?`), username).Scan(&box); err != nil {
			t.Fatal(err)
		}
		plain, err := json.Marshal(map[string]any{"m": m.ID, "k": map[string][]byte{"1": make([]byte, 32)}, "p": ""})
		if err != nil {
			t.Fatal(err)
		}
		sealed, err := vault.SealTo(box, plain)
		if err != nil {
			t.Fatal(err)
		}
		execSQL(t, db, `INSERT INTO mailbox (id, posted_at, sealed) VALUES (?, ?, ?)`, "forged-"+username, d.Clock.Now().UnixMicro(), sealed)
	}
	// shape is what the administrator sees of a collection: how many
	// index rows it inserted and how many it rewrote.
	shape := func(who *service.Actor) (inserted, rewritten int) {
		before := index()
		post(who.User.Username)
		if _, err := d.Svc.ListMemos(d.Ctx, who, service.BoxMine, nil, "", 50); err != nil { // collects the mail
			t.Fatal(err)
		}
		for k, v := range index() {
			if old, ok := before[k]; !ok {
				inserted++
			} else if old != v {
				rewritten++
			}
		}
		return inserted, rewritten
	}
	ai, ar := shape(alice)
	ci, cr := shape(carol)
	if ai != ci || ar != cr {
		t.Errorf("a forged mail about memo M tells the administrator who wrote it: alice's collection inserted %d index rows and rewrote %d, carol's inserted %d and rewrote %d", ai, ar, ci, cr)
	}
}

// TestAReaderReasonOutlivesARotation: a key rotation copies each reader's
// access row, reason and all, to the new key version, under which the
// reason was never sealed; the authors must still be shown it.
func TestAReaderReasonOutlivesARotation(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		alice := d.Member("alice")
		m, _ := d.Submitted(alice, "a memo")
		d.Principal("p3")
		d.Principal("p4")
		const r3 = "p3 leads the country team and must see this"
		if _, err := d.Svc.AddReaders(d.Ctx, d.Office, m.ID, service.ReadersInput{Usernames: []string{"p3", "p4"}, Reason: r3}); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Svc.RevokeReader(d.Ctx, d.Office, m.ID, "p4", "no longer on the team"); err != nil {
			t.Fatal(err)
		}
		got, err := d.Svc.GetMemo(d.Ctx, alice, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		shown := false
		for _, r := range got.Distribution {
			if r.Username == "p3" {
				shown = true
				if r.Reason != r3 {
					t.Errorf("after a rotation the authors are shown p3 added for %q, want %q", r.Reason, r3)
				}
			}
		}
		if !shown {
			t.Errorf("p3 is not on the distribution after p4's removal: %+v", got.Distribution)
		}
	})
}

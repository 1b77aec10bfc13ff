package service_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"testing"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/sqlstore"
	"github.com/dissent-channel/dissent/internal/store/storetest"
	"github.com/dissent-channel/dissent/internal/vault"
)

// forgeMail posts, as someone who writes the database and holds
// no key would, a mailbox entry sealed to recipient's public key (which
// is public) saying that memoID's key version kv is a key of the
// forger's choosing.
func forgeMail(t *testing.T, d *servicetest.Deployment, st store.Store, recipient *service.Actor, memoID string, kv int) {
	t.Helper()
	k, err := vault.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	forgeMailKey(t, d, st, recipient, memoID, kv, k)
}

func forgeMailKey(t *testing.T, d *servicetest.Deployment, st store.Store, recipient *service.Actor, memoID string, kv int, k vault.Key) {
	t.Helper()
	plain, err := json.Marshal(map[string]any{"m": memoID, "k": map[string][]byte{strconv.Itoa(kv): k[:]}})
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := vault.SealTo(recipient.User.BoxPublic, plain)
	if err != nil {
		t.Fatal(err)
	}
	db := st.(*sqlstore.DB)
	if _, err := db.Raw().ExecContext(d.Ctx, db.Rebind(`INSERT INTO mailbox (id, posted_at, sealed) VALUES (?, ?, ?)`),
		"forged"+strconv.Itoa(kv)+memoID[:6]+recipient.User.ID[:6], d.Clock.Now().UnixMicro(), sealed); err != nil {
		t.Fatal(err)
	}
}

// rotateByReader has the office add p3 to m and take them off again:
// the memo's key is rotated, and the new version wrapped to the authors'
// box of an anonymous report.
func rotateByReader(t *testing.T, d *servicetest.Deployment, memoID string) {
	t.Helper()
	if _, err := d.Svc.AddReaders(d.Ctx, d.Office, memoID, service.ReadersInput{Usernames: []string{"p3"}, Reason: "Internal audit"}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Svc.RevokeReader(d.Ctx, d.Office, memoID, "p3", "Audit done"); err != nil {
		t.Fatal(err)
	}
}

// TestForgedMailDoesNotLockAnAnonymousAuthorOut: anyone who can write the
// mailbox can seal a "key" for a memo to a member's public key. An
// ordinary author's index lets the key the memo's ledger made replace a
// forged one; the author of an anonymous report gets later keys only from
// the office's wraps to the authors' box, so mail is never taken into
// their entry, before a rotation or after it, and the report stays theirs.
func TestForgedMailDoesNotLockAnAnonymousAuthorOut(t *testing.T) {
	for _, when := range []string{"after the rotation", "ahead of the rotation"} {
		t.Run(when, func(t *testing.T) {
			storetest.Stores(t, func(t *testing.T, st store.Store) {
				d := servicetest.NewDeployment(t, st, servicetest.Options{Profile: "eu-2019-1937"})
				alice := d.Member("alice")
				d.Principal("p3")
				m := anonymousReport(t, d, alice)
				if when == "ahead of the rotation" {
					forgeMail(t, d, st, alice, m.ID, 2)
					if _, err := d.Svc.ListMemos(d.Ctx, alice, service.BoxMine, nil, "", 50); err != nil { // collects the mail
						t.Fatal(err)
					}
					rotateByReader(t, d, m.ID)
				} else {
					rotateByReader(t, d, m.ID)
					if _, err := d.Svc.GetMemo(d.Ctx, alice, m.ID); err != nil {
						t.Fatalf("the author opens the report after the rotation: %v", err)
					}
					forgeMail(t, d, st, alice, m.ID, 2)
				}
				if _, err := d.Svc.Reply(d.Ctx, d.Office, m.ID, "Under review."); err != nil {
					t.Fatal(err)
				}
				got, err := d.Svc.GetMemo(d.Ctx, alice, m.ID)
				if err != nil {
					t.Errorf("the author no longer opens their anonymous report after a forged mail entry: %v (tampering flagged: %v)",
						err, d.Svc.Ready(d.Ctx) != nil)
				} else if got.Reply == nil {
					t.Errorf("the author does not see the reply")
				}
				list, err := d.Svc.ListMemos(d.Ctx, alice, service.BoxMine, nil, "", 50)
				if err != nil || len(list.Items) != 1 {
					t.Errorf("the author's list after a forged mail entry: %+v, %v", list, err)
				}
				if _, err := d.Svc.Withdraw(d.Ctx, alice, m.ID, "x"); err != nil && channel.ErrorCode(err) != channel.ECONFLICT {
					t.Errorf("the author withdraws: %v", err)
				}
			})
		})
	}
}

// TestFormerMemberListsTheirRotatedAnonymousReport: an author whose member
// role was taken away still opens their anonymous report after its key was
// rotated, in their list as well as alone.
func TestFormerMemberListsTheirRotatedAnonymousReport(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st, servicetest.Options{Profile: "eu-2019-1937"})
		alice := d.Member("alice")
		d.Principal("p3")
		named, _ := d.Submitted(alice, "A named report")
		anon := anonymousReport(t, d, alice)
		rotateByReader(t, d, named.ID)
		rotateByReader(t, d, anon.ID)
		// While still a member, the author looks at their list, which
		// collects the named report's new key from their mail.
		if list, err := d.Svc.ListMemos(d.Ctx, alice, service.BoxMine, nil, "", 50); err != nil || len(list.Items) != 2 {
			t.Fatalf("the member's list: %+v, %v", list, err)
		}
		roles := []string{"auditor"}
		if _, err := d.Svc.UpdateUser(d.Ctx, d.Admin, "alice", service.UserUpdate{Roles: &roles}); err != nil {
			t.Fatal(err)
		}
		alice = d.SignIn("alice")
		for _, m := range []*service.Memo{named, anon} {
			if _, err := d.Svc.GetMemo(d.Ctx, alice, m.ID); err != nil {
				t.Fatalf("the former member opens %q: %v", m.Title, err)
			}
		}
		list, err := d.Svc.ListMemos(d.Ctx, alice, service.BoxMine, nil, "", 50)
		if err != nil {
			t.Fatal(err)
		}
		listed := map[string]bool{}
		for _, it := range list.Items {
			listed[it.ID] = true
		}
		if !listed[named.ID] {
			t.Fatalf("control: the named report is not in its former-member author's list: %+v", list.Items)
		}
		if !listed[anon.ID] {
			t.Errorf("the anonymous report, rotated, is missing from its author's list (the named one, rotated too, is there): %+v", list.Items)
		}
	})
}

// TestForgedRosterDoesNotSingleOutTheAnonymousAuthor: someone who writes
// the database sets a report's key version on, with a roster sealed under
// a key of their own, and mails that key to the members they suspect. The
// author answers them exactly as any other member does: their lists and
// bells neither fail nor differ.
func TestForgedRosterDoesNotSingleOutTheAnonymousAuthor(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st, servicetest.Options{Profile: "eu-2019-1937"})
		alice, bob := d.Member("alice"), d.Member("bob")
		m := anonymousReport(t, d, alice)

		k, err := vault.NewKey()
		if err != nil {
			t.Fatal(err)
		}
		cover, err := json.Marshal(map[string]any{"authors": nil, "anonymous": true, "hidden": []byte("anything at all, it is never opened by the guess"), "authors_box": "x"})
		if err != nil {
			t.Fatal(err)
		}
		roster := vault.Seal(k, vault.AD("memo", m.ID, "roster", "2"), cover)
		db := st.(*sqlstore.DB)
		if _, err := db.Raw().ExecContext(d.Ctx, db.Rebind(`UPDATE memos SET key_version = 2, roster = ? WHERE id = ?`), roster, m.ID); err != nil {
			t.Fatal(err)
		}
		for _, guess := range []*service.Actor{alice, bob} {
			forgeMailKey(t, d, st, guess, m.ID, 2, k)
		}
		sameAnswers(t, d, "the same forged key and roster, before any vouching", alice, bob)
	})
}

// sameAnswers fails the test if the anonymous author's list and bell
// answer otherwise than another member's after what: whoever wrote the
// rows would learn who the author is from which member's pages changed.
func sameAnswers(t *testing.T, d *servicetest.Deployment, what string, author, other *service.Actor) {
	t.Helper()
	outcome := func(who *service.Actor) string {
		_, lerr := d.Svc.ListMemos(d.Ctx, who, service.BoxMine, nil, "", 50)
		_, berr := d.Svc.Notifications(d.Ctx, who, 50)
		return fmt.Sprintf("list: %v; bell: %v", lerr, berr)
	}
	if a, o := outcome(author), outcome(other); a != o {
		t.Errorf("%s answers the anonymous author otherwise than another member:\n the author: %s\n %s: %s", what, a, other.User.Username, o)
	}
}

// officeMemoKey is the memo key version kv as a member of the office
// holds it: the office's identity (here rebuilt from the custodians'
// shares, which seal it in office.public.recovery) unwraps the memo's
// group:office row.
func officeMemoKey(t *testing.T, d *servicetest.Deployment, st store.Store, memoID string, kv int) vault.Key {
	t.Helper()
	db := st.(*sqlstore.DB)
	recovery, err := vault.JoinIdentity(d.Shares[:d.Shares[0].Threshold])
	if err != nil {
		t.Fatal(err)
	}
	var sealed, wrapped []byte
	if err := db.Raw().QueryRowContext(d.Ctx, `SELECT value FROM settings WHERE name = 'office.public.recovery'`).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	office, err := recovery.RecoverIdentity("group:office", sealed)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Raw().QueryRowContext(d.Ctx, db.Rebind(`SELECT wrapped FROM access WHERE memo_id = ? AND grantee = 'group:office' AND key_version = ?`), memoID, kv).Scan(&wrapped); err != nil {
		t.Fatal(err)
	}
	k, err := office.UnwrapKey(wrapped)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestOfficeForgedCoverDoesNotNameTheAuthor: the cover roster is sealed
// under the memo's key, which the office holds. An office member who can
// also write the database seals a cover saying the report is not anonymous
// and listing every member as a drafter, with nonces of the office's
// choosing. The author's own index, which holds the authors' identity, is
// the word on that: the author does not act under the forged cover, and
// neither the office's access log nor the memo's history names them.
func TestOfficeForgedCoverDoesNotNameTheAuthor(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st, servicetest.Options{Profile: "eu-2019-1937"})
		alice := d.Member("alice")
		others := []*service.Actor{d.Member("bob"), d.Member("carol")}
		m := anonymousReport(t, d, alice)

		k := officeMemoKey(t, d, st, m.ID, 1)
		var cover channel.Roster
		for _, u := range append(others, alice) {
			cover.Authors = append(cover.Authors, channel.Author{UserID: u.User.ID, Username: u.User.Username, DisplayName: u.User.DisplayName, Kind: channel.KindDrafter, Nonce: make([]byte, 32)})
		}
		plain, err := json.Marshal(cover)
		if err != nil {
			t.Fatal(err)
		}
		db := st.(*sqlstore.DB)
		if _, err := db.Raw().ExecContext(d.Ctx, db.Rebind(`UPDATE memos SET roster = ? WHERE id = ?`), vault.Seal(k, vault.AD("memo", m.ID, "roster", "1"), plain), m.ID); err != nil {
			t.Fatal(err)
		}

		// The author looks at their report, as they do.
		if _, err := d.Svc.GetMemo(d.Ctx, alice, m.ID); err != nil {
			t.Logf("the author's read: %v", err)
		}
		page, err := d.Svc.AccessLog(d.Ctx, d.Office, m.ID, "", 200)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Items {
			if e.Username == "alice" {
				t.Errorf("the office's access log names the anonymous author after the office re-sealed the cover: %+v", e)
			}
		}
		office, err := d.Svc.GetMemo(d.Ctx, d.Office, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range office.Events {
			if ev.Role == "author" && ev.Actor != "" {
				t.Errorf("the office's history names the author of %s: %q", ev.Action, ev.Actor)
			}
		}
	})
}

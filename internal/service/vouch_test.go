package service_test

// Each test here proves a finding of the review of the first take on
// vouching for memo keys and on binding seals (helper-46), fixed since
// (vouch.go); its comment says what went wrong before.

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store/sqlstore"
	"github.com/dissent-channel/dissent/internal/store/storetest"
	"github.com/dissent-channel/dissent/internal/vault"
)

// identityOf opens a's private keys as a's person can, offline, from the
// users row and the password (what the attacker in these tests holds for
// their own account).
func identityOf(t *testing.T, a *service.Actor, password string) *vault.Identity {
	t.Helper()
	stored := a.User.Password
	i := strings.LastIndexByte(stored, '$')
	j := strings.LastIndexByte(stored[:i], '$')
	params, err := vault.ParsePasswordParams(stored[:j])
	if err != nil {
		t.Fatal(err)
	}
	salt, err := base64.RawStdEncoding.DecodeString(stored[j+1 : i])
	if err != nil {
		t.Fatal(err)
	}
	_, kek, err := vault.NewPasswords(params, 1).DeriveWith(t.Context(), params, []byte(password), salt)
	if err != nil {
		t.Fatal(err)
	}
	id, err := vault.OpenIdentity(kek, a.User.ID, a.User.KeysSealed)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// plantVersion is what TestSubstitutedMemoKeyIsNotTrusted's administrator
// writes: a new key version of memoID wrapped to the office's public key,
// with a roster sealed under it naming whom they like. It returns the key.
func plantVersion(t *testing.T, d *servicetest.Deployment, db *sqlstore.DB, memoID string, named *service.Actor) vault.Key {
	t.Helper()
	raw := db.Raw()
	var officeBox string
	if err := raw.QueryRowContext(d.Ctx, db.Rebind(`SELECT value FROM settings WHERE name = ?`), "office.public").Scan(&officeBox); err != nil {
		t.Fatal(err)
	}
	var kv int
	if err := raw.QueryRowContext(d.Ctx, db.Rebind(`SELECT key_version FROM memos WHERE id = ?`), memoID).Scan(&kv); err != nil {
		t.Fatal(err)
	}
	next := kv + 1
	evil, _ := vault.NewKey()
	wrapped, err := vault.WrapKey(officeBox, evil)
	if err != nil {
		t.Fatal(err)
	}
	forged := forgedRoster(evil, memoID, next, named)
	execSQL(t, db, `UPDATE memos SET key_version = ?, roster = ? WHERE id = ?`, next, forged, memoID)
	execSQL(t, db, `INSERT INTO access (memo_id, grantee, key_version, wrapped, added_by, reason, standing, added_at)
		SELECT memo_id, grantee, ?, ?, added_by, reason, standing, added_at FROM access WHERE memo_id = ? AND grantee = 'group:office' AND key_version = ?`,
		next, wrapped, memoID, kv)
	return evil
}

// forgedRoster is a roster naming named as the memo's only drafter, sealed
// under evil as key version kv: what a database writer with a key of
// their own writes.
func forgedRoster(evil vault.Key, memoID string, kv int, named *service.Actor) []byte {
	nonce := make([]byte, 32)
	rand.Read(nonce)
	roster, _ := json.Marshal(channel.Roster{Authors: []channel.Author{{
		UserID: named.User.ID, Username: named.User.Username, DisplayName: named.User.DisplayName, Kind: channel.KindDrafter, Nonce: nonce,
	}}})
	return vault.Seal(evil, vault.AD("memo", memoID, "roster", strconv.Itoa(kv)), roster)
}

// TestConfirmationMailsNoKeyOfAnUnvouchedVersion: mailRotatedKeys, run when
// the office confirms a member's recovered (or restored) keys, unwraps the
// office's keys of every memo whose key version is above 1 and opens the
// roster under the current version, WITHOUT keysVouched. Someone who writes
// the database plants a key version of their own on any submitted memo,
// with a roster naming mallory (an accomplice whose keys the office is
// about to confirm, genuinely, with her). The confirmation then mails
// mallory every key version the office holds, the memo's real version-1
// key among them: she reads a memo she never wrote or was given.
func TestConfirmationMailsNoKeyOfAnUnvouchedVersion(t *testing.T) {
	st := storetest.OpenSQLite(t)
	d := servicetest.NewDeployment(t, st)
	db := st.(*sqlstore.DB)
	alice := d.Member("alice")
	d.Member("mallory")
	const secret = "SECRET-BODY-ONLY-ALICE-OFFICE-AND-DISTRIBUTION-READ"
	m, err := d.Svc.CreateMemo(d.Ctx, alice, service.MemoInput{Title: "alice's dissent", Body: secret, Marking: "UNCLASSIFIED"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Svc.Sign(d.Ctx, alice, m.ID, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Svc.Submit(d.Ctx, alice, m.ID, 1); err != nil {
		t.Fatal(err)
	}
	mallory := recovered(t, d, "mallory")
	id := identityOf(t, mallory, "mallory's recovered phrase")

	plantVersion(t, d, db, m.ID, mallory)
	var before []string
	rows, err := db.Raw().QueryContext(d.Ctx, `SELECT id FROM mailbox`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		rows.Scan(&s)
		before = append(before, s)
	}
	rows.Close()

	// The office confirms mallory's keys with her, as it should.
	if err := d.Svc.ConfirmKeys(d.Ctx, d.Office, "mallory", service.KeyConfirmation{Fingerprint: fingerprint(t, d.Svc, mallory)}); err != nil {
		t.Logf("the confirmation was refused (as it should be, or at least send nothing): %v", err)
	}

	// Mallory, offline, opens her new mail and the memo's revision.
	var sealedRev []byte
	if err := db.Raw().QueryRowContext(d.Ctx, db.Rebind(`SELECT sealed FROM revisions WHERE memo_id = ? AND revision = 1`), m.ID).Scan(&sealedRev); err != nil {
		t.Fatal(err)
	}
	rows, err = db.Raw().QueryContext(d.Ctx, `SELECT id, sealed FROM mailbox`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var mid string
		var sealed []byte
		if err := rows.Scan(&mid, &sealed); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(strings.Join(before, " "), mid) {
			continue
		}
		plain, err := id.OpenSealed(sealed)
		if err != nil {
			continue
		}
		var e struct {
			Memo string            `json:"m"`
			Keys map[string][]byte `json:"k"`
		}
		if json.Unmarshal(plain, &e) != nil || e.Memo != m.ID {
			continue
		}
		k1, ok := e.Keys["1"]
		if !ok || len(k1) != 32 {
			continue
		}
		text, err := vault.Open(vault.Key(k1), vault.AD("memo", m.ID, "revision:1", "1"), sealedRev)
		if err != nil {
			text, err = vault.Open(vault.Key(k1), vault.AD("memo", m.ID, "revision", "1"), sealedRev)
		}
		if err == nil && strings.Contains(string(text), secret) {
			t.Fatalf("mallory, never an author or reader of alice's memo, got its real key by mail at her confirmation and reads: %s", text)
		}
	}
}

// removed is a memo p2 read until the office took p2 off, with what a
// database writer kept from before: the roster and p2's wrap of version 1.
type removed struct {
	memo            *service.Memo
	p2              *service.Actor
	roster, wrapped []byte
}

// removedReader submits a memo, keeps its roster and p2's wrap as a
// database writer would, and has the office take p2 off (a rotation).
func removedReader(t *testing.T) (*servicetest.Deployment, *sqlstore.DB, *removed) {
	t.Helper()
	st := storetest.OpenSQLite(t)
	d := servicetest.NewDeployment(t, st)
	db := st.(*sqlstore.DB)
	r := &removed{p2: d.Principals[1]}
	r.memo, _ = d.Submitted(d.Member("alice"), "read by p1, and by p2 until the office takes p2 off")
	if err := db.Raw().QueryRowContext(d.Ctx, db.Rebind(`SELECT roster FROM memos WHERE id = ?`), r.memo.ID).Scan(&r.roster); err != nil {
		t.Fatal(err)
	}
	if err := db.Raw().QueryRowContext(d.Ctx, db.Rebind(`SELECT wrapped FROM access WHERE memo_id = ? AND grantee = ? AND key_version = 1`), r.memo.ID, r.p2.User.ID).Scan(&r.wrapped); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Svc.RevokeReader(d.Ctx, d.Office, r.memo.ID, "p2", "not for p2"); err != nil {
		t.Fatal(err)
	}
	return d, db, r
}

// rollBack writes back the memo's version 1, its roster of then and p2's
// wrap.
func (r *removed) rollBack(t *testing.T, db *sqlstore.DB) {
	t.Helper()
	execSQL(t, db, `UPDATE memos SET key_version = 1, roster = ? WHERE id = ?`, r.roster, r.memo.ID)
	execSQL(t, db, `INSERT INTO access (memo_id, grantee, key_version, wrapped, added_by, reason, standing, added_at) VALUES (?, ?, 1, ?, 'system', NULL, 1, 0)`, r.memo.ID, r.p2.User.ID, r.wrapped)
}

// noReplyReachesP2 has the office reply, and fails if the reply is sealed
// under a version p2 holds or p2 reads it.
func (r *removed) noReplyReachesP2(t *testing.T, d *servicetest.Deployment, db *sqlstore.DB) {
	t.Helper()
	const secret = "REPLY-WRITTEN-AFTER-P2-WAS-TAKEN-OFF"
	if _, err := d.Svc.Reply(d.Ctx, d.Office, r.memo.ID, secret); err == nil {
		var kv int
		if err := db.Raw().QueryRowContext(d.Ctx, db.Rebind(`SELECT key_version FROM items WHERE memo_id = ? AND kind = 'reply'`), r.memo.ID).Scan(&kv); err != nil {
			t.Fatal(err)
		}
		if kv < 2 {
			t.Errorf("the office's reply, written after p2 was taken off, is sealed under key version %d, which p2 holds", kv)
		}
	}
	if got, err := d.Svc.GetMemo(d.Ctx, r.p2, r.memo.ID); err == nil && got.Reply != nil {
		t.Errorf("p2, taken off the memo, reads the reply written after: %q", got.Reply.Body)
	}
}

// TestKeyVersionRolledBackIsRefused: keysVouched checks that every key
// version held is one a rotation made, but not that the memo's current
// version (memos.key_version, a column in the clear) is the newest one
// made. The office takes p2 off a memo, rotating its key to version 2,
// so that what is written from now on is sealed under a key p2 never
// held. Someone who writes the database, with a copy from before,
// sets the memo's key_version back to 1 and writes back the roster of
// then (sealed under version 1) and p2's old wrap. The office opens the
// memo (its keys 1 and 2 are both vouched) and seals its reply under
// version 1, which p2 holds: p2 reads the reply, the rotation undone.
func TestKeyVersionRolledBackIsRefused(t *testing.T) {
	d, db, r := removedReader(t)
	r.rollBack(t, db)
	r.noReplyReachesP2(t, d, db)
}

// TestSubstitutedFirstKeyIsNotTrusted: keysVouched vouches for version 1
// unconditionally, and returns at once for a memo at version 1. The
// administrator of TestSubstitutedMemoKeyIsNotTrusted does the same at
// version 1: the office's wrap of a submitted memo's first key replaced by
// a key of theirs (age, to the office's public key), and the roster and
// the revision sealed under it (a text and authors of their choosing, the
// stored hash the text's). The office opens the memo, is shown the made-up
// text and author, and seals its reply under the administrator's key.
// The memo's own ledger (memo.create's and memo.submit's details are
// sealed under the real version 1; the submission leaf records the
// submitted text's hash) could have told.
func TestSubstitutedFirstKeyIsNotTrusted(t *testing.T) {
	st := storetest.OpenSQLite(t)
	d := servicetest.NewDeployment(t, st)
	db := st.(*sqlstore.DB)
	alice := d.Member("alice")
	mallory := d.Member("mallory")
	m, _ := d.Submitted(alice, "a memo the administrator may not read")
	var officeBox string
	if err := db.Raw().QueryRowContext(d.Ctx, db.Rebind(`SELECT value FROM settings WHERE name = ?`), "office.public").Scan(&officeBox); err != nil {
		t.Fatal(err)
	}
	evil, _ := vault.NewKey()
	wrapped, err := vault.WrapKey(officeBox, evil)
	if err != nil {
		t.Fatal(err)
	}
	text, _ := json.Marshal(channel.Content{Title: "I resign", Body: "made up by the administrator", Marking: "UNCLASSIFIED"})
	head, _ := json.Marshal(map[string]string{"title": "I resign", "marking": "UNCLASSIFIED"})
	h := vault.ContentHash("I resign", "made up by the administrator", "UNCLASSIFIED")
	execSQL(t, db, `UPDATE memos SET roster = ? WHERE id = ?`, forgedRoster(evil, m.ID, 1, mallory), m.ID)
	execSQL(t, db, `UPDATE revisions SET sealed = ?, content_hash = ? WHERE memo_id = ? AND revision = 1`,
		vault.Seal(evil, vault.AD("memo", m.ID, "revision:1", "1"), text), h[:], m.ID)
	execSQL(t, db, `UPDATE revision_headings SET sealed = ? WHERE memo_id = ? AND revision = 1`,
		vault.Seal(evil, vault.AD("memo", m.ID, "heading/1", "1"), head), m.ID)
	execSQL(t, db, `UPDATE access SET wrapped = ? WHERE memo_id = ? AND grantee = 'group:office' AND key_version = 1`, wrapped, m.ID)

	office := d.SignIn("office")
	if got, err := d.Svc.GetMemo(d.Ctx, office, m.ID); err == nil {
		t.Errorf("the office sees the memo %q by %+v, under a key of the administrator's", got.Title, got.Authors)
	}
	const secret = "REPLY-ONLY-THE-AUTHORS-AND-OFFICE-MAY-READ"
	if _, err := d.Svc.Reply(d.Ctx, office, m.ID, secret); err != nil {
		return
	}
	var id string
	var sealed []byte
	if err := db.Raw().QueryRowContext(d.Ctx, db.Rebind(`SELECT id, sealed FROM items WHERE memo_id = ? AND kind = 'reply'`), m.ID).Scan(&id, &sealed); err != nil {
		t.Fatal(err)
	}
	if plain, err := vault.Open(evil, vault.AD("memo", m.ID, "item:reply:"+id, "1"), sealed); err == nil {
		t.Errorf("the administrator, holding only the database, reads the office's reply: %s", plain)
	}
}

// TestRosterRollbackDropsNoSignature: signaturesStand looks only at the
// signatures the roster holds. A roster written back from before a
// co-signer signed (the same revision, the same nonce) opens as well, and
// the memo goes out with the co-signer silently dropped, though the
// memo's ledger says their latest step was memo.sign of that very
// revision: someone who writes the database keeps chosen names off a
// memo (of 51 signers, the few that matter).
func TestRosterRollbackDropsNoSignature(t *testing.T) {
	st := storetest.OpenSQLite(t)
	d := servicetest.NewDeployment(t, st)
	db := st.(*sqlstore.DB)
	alice, bob := d.Member("alice"), d.Member("bob")
	m, err := d.Svc.CreateMemo(d.Ctx, alice, service.MemoInput{Title: "t", Body: "b", Marking: "UNCLASSIFIED"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Svc.InviteSigners(d.Ctx, alice, m.ID, []string{"bob"}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Svc.Sign(d.Ctx, alice, m.ID, 1); err != nil {
		t.Fatal(err)
	}
	var saved []byte
	if err := db.Raw().QueryRowContext(d.Ctx, db.Rebind(`SELECT roster FROM memos WHERE id = ?`), m.ID).Scan(&saved); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Svc.Sign(d.Ctx, bob, m.ID, 1); err != nil {
		t.Fatal(err)
	}
	execSQL(t, db, `UPDATE memos SET roster = ? WHERE id = ?`, saved, m.ID)
	if rc, err := d.Svc.Submit(d.Ctx, alice, m.ID, 1); err == nil {
		t.Errorf("submitted with bob, whose latest step in the ledger is his signature of revision 1, dropped: %d dropped", rc.Dropped)
	}
}

// TestAdministratorAuthorReadsNoMemo: mayFile's comment says an
// administrator must never read a memo, their own included (a co-author's
// shows its text and authors), and the reader and office paths refuse an
// account holding admin; the author path of openRecord does not. An
// account that co-drafted before it was also made an administrator (as
// releases before the two were refused together allowed) still opens the
// memo, its co-authors and the office's reply.
func TestAdministratorAuthorReadsNoMemo(t *testing.T) {
	st := storetest.OpenSQLite(t)
	d := servicetest.NewDeployment(t, st)
	db := st.(*sqlstore.DB)
	alice := d.Member("alice")
	d.Member("bob")
	bob := d.SignIn("bob")
	m := d.Cosigned(alice, bob, "co-signed by bob")
	if _, err := d.Svc.Reply(d.Ctx, d.Office, m.ID, "the office's reply"); err != nil {
		t.Fatal(err)
	}
	execSQL(t, db, `UPDATE users SET roles = 'member admin' WHERE username = 'bob'`)
	bob = d.SignIn("bob")
	if got, err := d.Svc.GetMemo(d.Ctx, bob, m.ID); err == nil {
		t.Errorf("bob, now an administrator, reads the memo %q, its authors %+v and reply %+v", got.Title, got.Authors, got.Reply)
	}
}

// TestInviteeRefusalIsOneAnswer: participants now checks keysHeld before
// mayFile, for every name. A colleague whose account the administrator
// made and who has not signed in yet (keys "pending", no anchor) is not
// refused with the one answer ("cannot be asked to draft or sign at
// present") but with an internal error naming a tampered key, logged at
// ERROR as "a public key in the database is not the one the ledger
// anchors ... find who changed it": a member asking name after name tells
// who has not signed in yet, and sends the operator chasing tampering.
func TestInviteeRefusalIsOneAnswer(t *testing.T) {
	st := storetest.OpenSQLite(t)
	d := servicetest.NewDeployment(t, st)
	alice := d.Member("alice")
	if _, err := d.Svc.CreateUser(d.Ctx, d.Admin, service.NewUser{Username: "newcomer", DisplayName: "N", Email: "n@example.test",
		Password: servicetest.InitialPassword("newcomer"), Roles: []string{"member"}, Eligible: true}); err != nil {
		t.Fatal(err)
	}
	ask := func(name string) string {
		m, err := d.Svc.CreateMemo(d.Ctx, alice, service.MemoInput{Title: "t", Body: "b", Marking: "UNCLASSIFIED"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = d.Svc.InviteSigners(d.Ctx, alice, m.ID, []string{name})
		if err == nil {
			t.Fatalf("%s was invited", name)
		}
		return strings.ReplaceAll(err.Error(), name, "NAME")
	}
	if a, b := ask("office"), ask("newcomer"); a != b {
		t.Errorf("two answers: %q for another role, %q for an account not signed in yet", a, b)
	}
}

// TestPlantedFutureVersionLocksNoAuthorOut: putIndex now keeps a key
// version an author's index holds, whatever mail brings later. Mail is
// sealed to a public key, so anyone who writes the database can post an
// author a key for a version their memo does not have yet. Before, the
// real rotation's mail replaced it; now the planted key stays for good:
// once the office rotates the key, alice's index holds a version 2 under
// which her memo's roster does not open, and only alice's own keys could
// ever write her index again. She loses her memo for good.
func TestPlantedFutureVersionLocksNoAuthorOut(t *testing.T) {
	st := storetest.OpenSQLite(t)
	d := servicetest.NewDeployment(t, st)
	db := st.(*sqlstore.DB)
	alice := d.Member("alice")
	m, _ := d.Submitted(alice, "alice's memo")

	evil, _ := vault.NewKey()
	plain, _ := json.Marshal(map[string]any{"m": m.ID, "k": map[string][]byte{"2": evil[:]}})
	sealed, err := vault.SealTo(alice.User.BoxPublic, plain)
	if err != nil {
		t.Fatal(err)
	}
	execSQL(t, db, `INSERT INTO mailbox (id, posted_at, sealed) VALUES (?, ?, ?)`, "plantedmailplantedmail0001", d.Clock.Now().UnixMicro(), sealed)
	if _, err := d.Svc.ListMemos(d.Ctx, alice, service.BoxMine, nil, "", 50); err != nil {
		t.Logf("alice's list: %v", err)
	}
	// The operator finds the planted mail later; meanwhile the office
	// takes a reader off the memo.
	if _, err := d.Svc.RevokeReader(d.Ctx, d.Office, m.ID, "p1", "not for p1"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Svc.ListMemos(d.Ctx, alice, service.BoxMine, nil, "", 50); err != nil {
		t.Logf("alice's list: %v", err)
	}
	if _, err := d.Svc.GetMemo(d.Ctx, alice, m.ID); err != nil {
		t.Errorf("alice no longer opens her own memo after its rotation, for a key version someone planted by mail before it: %v", err)
	}
}

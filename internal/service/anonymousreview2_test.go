package service_test

// Tests from the second review of anonymous reports (review 55): what a
// database writer or an office that can read the database's rows must not
// learn of an anonymous report's author.

import (
	"bytes"
	"testing"

	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/sqlstore"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// TestForgedAuthorsRowDoesNotSingleOutTheAuthor: someone who can write the
// database but holds no key at all sets an anonymous report's key version
// on and adds an access row for "group:authors" at that version, holding
// bytes of their choosing. Only the real author's index holds an authors'
// identity, so only their requests try to unwrap that row: they must
// answer exactly as every other member's do (no error, no log line),
// rather than pick out the one member whose pages break.
func TestForgedAuthorsRowDoesNotSingleOutTheAuthor(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st, servicetest.Options{Profile: "eu-2019-1937"})
		alice, bob := d.Member("alice"), d.Member("bob")
		m := anonymousReport(t, d, alice)
		// bob has a memo of his own, as alice has hers.
		d.Submitted(bob, "A named report by bob")

		db := st.(*sqlstore.DB)
		if _, err := db.Raw().ExecContext(d.Ctx, db.Rebind(`UPDATE memos SET key_version = 2 WHERE id = ?`), m.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Raw().ExecContext(d.Ctx, db.Rebind(`INSERT INTO access (memo_id, grantee, key_version, wrapped, added_by, standing, added_at) VALUES (?, 'group:authors', 2, ?, 'system', ?, ?)`),
			m.ID, []byte("not a wrapped key"), 1, d.Clock.Now().UnixMicro()); err != nil {
			t.Fatal(err)
		}
		sameAnswers(t, d, "an access row for group:authors written by someone holding no key", alice, bob)
	})
}

// TestIndexTagDoesNotLinkTheAnonymousReportToTheAuthorsNamedMemos: the
// transaction that makes a memo writes its first ledger leaf (memo_id in
// the clear) and the author's index entry, and commits alone. Whoever
// sees which rows a transaction wrote (PostgreSQL's xmin in a live
// database or a physical copy) ties a memo to its creator's owner tag.
// The office knows who wrote every named memo it received, so an
// anonymous report's entry must not be kept under the owner tag of its
// author's named memos; and it must not stand out by its size.
func TestIndexTagDoesNotLinkTheAnonymousReportToTheAuthorsNamedMemos(t *testing.T) {
	st := storetest.OpenPostgres(t)
	d := servicetest.NewDeployment(t, st, servicetest.Options{Profile: "eu-2019-1937"})
	alice, bob := d.Member("alice"), d.Member("bob")
	named, _ := d.Submitted(alice, "A named report by alice")
	other, _ := d.Submitted(bob, "A named report by bob")
	anon := anonymousReport(t, d, alice)

	db := st.(*sqlstore.DB)
	// The owner tag of the index rows written in the same transaction as
	// the memo's first ledger leaf (memo.create), which is never updated.
	ownerOf := func(memoID string) []byte {
		t.Helper()
		var owner []byte
		err := db.Raw().QueryRowContext(d.Ctx, `
			SELECT ai.owner FROM author_index ai
			WHERE ai.xmin = (SELECT l.xmin FROM ledger_leaves l WHERE l.memo_id = $1 ORDER BY l.idx LIMIT 1)`, memoID).Scan(&owner)
		if err != nil {
			t.Fatalf("the index row written with memo %s: %v", memoID, err)
		}
		return owner
	}
	anonTag, aliceTag, bobTag := ownerOf(anon.ID), ownerOf(named.ID), ownerOf(other.ID)
	if bytes.Equal(aliceTag, bobTag) {
		t.Fatalf("control: alice's and bob's index tags are the same")
	}
	// The office reads the named memo's authors, as it may.
	got, err := d.Svc.GetMemo(d.Ctx, d.Office, named.ID)
	if err != nil {
		t.Fatal(err)
	}
	sizes := map[int]int{}
	rows, err := db.Raw().QueryContext(d.Ctx, `SELECT length(sealed) FROM author_index WHERE length(sealed) > 100`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n int
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		sizes[n]++
	}
	if rows.Close(); len(sizes) != 1 {
		t.Errorf("index entries of %d sizes, the anonymous report's among them: %v", len(sizes), sizes)
	}
	if bytes.Equal(anonTag, aliceTag) && len(got.Authors) == 1 {
		t.Errorf("the anonymous report's author index row shares its owner tag with the one written with %q, whose author the office reads: %s — the office, with a physical copy of the database (xmin), names the anonymous author",
			named.Title, got.Authors[0].Username)
	}
}

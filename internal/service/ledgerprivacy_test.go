package service_test

import (
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/dissent-channel/dissent/internal/bundle"
	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/sqlstore"
	"github.com/dissent-channel/dissent/internal/store/storetest"
	"github.com/dissent-channel/dissent/internal/vault"
)

// TestReceiptTimeIsTheLeafs: the time a receipt states is the time its
// submission leaf states, to the nanosecond, so that a verifier comparing
// them (docs/LEDGER.md §4) accepts a genuine receipt. The clock here is
// the real one, whose readings differ from one call to the next.
func TestReceiptTimeIsTheLeafs(t *testing.T) {
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t))
	d.Svc.Now = time.Now
	alice := d.Member("alice")
	for i := range 3 {
		_, rc := d.Submitted(alice, "a memo")
		l, err := ledger.DecodeLeaf([]byte(rc.Leaf))
		if err != nil {
			t.Fatal(err)
		}
		if !l.Time.Equal(rc.SubmittedAt) {
			t.Errorf("receipt %d says submitted at %v, its leaf %v", i, rc.SubmittedAt, l.Time)
		}
	}
}

// TestMemberSignInsAreUnlinkable: a plain member's sign-ins are in the
// ledger behind a commitment; two sign-ins of one member must not carry the
// same commitment, or anyone reading the ledger could follow one person's
// comings and goings beside the memos' activity.
func TestMemberSignInsAreUnlinkable(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		d.Member("alice") // signs in once
		for range 2 {
			d.Clock.Advance(time.Hour)
			d.SignIn("alice")
		}

		seen := map[string]bool{}
		n := 0
		leaves, raw := allLeaves(t, st)
		for i, l := range leaves {
			if l.Action != "session.create" || l.Role != string(channel.RoleMember) {
				continue
			}
			if l.Actor != "" {
				t.Fatalf("a member's sign-in names its actor: %s", raw[i])
			}
			if l.ActorCommit == "" {
				continue // the first, with the administrator's password: no keys to commit with yet
			}
			if seen[l.ActorCommit] {
				t.Errorf("two sign-ins carry the same commitment %s", l.ActorCommit)
			}
			seen[l.ActorCommit] = true
			n++
		}
		if n != 3 {
			t.Fatalf("%d member sign-ins in the ledger, want 3", n)
		}
	})
}

// TestMemoEntriesToItsAuthors: the proof of a ledger entry carries the
// leaf itself to those who may see the memo's history — its authors and
// the office, and auditors — so that a co-signer can prove their
// signature; a principal, who reads the memo but not who else read it, and
// any other member get the hashes only. Giving the leaf is recorded. The
// proof asked for without a size carries the latest checkpoint and
// verifies offline.
func TestMemoEntriesToItsAuthors(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		alice, bob, carol := d.Member("alice"), d.Member("bob"), d.Member("carol")
		auditor := d.Create("auditor", false, "auditor")
		m := d.Cosigned(alice, bob, "co-signed")

		theirs, err := d.Svc.GetMemo(d.Ctx, bob, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		idx := d.EntryIndex(theirs, "memo.sign", "bob")
		for _, c := range []struct {
			who  *service.Actor
			leaf bool
		}{{bob, true}, {alice, true}, {d.Office, true}, {auditor, true}, {d.Principals[0], false}, {carol, false}} {
			p, err := d.Svc.InclusionProof(d.Ctx, c.who, idx, 0)
			if err != nil {
				t.Fatalf("%s: %v", c.who.User.Username, err)
			}
			if (p.Leaf != "") != c.leaf {
				t.Errorf("%s was given the leaf: %v, want %v", c.who.User.Username, p.Leaf != "", c.leaf)
			}
			if p.Checkpoint == "" {
				t.Errorf("%s: the proof carries no checkpoint", c.who.User.Username)
			}
		}

		p, err := d.Svc.InclusionProof(d.Ctx, bob, idx, 0)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		e, err := bundle.VerifyEntry(b, d.LedgerVKey)
		if err != nil {
			t.Fatalf("bob's proof does not verify: %v\n%s", err, b)
		}
		if e.Leaf.Action != "memo.sign" || e.Leaf.Memo != m.ID || !ledger.CheckActorCommitment(e.Leaf.ActorCommit, bob.User.ID, nonceOf(t, theirs)) {
			t.Errorf("bob's proof is not of his signature: %+v", e.Leaf)
		}

		if proofs := proofEvents(t, d.Harness, bob, m.ID); proofs != 4 { // bob twice, alice, the office; not the auditor's, who saw no memo
			t.Errorf("%d memo.proof events in the history, want 4", proofs)
		}
	})
}

func nonceOf(t *testing.T, m *service.Memo) []byte {
	t.Helper()
	if m.Authorship == nil {
		t.Fatal("no authorship in the author's view")
	}
	n, err := hex.DecodeString(m.Authorship.Nonce)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestMailCollectedApart: someone who is both a member and a principal
// acts as a principal (a comment: a leaf naming them) while an invitation
// waits in their mailbox. Collecting it writes rows under their author-index
// tag; those must not share a PostgreSQL transaction (xmin) with any leaf
// naming a person, or whoever holds the database could tie the tag, and so
// every memo they wrote, to them.
func TestMailCollectedApart(t *testing.T) {
	st := storetest.OpenPostgres(t)
	d := servicetest.NewDeployment(t, st)
	alice := d.Member("alice")
	pm := d.Create("pm", true, "member", "principal")
	if _, err := d.Svc.SetDistribution(d.Ctx, d.Admin, service.Distribution{Usernames: []string{"p1", "p2", "pm"}}); err != nil {
		t.Fatal(err)
	}
	d.Confirm(d.Office, pm)
	if _, err := d.Svc.CreateMemo(d.Ctx, pm, service.MemoInput{Title: "theirs", Body: "b", Marking: "UNCLASSIFIED"}); err != nil {
		t.Fatal(err)
	}
	draft, err := d.Svc.CreateMemo(d.Ctx, alice, service.MemoInput{Title: "a draft", Body: "b", Marking: "UNCLASSIFIED"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Svc.InviteSigners(d.Ctx, alice, draft.ID, []string{"pm"}); err != nil {
		t.Fatal(err)
	}
	other, _ := d.Submitted(alice, "another")
	if _, err := d.Svc.Comment(d.Ctx, pm, other.ID, "noted"); err != nil {
		t.Fatal(err)
	}
	// The invitation was collected, in some transaction.
	if m, err := d.Svc.GetMemo(d.Ctx, pm, draft.ID); err != nil || m.Viewer != "signer" {
		t.Fatalf("the invitation: %v", err)
	}

	db := st.(*sqlstore.DB).Raw()
	index := map[string]bool{} // transactions that wrote author-index rows
	rows, err := db.QueryContext(d.Ctx, `SELECT xmin::text FROM author_index`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var x string
		if err := rows.Scan(&x); err != nil {
			t.Fatal(err)
		}
		index[x] = true
	}
	rows.Close()
	leaves, err := db.QueryContext(d.Ctx, `SELECT xmin::text, data FROM ledger_leaves`)
	if err != nil {
		t.Fatal(err)
	}
	defer leaves.Close()
	for leaves.Next() {
		var x string
		var data []byte
		if err := leaves.Scan(&x, &data); err != nil {
			t.Fatal(err)
		}
		l, err := ledger.DecodeLeaf(data)
		if err != nil {
			t.Fatal(err)
		}
		if l.Actor != "" && index[x] {
			t.Errorf("transaction %s wrote author-index rows beside a leaf naming %s: %s", x, l.Actor, data)
		}
	}
}

// TestLeafHashesHideReads: a principal may not see who else read a memo,
// but inclusion proofs hand every signed-in user leaf hashes. A read's
// leaf is otherwise made of guessable fields (the time, the memo, the
// reader), so each carries a random salt: the hash of the read as it would
// be without one, at the very time it happened, is not the hash the proof
// gives.
func TestLeafHashesHideReads(t *testing.T) {
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t))
	alice := d.Member("alice")
	p1, p2 := d.Principals[0], d.Principals[1]
	m, _ := d.Submitted(alice, "a memo")
	read, err := d.Svc.GetMemo(d.Ctx, p1, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	own := read.Events[len(read.Events)-1] // the reader's own read, last
	if own.Action != "memo.read" {
		t.Fatalf("the last event is %+v", own)
	}
	d.Submitted(alice, "another memo") // the ledger grows past the read's sibling
	p, err := d.Svc.InclusionProof(d.Ctx, p2, own.Index^1, 0)
	if err != nil {
		t.Fatal(err)
	}
	guess, err := ledger.Leaf{Version: ledger.LeafVersion, Time: own.At, Action: "memo.read", Memo: m.ID, Actor: p1.User.ID, Role: ledger.RolePrincipal}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if p.Leaf != "" || len(p.Hashes) == 0 {
		t.Fatalf("p2's proof: %+v", p)
	}
	if tlog.RecordHash(guess).String() == p.Hashes[0] {
		t.Errorf("p1's read was recovered from its hash: %s", guess)
	}
}

// TestSessionTimesAreCoarse: a session row keeps its deadlines to the
// minute, so the database does not record the moment of each sign-in and
// request beside the memos' activity.
func TestSessionTimesAreCoarse(t *testing.T) {
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t))
	d.Clock.Advance(1234567 * time.Microsecond)
	d.Member("alice")
	rows, err := d.Store.(*sqlstore.DB).Raw().QueryContext(d.Ctx, `SELECT expires_at, idle_until FROM sessions`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var expires, idle int64
		if err := rows.Scan(&expires, &idle); err != nil {
			t.Fatal(err)
		}
		if expires%time.Minute.Microseconds() != 0 || idle%time.Minute.Microseconds() != 0 {
			t.Errorf("a session stored to the microsecond: expires %d, idle until %d", expires, idle)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no sessions")
	}
}

// TestSwappedPublicKeysAreCaught: someone with the database puts a key of
// theirs in place of a user's public key, or of the office's, so that what
// is wrapped to them next is wrapped to it. The user's next sign-in puts
// their own back and records it; an office member's next step refuses to go
// on beside a wrong office key; either way the node stops reporting ready.
func TestSwappedPublicKeysAreCaught(t *testing.T) {
	for _, c := range []string{"a user's box key", "the office's key"} {
		t.Run(c, func(t *testing.T) {
			d := servicetest.NewDeployment(t, storetest.OpenSQLite(t))
			alice := d.Member("alice")
			m, _ := d.Submitted(alice, "a memo")
			evil, err := vault.NewIdentity()
			if err != nil {
				t.Fatal(err)
			}
			db := d.Store.(*sqlstore.DB).Raw()
			if c == "the office's key" {
				if _, err := db.ExecContext(d.Ctx, `UPDATE settings SET value = ? WHERE name = 'office.public'`, []byte(evil.Public().Box)); err != nil {
					t.Fatal(err)
				}
				if _, err := d.Svc.GetMemo(d.Ctx, d.SignIn("office"), m.ID); err == nil {
					t.Error("the office went on beside a swapped office key")
				}
			} else {
				// The key and its anchor both: her sign-in puts her
				// keys back and anchors them anew.
				if _, err := db.ExecContext(d.Ctx, `UPDATE users SET box_public = ?, keys_anchor = -1 WHERE username = 'alice'`, evil.Public().Box); err != nil {
					t.Fatal(err)
				}
				d.SignIn("alice")
				var box string
				if err := db.QueryRowContext(d.Ctx, `SELECT box_public FROM users WHERE username = 'alice'`).Scan(&box); err != nil {
					t.Fatal(err)
				}
				if box != alice.User.BoxPublic {
					t.Errorf("alice's box key after her sign-in: %s, want hers", box)
				}
				// Keys put back are others' to wrap to once the office
				// confirms them.
				bob := d.Member("bob")
				invite := func() error {
					_, err := d.Svc.CreateMemo(d.Ctx, bob, service.MemoInput{Title: "t", Body: "b", Marking: "UNCLASSIFIED", Codrafters: []string{"alice"}})
					return err
				}
				if err := invite(); channel.ErrorCode(err) != channel.EINVALID {
					t.Errorf("inviting alice before the office confirmed her keys: %v, want refused", err)
				}
				if err := d.Svc.ConfirmKeys(d.Ctx, d.Office, "alice", service.KeyConfirmation{Fingerprint: fingerprint(t, d.Svc, d.SignIn("alice")), Principal: false}); err != nil {
					t.Fatal(err)
				}
				if err := invite(); err != nil {
					t.Errorf("inviting alice after her sign-in put her keys back and the office confirmed them: %v", err)
				}
			}
			if err := d.Svc.Ready(d.Ctx); err == nil {
				t.Error("the node stays ready")
			}
		})
	}
}

// TestMemoEntryProofIsTheMemos: the web's proof of a memo's entry is found
// only under that memo: an entry of another memo, even one of the same
// author's, is not found there, and asking records nothing.
func TestMemoEntryProofIsTheMemos(t *testing.T) {
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t))
	alice := d.Member("alice")
	m1, _ := d.Submitted(alice, "one")
	_, rc2 := d.Submitted(alice, "two")
	proofs := func() int { return proofEvents(t, d.Harness, alice, rc2.MemoID) }
	if _, err := d.Svc.MemoEntryProof(d.Ctx, alice, m1.ID, rc2.LedgerIndex); channel.ErrorCode(err) != channel.ENOTFOUND {
		t.Errorf("memo two's entry under memo one: %v", err)
	}
	if _, err := d.Svc.MemoEntryProof(d.Ctx, d.Principals[0], rc2.MemoID, rc2.LedgerIndex); channel.ErrorCode(err) != channel.ENOTFOUND {
		t.Errorf("a principal: %v", err)
	}
	if _, err := d.Svc.MemoEntryProof(d.Ctx, alice, rc2.MemoID, 1<<40); channel.ErrorCode(err) != channel.ENOTFOUND {
		t.Errorf("no such entry: %v", err)
	}
	if n := proofs(); n != 0 {
		t.Errorf("%d memo.proof events after proofs not given", n)
	}
	if p, err := d.Svc.MemoEntryProof(d.Ctx, alice, rc2.MemoID, rc2.LedgerIndex); err != nil || p.Leaf != rc2.Leaf {
		t.Fatalf("memo two's entry under memo two: %+v, %v", p, err)
	}
	if n := proofs(); n != 1 {
		t.Errorf("%d memo.proof events after one proof given", n)
	}
}

// proofEvents counts the memo.proof events in memoID's history as a sees it.
func proofEvents(t *testing.T, h *servicetest.Harness, a *service.Actor, memoID string) int {
	t.Helper()
	m, err := h.Svc.GetMemo(h.Ctx, a, memoID)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range m.Events {
		if ev.Action == "memo.proof" {
			n++
		}
	}
	return n
}

// liveLedgerSize is the ledger's size as any signed-in user can read it:
// a consistency proof is given up to the live size, not the latest
// checkpoint's.
func liveLedgerSize(t *testing.T, d *servicetest.Deployment, who *service.Actor) int64 {
	t.Helper()
	lo, hi := int64(1), int64(1)<<20
	for lo < hi { // the largest n with a proof from 1 to n
		mid := (lo + hi + 1) / 2
		if _, err := d.Svc.ConsistencyProof(d.Ctx, who, 1, mid); err == nil {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// checkpointedSizes lists the sizes in (from, to] at which an inclusion
// proof of entry 0 comes with a stored checkpoint: the ledger signs one
// inside each submission's transaction.
func checkpointedSizes(t *testing.T, d *servicetest.Deployment, who *service.Actor, from, to int64) []int64 {
	t.Helper()
	var out []int64
	for s := from + 1; s <= to; s++ {
		p, err := d.Svc.InclusionProof(d.Ctx, who, 0, s)
		if err != nil {
			t.Fatalf("proof of entry 0 in a tree of %d: %v", s, err)
		}
		if p.Checkpoint != "" {
			out = append(out, s)
		}
	}
	return out
}

// TestMembersCannotTellWhenMemosAreSubmitted: the metrics, which tell when
// memos are submitted, go only to the bearer of the metrics token. A
// submission signs a checkpoint in its own transaction, and a drafted or
// signed memo does not; any member can read the live ledger size (a
// consistency proof is served up to it), so a proof that carried the
// checkpoint stored at any size would let her tell, by polling, a
// submission from other steps, and when. A proof carries the checkpoint of
// the latest size (signed then if need be) and none of an earlier one.
func TestMembersCannotTellWhenMemosAreSubmitted(t *testing.T) {
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t))
	bob, carol := d.Member("bob"), d.Member("carol")

	s0 := liveLedgerSize(t, d, carol)
	d.Clock.Advance(time.Hour)
	m, err := d.Svc.CreateMemo(d.Ctx, bob, service.MemoInput{Title: "t", Body: "b", Marking: "UNCLASSIFIED"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Svc.Sign(d.Ctx, bob, m.ID, m.Revision); err != nil {
		t.Fatal(err)
	}
	s1 := liveLedgerSize(t, d, carol)
	drafted := checkpointedSizes(t, d, carol, s0, s1)

	d.Clock.Advance(time.Hour)
	if _, err := d.Svc.Submit(d.Ctx, bob, m.ID, m.Revision); err != nil {
		t.Fatal(err)
	}
	s2 := liveLedgerSize(t, d, carol)
	submitted := checkpointedSizes(t, d, carol, s1, s2)

	t.Logf("carol sees the ledger grow %d -> %d (draft and signature) -> %d (submission); checkpoints stored in between: %v, then %v",
		s0, s1, s2, drafted, submitted)
	if len(drafted) != len(submitted) {
		t.Errorf("carol tells a submission from other steps: no stored checkpoint after the draft and signature (%v), one after the submission (%v)", drafted, submitted)
	}
}

// TestSignInsOfAMemberWithAnotherRoleAreNotNamed: a member's sign-ins are
// behind a commitment, because next to a memo's activity they would hint
// at who wrote it; an account that is a member and holds another role too
// (here a principal) files like any member, and its sign-ins are hidden
// alike: an auditor reading the ledger does not find it named just before
// a memo's creation by a hidden author.
func TestSignInsOfAMemberWithAnotherRoleAreNotNamed(t *testing.T) {
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t))
	auditor := d.Create("auditor", false, "auditor")
	pm := d.Create("pm", true, "member", "principal")
	if _, err := d.Svc.SetDistribution(d.Ctx, d.Admin, service.Distribution{Usernames: []string{"p1", "p2", "pm"}}); err != nil {
		t.Fatal(err)
	}
	d.Confirm(d.Office, pm)

	d.Clock.Advance(time.Hour)
	pm = d.SignIn("pm")
	d.Clock.Advance(2 * time.Second)
	m, err := d.Svc.CreateMemo(d.Ctx, pm, service.MemoInput{Title: "my dissent", Body: "b", Marking: "UNCLASSIFIED"})
	if err != nil {
		t.Fatal(err)
	}

	// The auditor pages through the ledger by inclusion proofs.
	st, err := d.Svc.LedgerStatus(d.Ctx, auditor)
	if err != nil {
		t.Fatal(err)
	}
	size := st.Size
	var leaves []ledger.Leaf
	for i := int64(0); i < size; i++ {
		p, err := d.Svc.InclusionProof(d.Ctx, auditor, i, size)
		if err != nil {
			t.Fatalf("proof %d of %d: %v", i, size, err)
		}
		l, err := ledger.DecodeLeaf([]byte(p.Leaf))
		if err != nil {
			t.Fatal(err)
		}
		leaves = append(leaves, l)
	}
	for i, l := range leaves {
		if l.Action != "memo.create" || l.Memo != m.ID {
			continue
		}
		if l.Actor != "" {
			t.Fatalf("the memo's creation names its author: %+v", l)
		}
		// The entries just before it.
		for j := max(0, i-3); j < i; j++ {
			p := leaves[j]
			if strings.HasPrefix(p.Action, "session.") && p.Actor == pm.User.ID {
				t.Errorf("entry %d, %s before the memo's creation, names its author in the clear: %s by %s (role %s); the creation: %s by a hidden %s",
					j, l.Time.Sub(p.Time), p.Action, p.Actor, p.Role, l.Action, l.Role)
			}
		}
	}
	if !pm.Has(channel.RoleMember) {
		t.Fatal("set-up: pm is not a member")
	}
}

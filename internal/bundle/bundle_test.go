package bundle_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/bundle"
	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

func exported(t *testing.T) (*bundle.Bundle, []byte, string) {
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t))
	alice, bob := d.Member("alice"), d.Member("bob")
	m, err := d.Svc.CreateMemo(d.Ctx, alice, service.MemoInput{Title: "A policy", Body: "We dissent.", Marking: "UNCLASSIFIED"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Svc.InviteSigners(d.Ctx, alice, m.ID, []string{"bob"}); err != nil {
		t.Fatal(err)
	}
	for _, a := range []*service.Actor{alice, bob} {
		if _, err := d.Svc.Sign(d.Ctx, a, m.ID, 1); err != nil {
			t.Fatal(err)
		}
	}
	rc, err := d.Svc.Submit(d.Ctx, alice, m.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	// More events after the submission: the proof still holds for its checkpoint.
	if _, err := d.Svc.Acknowledge(d.Ctx, d.Office, m.ID); err != nil {
		t.Fatal(err)
	}
	bd, err := d.Svc.ExportMemo(d.Ctx, bob, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(rc)
	if err != nil {
		t.Fatal(err)
	}
	return bd, raw, d.LedgerVKey
}

func TestVerify(t *testing.T) {
	bd, receipt, vkey := exported(t)
	rep, err := bundle.Verify(bd, vkey)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rep.Signers, ",") != "alice,bob" || rep.TreeSize <= rep.LedgerIndex {
		t.Fatalf("report %+v", rep)
	}
	if strings.Join(rep.Anchored, ",") != "alice,bob" {
		t.Fatalf("the ledger anchors the keys of %v, want alice's and bob's", rep.Anchored)
	}
	if _, err := bundle.VerifyReceipt(receipt, vkey); err != nil {
		t.Fatalf("receipt: %v", err)
	}
	_, otherKey, _ := ledger.GenerateKey("dissent.test")

	for _, c := range []struct {
		name   string
		change func(b *bundle.Bundle)
		key    string
	}{
		{"an edited body", func(b *bundle.Bundle) { b.Body += " Not." }, vkey},
		{"another marking", func(b *bundle.Bundle) { b.Marking = "SENSITIVE BUT UNCLASSIFIED" }, vkey},
		{"a signature moved to another signer", func(b *bundle.Bundle) { b.Signatures[1].Signature = b.Signatures[0].Signature }, vkey},
		{"a signer renamed", func(b *bundle.Bundle) { b.Signatures[1].Username = "mallory" }, vkey},
		{"another revision claimed", func(b *bundle.Bundle) { b.Revision = 2 }, vkey},
		{"a leaf from elsewhere", func(b *bundle.Bundle) {
			b.Submission.Leaf = strings.Replace(b.Submission.Leaf, "memo.submit", "memo.read", 1)
		}, vkey},
		{"another index", func(b *bundle.Bundle) { b.Submission.Index-- }, vkey},
		{"a broken proof", func(b *bundle.Bundle) { b.Submission.Proof[0] = b.Submission.Proof[len(b.Submission.Proof)-1] + "" }, vkey},
		{"a checkpoint signed by another key", func(b *bundle.Bundle) {}, otherKey},
		// A signer's key is anchored for one account under one name.
		{"a key anchor swapped between signers", func(b *bundle.Bundle) {
			b.Signatures[0].Anchor, b.Signatures[1].Anchor = b.Signatures[1].Anchor, b.Signatures[0].Anchor
		}, vkey},
		{"a key anchor for another account", func(b *bundle.Bundle) { b.Signatures[1].Anchor.UserID = b.Signatures[0].Anchor.UserID }, vkey},
		{"a key anchor with another box key", func(b *bundle.Bundle) { b.Signatures[1].Anchor.BoxKey = b.Signatures[0].Anchor.BoxKey }, vkey},
		{"a key anchor at another index", func(b *bundle.Bundle) { b.Signatures[1].Anchor.Index++ }, vkey},
		{"a key anchor's leaf from elsewhere", func(b *bundle.Bundle) { b.Signatures[1].Anchor.Leaf = b.Submission.Leaf }, vkey},
		// One name twice would let an anchored signature vouch for an
		// unanchored one of the same name.
		{"a signer twice", func(b *bundle.Bundle) {
			b.Signatures = append(b.Signatures, b.Signatures[1])
			b.Signatures[2].Anchor = nil
		}, vkey},
	} {
		t.Run(c.name+" fails", func(t *testing.T) {
			var b bundle.Bundle
			raw, _ := json.Marshal(bd)
			_ = json.Unmarshal(raw, &b)
			c.change(&b)
			if _, err := bundle.Verify(&b, c.key); err == nil {
				t.Fatal("verified")
			}
		})
	}
	t.Run("without its key anchors it verifies, and says so", func(t *testing.T) {
		var b bundle.Bundle
		raw, _ := json.Marshal(bd)
		_ = json.Unmarshal(raw, &b)
		b.Signatures[0].Anchor = nil
		rep, err := bundle.Verify(&b, vkey)
		if err != nil || strings.Join(rep.Anchored, ",") != "bob" {
			t.Fatalf("alice's anchor left out: %+v, %v; want only bob's key anchored", rep, err)
		}
	})
	t.Run("version 1 parses without anchors, not with them", func(t *testing.T) {
		b := *bd
		b.Format = "dissent-memo-bundle-v1"
		raw, _ := json.Marshal(b)
		if _, err := bundle.Parse(raw); err == nil {
			t.Error("a version 1 bundle with key anchors parsed")
		}
		b.Signatures = slices.Clone(b.Signatures)
		for i := range b.Signatures {
			b.Signatures[i].Anchor = nil
		}
		raw, _ = json.Marshal(b)
		if _, err := bundle.Parse(raw); err != nil {
			t.Errorf("a version 1 bundle: %v", err)
		}
	})
	t.Run("a tampered receipt fails", func(t *testing.T) {
		bad := strings.Replace(string(receipt), `"revision":1`, `"revision":2`, 1)
		if _, err := bundle.VerifyReceipt([]byte(bad), vkey); err == nil {
			t.Fatal("verified")
		}
	})
}

// TestVerifyReceiptTime checks that a receipt is shown as submitted only at
// the time the ledger recorded: an author cannot backdate a filing, nor
// make a late one look on time, by editing submitted_at.
func TestVerifyReceiptTime(t *testing.T) {
	_, raw, vkey := exported(t)
	var rc bundle.Receipt
	if err := json.Unmarshal(raw, &rc); err != nil {
		t.Fatal(err)
	}
	rep, err := bundle.VerifyReceipt(raw, vkey)
	if err != nil || !rep.SubmittedAt.Equal(rc.SubmittedAt) {
		t.Fatalf("the genuine receipt: %+v, %v", rep, err)
	}
	for _, c := range []struct {
		name string
		at   time.Time
	}{
		{"backdated by a day", rc.SubmittedAt.AddDate(0, 0, -1)},
		{"two seconds later", rc.SubmittedAt.Add(2 * time.Second)},
		{"two seconds earlier", rc.SubmittedAt.Add(-2 * time.Second)},
		{"left out", time.Time{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			edited := rc
			edited.SubmittedAt = c.at
			b, err := json.Marshal(edited)
			if err != nil {
				t.Fatal(err)
			}
			if rep, err := bundle.VerifyReceipt(b, vkey); !errors.Is(err, bundle.ErrInvalid) {
				t.Fatalf("verified, submitted %s: %+v", c.at, rep)
			}
		})
	}
	// A receipt issued before its time was the leaf's own reading of the
	// clock lies microseconds from it, and still verifies, with the leaf's.
	older := rc
	older.SubmittedAt = rc.SubmittedAt.Add(-137 * time.Microsecond)
	b, err := json.Marshal(older)
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := bundle.VerifyReceipt(b, vkey); err != nil || !rep.SubmittedAt.Equal(rc.SubmittedAt) {
		t.Fatalf("a receipt 137 µs off its leaf: %+v, %v", rep, err)
	}
	// The same instant written in the office's zone is the same time.
	edited := rc
	edited.SubmittedAt = rc.SubmittedAt.In(servicetest.Office)
	if b, _ := json.Marshal(edited); !bytes.Contains(b, []byte("-05:00")) && !bytes.Contains(b, []byte("-04:00")) {
		t.Fatalf("not written in New York's zone: %s", b)
	} else if _, err := bundle.VerifyReceipt(b, vkey); err != nil {
		t.Fatalf("the time in another zone: %v", err)
	}
}

// TestVerifyRefusesTrailingData checks that a file that verifies is checked
// to its last byte: nothing the verifier did not read may ride along with
// a genuine receipt or bundle.
func TestVerifyRefusesTrailingData(t *testing.T) {
	bd, receipt, vkey := exported(t)
	raw, err := json.Marshal(bd)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bundle.VerifyReceipt(append(slices.Clone(receipt), "\n\t \n"...), vkey); err != nil {
		t.Errorf("a receipt saved with a final newline: %v", err)
	}
	if _, err := bundle.Parse(append(slices.Clone(raw), '\n')); err != nil {
		t.Errorf("a bundle saved with a final newline: %v", err)
	}
	for _, tail := range []string{` {"junk":1}`, ` trailing`, `}`, `]`, `{`, ` "memo_id"`, `0`} {
		if _, err := bundle.VerifyReceipt(append(slices.Clone(receipt), tail...), vkey); !errors.Is(err, bundle.ErrInvalid) {
			t.Errorf("a receipt followed by %q: %v", tail, err)
		}
		if _, err := bundle.Parse(append(slices.Clone(raw), tail...)); !errors.Is(err, bundle.ErrInvalid) {
			t.Errorf("a bundle followed by %q: %v", tail, err)
		}
	}
}

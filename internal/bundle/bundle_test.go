package bundle_test

import (
	"encoding/json"
	"strings"
	"testing"

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
	t.Run("a tampered receipt fails", func(t *testing.T) {
		bad := strings.Replace(string(receipt), `"revision":1`, `"revision":2`, 1)
		if _, err := bundle.VerifyReceipt([]byte(bad), vkey); err == nil {
			t.Fatal("verified")
		}
	})
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"format":"dissent-memo-bundle-v1","memo_id":"x","revision":1,"signatures":[]}`))
	f.Add([]byte(`{"format":"other"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		bd, err := bundle.Parse(b)
		if err != nil {
			return
		}
		// Verify never panics on whatever parsed.
		_, _ = bundle.Verify(bd, "dissent.test+00000000+AAAA")
		_, _ = bundle.VerifyReceipt(b, "dissent.test+00000000+AAAA")
	})
}

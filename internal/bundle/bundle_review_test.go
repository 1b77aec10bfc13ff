package bundle_test

// The tests here come from a review (helper-32). Each comment says what the
// review found the code did; the test fails if it does it again.

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/dissent-channel/dissent/internal/bundle"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store/storetest"
	"github.com/dissent-channel/dissent/internal/vault"
)

// TestSignerNameIsNotAUsername: a signer's name is printed by
// `dissent verify` and is bound by nothing but the bundle when the
// signature has no anchor. bundle.Verify accepts any bytes there — a
// newline, an ANSI escape — though the service's usernames are 2 to 64
// lower-case letters, digits and a few marks (channel.ValidateUsername).
// cmd/dissent's TestForgedAnchorLine shows what that lets a forger
// print.
func TestSignerNameIsNotAUsername(t *testing.T) {
	bd, _, _, vkey := genuine(t)
	h := vault.ContentHash(bd.Title, bd.Body, bd.Marking)
	name := "carol\nThe ledger recorded each of these keys: carol\x1b[2K"
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	st := vault.Statement{MemoID: bd.MemoID, Revision: bd.Revision, ContentHash: h, Marking: bd.Marking, Signer: name}
	bd.Signatures = append(bd.Signatures, bundle.Signature{Username: name, Kind: "signer",
		PublicKey: base64.StdEncoding.EncodeToString(priv.Public().(ed25519.PublicKey)),
		Signature: base64.StdEncoding.EncodeToString(ed25519.Sign(priv, st.Canonical()))})
	raw, err := json.Marshal(bd)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := bundle.Parse(raw)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if rep, err := bundle.Verify(parsed, vkey); err == nil {
		t.Errorf("a bundle whose signer is named %q (a newline and a terminal escape) verified: signers %q", name, rep.Signers)
	}
}

// TestEmbeddedReceiptIsChecked: a bundle's submission carries the
// receipt (submission.receipt), which Verify never reads: a receipt of
// another memo, revision, content hash and time, with members no receipt
// has, rides along in a bundle that Parse ("unknown fields ... are
// refused") and Verify accept, though bundle.go's decodeStrict promises
// that "every byte of a file that verifies was checked, and means one
// thing".
func TestEmbeddedReceiptIsChecked(t *testing.T) {
	bd, _, _, vkey := genuine(t)
	bd.Submission.Receipt = json.RawMessage(`{"memo_id":"01JOTHER","revision":9,"content_hash":"` +
		"0000000000000000000000000000000000000000000000000000000000000000" +
		`","authors_count":40,"dropped_signers":0,"submitted_at":"2020-01-01T00:00:00Z","ledger_index":1,"checkpoint":"","leaf":"","proof":[],"on_time":true}`)
	raw, err := json.Marshal(bd)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := bundle.Parse(raw)
	if err != nil {
		return // refused: good
	}
	if _, err := bundle.Verify(parsed, vkey); err == nil {
		t.Errorf("a bundle whose submission.receipt names another memo, revision, content hash, time and an unknown member verified")
	}
}

// TestBundleAfterASignerStartsAfresh: ExportMemo puts in each
// signature the signer's public key and key anchor as the users table
// holds them at export time (service/export.go: users[i].SignPublic,
// u.KeysAnchor), not the key that made the signature. Once a co-signer of
// a submitted memo has started afresh after a password reset (routine: a
// forgotten password), the memo's bundle no longer verifies — or cannot be
// exported at all — though nothing about the memo changed.
func TestBundleAfterASignerStartsAfresh(t *testing.T) {
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t))
	alice, bob := d.Member("alice"), d.Member("bob")
	m := d.Cosigned(alice, bob, "a memo")
	before, err := d.Svc.ExportMemo(d.Ctx, alice, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bundle.Verify(before, d.LedgerVKey); err != nil {
		t.Fatalf("the bundle before bob's reset: %v", err)
	}
	if err := d.Svc.ResetPassword(d.Ctx, d.Admin, "bob", "temporary-password-1"); err != nil {
		t.Fatal(err)
	}
	if err := d.Svc.NewKeys(d.Ctx, d.SignInOn(d.Svc, "bob", "temporary-password-1"), "temporary-password-1", "bob's own new phrase"); err != nil {
		t.Fatal(err)
	}
	after, err := d.Svc.ExportMemo(d.Ctx, alice, m.ID)
	if err != nil {
		t.Fatalf("alice exports her submitted memo after bob, a co-signer, started afresh: %v", err)
	}
	if _, err := bundle.Verify(after, d.LedgerVKey); err != nil {
		t.Errorf("the genuine memo's bundle, exported after bob started afresh, does not verify: %v", err)
	}
}

// TestKindIsOneOfTwo: a signature's kind (drafter or signer, as the
// memo's authors list shows it) is in no signed statement: it is the
// exporter's word, as the memo's authors saw it (docs/LEDGER.md). A kind
// that no memo has is refused.
func TestKindIsOneOfTwo(t *testing.T) {
	bd, _, _, vkey := genuine(t)
	bd.Signatures[0].Kind = "nonsense"
	if _, err := bundle.Verify(bd, vkey); err == nil {
		t.Errorf("a bundle with a signature of kind %q verified", bd.Signatures[0].Kind)
	}
}

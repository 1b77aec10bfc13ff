package main

// The tests here come from a review (helper-32). Each comment says what the
// review found the code did; the test fails if it does it again.

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/bundle"
	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store/storetest"
	"github.com/dissent-channel/dissent/internal/vault"
)

// forgedBundle is a memo "signed" by name with a fresh key: no anchor, no
// submission, nothing the ledger vouches for.
func forgedBundle(t *testing.T, memoID, name string) bundle.Bundle {
	t.Helper()
	bd := bundle.Bundle{Format: bundle.Format, MemoID: memoID, Revision: 1, Title: "Forged", Body: "Never written by bob.",
		Marking: "UNCLASSIFIED", State: "submitted", ExportedAt: time.Date(2026, 3, 3, 9, 0, 0, 0, time.UTC)}
	h := vault.ContentHash(bd.Title, bd.Body, bd.Marking)
	bd.ContentHash = hex.EncodeToString(h[:])
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	st := vault.Statement{MemoID: bd.MemoID, Revision: bd.Revision, ContentHash: h, Marking: bd.Marking, Signer: name}
	bd.Signatures = []bundle.Signature{{Username: name, Kind: "drafter",
		PublicKey: base64.StdEncoding.EncodeToString(priv.Public().(ed25519.PublicKey)),
		Signature: base64.StdEncoding.EncodeToString(ed25519.Sign(priv, st.Canonical()))}}
	return bd
}

// TestForgedAnchorLine: `dissent verify` prints signer names (and
// an unsubmitted bundle's memo id) as the bundle gives them. A forger
// with a fresh key names the signer "bob\n<the line verify prints for
// anchored keys>: bob" followed by an escape that hides what comes after
// (ESC[8m, conceal): the terminal then shows bob's key as recorded by the
// ledger, and neither "Only the bundle says whose keys these are" nor
// "Not submitted", for a memo bob never saw.
func TestForgedAnchorLine(t *testing.T) {
	_, vkey, err := ledger.GenerateKey("dissent.test")
	if err != nil {
		t.Fatal(err)
	}
	fake := "The ledger recorded each of these keys, when it was made or put back, as the key of the account of that name: bob"
	name := "bob\n" + fake + "\x1b[8m"
	dir := t.TempDir()
	file := writeJSON(t, dir, "memo.json", forgedBundle(t, "k6lc4yu4alrm3nzeptdfyz7xqe", name))
	code, out := runCLI(t, "", "verify", "--key", vkey, file)
	anchoredLine := false
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "The ledger recorded each of these keys") {
			anchoredLine = true
		}
	}
	if code == 0 && anchoredLine {
		t.Errorf("a bundle with no key anchor, signed with a fresh key, made dissent verify print (exit 0) a line saying the ledger recorded bob's key, and a terminal escape that hides the rest:\n%q", out)
	}
}

// TestWitnessIgnoredForBundle: `--witness` is for an entry's
// proof; with a receipt or bundle dissent verify refuses it
// (TestVerifyWithWitness). The check looks for the text `"hashes"` anywhere
// in the file, and a bundle goes to the bundle path first, so a bundle
// carrying that text — here a signature's unsigned "kind" — verifies with
// exit status 0 while the witness asked for was never checked.
func TestWitnessIgnoredForBundle(t *testing.T) {
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t))
	alice, bob := d.Member("alice"), d.Member("bob")
	m := d.Cosigned(alice, bob, "a memo")
	bd, err := d.Svc.ExportMemo(d.Ctx, alice, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	_, wvkey, err := ledger.GenerateKey("oig.example")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	plain := writeJSON(t, dir, "plain.json", bd)
	if code, out := runCLI(t, "", "verify", "--key", d.LedgerVKey, "--witness", wvkey, plain); code == 0 {
		t.Fatalf("the genuine bundle with --witness was not refused: %s", out)
	}
	bd.Signatures[0].Kind = "hashes"
	marked := writeJSON(t, dir, "marked.json", bd)
	if code, out := runCLI(t, "", "verify", "--key", d.LedgerVKey, "--witness", wvkey, marked); code == 0 {
		t.Errorf("a bundle with the text \"hashes\" in it verified with --witness %s, which never cosigned anything (exit 0):\n%s", wvkey, out)
	}
}

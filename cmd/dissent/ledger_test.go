package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/bundle"
	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/ledger/ledgertest"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// TestWitnessKeepsState runs `dissent ledger cosign --state` as a witness
// would over time: it cosigns the first checkpoint it sees, then a later
// one with a consistency proof from the last, and refuses a fork of the
// same size and a rollback, keeping the last checkpoint it did cosign.
func TestWitnessKeepsState(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	skey, vkey, err := ledger.GenerateKey("dissent.test")
	if err != nil {
		t.Fatal(err)
	}
	wskey, _, err := ledger.GenerateKey("witness.test")
	if err != nil {
		t.Fatal(err)
	}
	file := func(name string, b []byte) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	honest, fork := new(ledger.MemStorage), new(ledger.MemStorage)
	for i := range 7 {
		forkLeaf := ledgertest.Leaf(i)
		if i == 1 {
			forkLeaf = ledgertest.Leaf(100) // the fork's history differs from here
		}
		if _, err := ledger.Append(ctx, honest, ledgertest.Leaf(i)); err != nil {
			t.Fatal(err)
		}
		if _, err := ledger.Append(ctx, fork, forkLeaf); err != nil {
			t.Fatal(err)
		}
	}
	sign := func(name string, st ledger.Storage, size int64) string {
		t.Helper()
		root, err := ledger.TreeHash(ctx, st, size)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := ledger.SignCheckpoint(skey, "dissent.test", size, root)
		if err != nil {
			t.Fatal(err)
		}
		return file(name, msg)
	}
	at3, at7, forked7 := sign("at3", honest, 3), sign("at7", honest, 7), sign("forked7", fork, 7)
	p, err := ledger.ProveConsistency(ctx, honest, 3, 7)
	if err != nil {
		t.Fatal(err)
	}
	var hashes []string
	for _, h := range p {
		hashes = append(hashes, h.String())
	}
	b, err := json.Marshal(map[string]any{"hashes": hashes})
	if err != nil {
		t.Fatal(err)
	}
	proof := file("proof-3-7.json", b)
	pub, key := file("ledger.pub", []byte(vkey+"\n")), file("witness.key", []byte(wskey+"\n"))
	state := filepath.Join(dir, "last")
	cosign := func(checkpoint string, extra ...string) (int, string) {
		return runCLI(t, "", append(append([]string{"ledger", "cosign", "--key", key, "--log-key", pub, "--state", state}, extra...), checkpoint)...)
	}
	kept := func() string {
		t.Helper()
		b, err := os.ReadFile(state)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	read := func(p string) string {
		b, _ := os.ReadFile(p)
		return string(b)
	}

	if code, out := cosign(at3); code != 0 || !strings.Contains(out, "— witness.test ") {
		t.Fatalf("the first checkpoint: %d\n%s", code, out)
	}
	if code, out := cosign(at7); code == 0 {
		t.Fatalf("a later checkpoint without a proof was cosigned:\n%s", out)
	}
	if code, out := cosign(at7, "--proof", proof); code != 0 {
		t.Fatalf("a later checkpoint with its proof: %d\n%s", code, out)
	}
	if kept() != read(at7) {
		t.Fatalf("the witness kept\n%s\nwant the checkpoint of 7", kept())
	}
	for name, cp := range map[string]string{"a fork of the same size": forked7, "a rollback": at3} {
		if code, out := cosign(cp); code == 0 || !strings.Contains(out, "does not extend") {
			t.Errorf("%s: %d\n%s", name, code, out)
		}
	}
	if kept() != read(at7) {
		t.Fatal("a refused checkpoint replaced the witness's last")
	}
}

// TestAuthorProvesSubmission: the memo's view gives its author — and only
// its author — the user id and nonce behind their commitments in the
// ledger, and `dissent verify --user-id --nonce` checks them against the
// receipt's submission entry, offline: right for the one who submitted,
// refused for anyone else's id or a wrong nonce.
func TestAuthorProvesSubmission(t *testing.T) {
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t))
	alice, bob := d.Member("alice"), d.Member("bob")
	m, rc := d.Submitted(alice, "a memo")
	mine, err := d.Svc.GetMemo(d.Ctx, alice, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if mine.Authorship == nil || mine.Authorship.UserID != alice.User.ID {
		t.Fatalf("the author's view: authorship %+v", mine.Authorship)
	}
	theirs, err := d.Svc.GetMemo(d.Ctx, d.Principals[0], m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if theirs.Authorship != nil {
		t.Fatalf("a principal was shown the author's nonce: %+v", theirs.Authorship)
	}

	dir := t.TempDir()
	receipt, pub := writeJSON(t, dir, "receipt.json", rc), filepath.Join(dir, "ledger.pub")
	if err := os.WriteFile(pub, []byte(d.LedgerVKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	verify := func(id, nonce string) (int, string) {
		return runCLI(t, "", "verify", "--key", pub, "--user-id", id, "--nonce", nonce, receipt)
	}
	if code, out := verify(alice.User.ID, mine.Authorship.Nonce); code != 0 || !strings.Contains(out, "they submitted it") {
		t.Fatalf("the author's proof: %d\n%s", code, out)
	}
	other := strings.Repeat("00", ledger.ActorNonceSize)
	for name, c := range map[string][2]string{
		"someone else's id": {bob.User.ID, mine.Authorship.Nonce},
		"a wrong nonce":     {alice.User.ID, other},
	} {
		if code, out := verify(c[0], c[1]); code == 0 || !strings.Contains(out, "does NOT commit") {
			t.Errorf("%s: %d\n%s", name, code, out)
		}
	}
	if code, out := verify(alice.User.ID, "not hex"); code == 0 || !strings.Contains(out, "hex bytes") {
		t.Errorf("a malformed nonce: %d\n%s", code, out)
	}
}

// TestCosignerProvesSignature: a co-signer saves the proof of their
// memo.sign entry (the leaf and the latest checkpoint come with it) and
// `dissent verify --user-id --nonce PROOF.json` checks, offline, that the
// entry is in the signed ledger and commits to them; the drafter's id, or
// a proof without the leaf (what a principal gets), is refused.
func TestCosignerProvesSignature(t *testing.T) {
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t))
	alice, bob := d.Member("alice"), d.Member("bob")
	m := d.Cosigned(alice, bob, "a memo")
	view := func(a *service.Actor) *service.Memo {
		v, err := d.Svc.GetMemo(d.Ctx, a, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	bobs, alices := view(bob), view(alice)
	idx := d.EntryIndex(bobs, "memo.sign", "bob")
	dir := t.TempDir()
	save := func(a *service.Actor) string {
		p, err := d.Svc.InclusionProof(d.Ctx, a, idx, 0)
		if err != nil {
			t.Fatal(err)
		}
		return writeJSON(t, dir, a.User.Username+"-proof.json", p)
	}
	pub := filepath.Join(dir, "ledger.pub")
	if err := os.WriteFile(pub, []byte(d.LedgerVKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	proof := save(bob)
	verify := func(file string, idNonce ...string) (int, string) {
		args := []string{"verify", "--key", pub}
		if len(idNonce) == 2 {
			args = append(args, "--user-id", idNonce[0], "--nonce", idNonce[1])
		}
		return runCLI(t, "", append(args, file)...)
	}
	code, out := verify(proof, bob.User.ID, bobs.Authorship.Nonce)
	if code != 0 || !strings.Contains(out, "It records memo.sign of memo "+m.ID) || !strings.Contains(out, "commits to user "+bob.User.ID+": the step was theirs") {
		t.Fatalf("the co-signer's proof: %d\n%s", code, out)
	}
	for name, c := range map[string][2]string{
		"the drafter's id and nonce": {alice.User.ID, alices.Authorship.Nonce},
		"the drafter's id":           {alice.User.ID, bobs.Authorship.Nonce},
	} {
		if code, out := verify(proof, c[0], c[1]); code == 0 || !strings.Contains(out, "does NOT commit") {
			t.Errorf("%s: %d\n%s", name, code, out)
		}
	}
	if code, out := verify(save(d.Principals[0])); code == 0 || !strings.Contains(out, "carries no leaf") {
		t.Errorf("a principal's proof, without the leaf: %d\n%s", code, out)
	}
	b, err := os.ReadFile(proof)
	if err != nil {
		t.Fatal(err)
	}
	tampered := filepath.Join(dir, "tampered.json")
	if err := os.WriteFile(tampered, []byte(strings.Replace(string(b), `memo.sign`, `memo.unsign`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out := verify(tampered); code == 0 || !strings.Contains(out, "is not in the signed ledger") {
		t.Errorf("a proof whose leaf was changed: %d\n%s", code, out)
	}
}

// TestVerifyWithWitness: `dissent verify --witness` accepts an entry's
// proof whose checkpoint the witness cosigned (published through the
// service), and refuses one whose checkpoint it did not, and a receipt.
func TestVerifyWithWitness(t *testing.T) {
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t))
	alice, auditor := d.Member("alice"), d.Create("auditor", false, "auditor")
	_, rc := d.Submitted(alice, "a memo")
	wskey, wvkey, err := ledger.GenerateKey("oig.example")
	if err != nil {
		t.Fatal(err)
	}
	cfg := d.Svc.Config()
	cfg.Witnesses = []string{wvkey}
	svc := d.WithConfig(cfg)
	note, err := svc.LatestCheckpoint(d.Ctx, auditor)
	if err != nil {
		t.Fatal(err)
	}
	cosigned, err := ledger.Cosign(note, wskey, d.LedgerVKey)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := svc.AddCosignatures(d.Ctx, auditor, cosigned)
	if err != nil {
		t.Fatal(err)
	}
	d.Submitted(alice, "a later memo") // the latest checkpoint is not cosigned

	dir := t.TempDir()
	write := func(name string, v any) string { return writeJSON(t, dir, name, v) }
	proof := func(size int64) string {
		p, err := svc.InclusionProof(d.Ctx, alice, rc.LedgerIndex, size)
		if err != nil {
			t.Fatal(err)
		}
		return write("proof-"+strconv.FormatInt(size, 10)+".json", p)
	}
	verify := func(file string) (int, string) {
		return runCLI(t, "", "verify", "--key", d.LedgerVKey, "--witness", wvkey, file)
	}
	if code, out := verify(proof(pub.Size)); code != 0 || !strings.Contains(out, "Cosigned by the witnesses oig.example") {
		t.Fatalf("a proof in the cosigned checkpoint: %d\n%s", code, out)
	}
	if code, out := verify(proof(0)); code == 0 || !strings.Contains(out, "NOT cosigned") {
		t.Errorf("a proof in the latest checkpoint, not cosigned: %d\n%s", code, out)
	}
	if code, out := verify(write("receipt.json", rc)); code == 0 || !strings.Contains(out, "checks a ledger entry's proof") {
		t.Errorf("--witness with a receipt: %d\n%s", code, out)
	}
}

// TestVerifyBundleSaysWhoseKeys: `dissent verify` of a memo bundle says
// which signers' keys the ledger recorded as the keys of accounts of those
// names, and which only the bundle vouches for; a bundle whose anchor is
// moved to another signer does not verify.
func TestVerifyBundleSaysWhoseKeys(t *testing.T) {
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t))
	alice, bob := d.Member("alice"), d.Member("bob")
	m := d.Cosigned(alice, bob, "a memo")
	bd, err := d.Svc.ExportMemo(d.Ctx, alice, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pub := ledgerPub(t, dir, d.LedgerVKey)
	verify := func(b bundle.Bundle) (int, string) {
		t.Helper()
		return runCLI(t, "", "verify", "--key", pub, writeJSON(t, dir, "memo.json", b))
	}
	if code, out := verify(*bd); code != 0 || !strings.Contains(out, "as the key of the account of that name: alice, bob") || strings.Contains(out, "Only the bundle") {
		t.Fatalf("verify the bundle: %d\n%s", code, out)
	}
	partial := *bd
	partial.Signatures = slices.Clone(bd.Signatures)
	partial.Signatures[1].Anchor = nil
	if code, out := verify(partial); code != 0 || !strings.Contains(out, "that name: alice\n") || !strings.Contains(out, "(no key anchor): bob.") {
		t.Fatalf("verify the bundle without bob's anchor: %d\n%s", code, out)
	}
	partial.Signatures[1].Anchor = bd.Signatures[0].Anchor
	if code, out := verify(partial); code == 0 || !strings.Contains(out, `the key of "bob" is not the one its ledger entry anchors`) {
		t.Fatalf("verify the bundle with alice's anchor under bob's signature: %d\n%s", code, out)
	}
}

// ledgerPub writes the ledger's verifier key to dir/ledger.pub, for
// dissent verify --key, and returns the path.
func ledgerPub(t *testing.T, dir, vkey string) string {
	t.Helper()
	pub := filepath.Join(dir, "ledger.pub")
	if err := os.WriteFile(pub, []byte(vkey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return pub
}

// writeJSON writes v as JSON to dir/name and returns the path.
func writeJSON(t *testing.T, dir, name string, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestVerifyUnsignedBundle: the office's export of an anonymous report
// carries no signature; `dissent verify` says the text checks and that
// nothing in the bundle says who signed it, rather than "0 signatures
// verify".
func TestVerifyUnsignedBundle(t *testing.T) {
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t), servicetest.Options{Profile: "eu-2019-1937"})
	alice := d.Member("alice")
	m, err := d.Svc.CreateMemo(d.Ctx, alice, service.MemoInput{Title: "T", Body: "B", Marking: "UNCLASSIFIED", Anonymous: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Svc.Sign(d.Ctx, alice, m.ID, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Svc.Submit(d.Ctx, alice, m.ID, 1); err != nil {
		t.Fatal(err)
	}
	bd, err := d.Svc.ExportMemo(d.Ctx, d.Office, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pub := ledgerPub(t, dir, d.LedgerVKey)
	code, out := runCLI(t, "", "verify", "--key", pub, writeJSON(t, dir, "memo.json", bd))
	if code != 0 || !strings.Contains(out, "OK: memo "+m.ID) || !strings.Contains(out, "carries no signature") || strings.Contains(out, "alice") {
		t.Fatalf("verify the office's export of an anonymous report: %d\n%s", code, out)
	}
}

// TestDescribeCountedLeaf: an entry that stands for several failed
// sign-ins says how many.
func TestDescribeCountedLeaf(t *testing.T) {
	at := time.Date(2026, 12, 7, 18, 0, 0, 0, time.UTC)
	got := describeLeaf(ledger.Leaf{Version: 1, Time: at, Action: "session.fail", Role: ledger.RoleSystem, Count: 41})
	if want := "It records session.fail (41 of them), at 2026-12-07T18:00:00Z."; got != want {
		t.Errorf("describeLeaf = %q, want %q", got, want)
	}
	got = describeLeaf(ledger.Leaf{Version: 1, Time: at, Action: "session.fail", Role: ledger.RoleSystem})
	if want := "It records session.fail, at 2026-12-07T18:00:00Z."; got != want {
		t.Errorf("describeLeaf = %q, want %q", got, want)
	}
}

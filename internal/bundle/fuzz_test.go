package bundle_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/dissent-channel/dissent/internal/bundle"
	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/vault"
)

const fuzzOrigin = "dissent.example/ledger"

// genuine is a submitted memo's bundle and receipt that verify, built
// without a server from keys of a fixed seed, so that the fuzz corpus holds
// validly signed checkpoints from one run to the next: a ledger of a few
// events with the submission in the middle, signed at its full size.
func genuine(f testing.TB) (bd *bundle.Bundle, receipt []byte, want bundle.Report, vkey string) {
	skey, vkey, err := note.GenerateKey(rand.NewChaCha8([32]byte{7}), fuzzOrigin)
	if err != nil {
		f.Fatal(err)
	}
	bd = &bundle.Bundle{Format: bundle.Format, MemoID: "k6lc4yu4alrm3nzeptdfyz7xqe", Revision: 1, Title: "A policy", Body: "We dissent.",
		Marking: "UNCLASSIFIED", State: "submitted", ExportedAt: time.Date(2026, 3, 3, 9, 0, 0, 0, time.UTC)}
	h := vault.ContentHash(bd.Title, bd.Body, bd.Marking)
	bd.ContentHash = hex.EncodeToString(h[:])
	var anchors []ledger.Leaf
	for i, who := range []string{"alice", "bob"} {
		seed := make([]byte, ed25519.SeedSize)
		seed[0] = byte(i + 1)
		priv := ed25519.NewKeyFromSeed(seed)
		pub := priv.Public().(ed25519.PublicKey)
		st := vault.Statement{MemoID: bd.MemoID, Revision: bd.Revision, ContentHash: h, Marking: bd.Marking, Signer: who}
		bd.Signatures = append(bd.Signatures, bundle.Signature{Username: who, Kind: "signer",
			PublicKey: base64.StdEncoding.EncodeToString(pub),
			Signature: base64.StdEncoding.EncodeToString(ed25519.Sign(priv, st.Canonical())),
			Anchor:    &bundle.KeyAnchor{UserID: "u-" + who, BoxKey: fuzzBox}})
		anchors = append(anchors, ledger.Leaf{Version: ledger.LeafVersion, Time: time.Date(2026, 3, 1, 9, i, 0, 0, time.UTC), Action: "user.new_keys",
			Role: ledger.RoleMember, Content: ledger.KeyAnchor("u-"+who, who, fuzzBox, pub)})
	}

	ctx := context.Background()
	s := new(ledger.MemStorage)
	at := time.Date(2026, 3, 2, 15, 4, 5, 123456000, time.UTC) // microseconds, as the service writes
	submission := ledger.Leaf{Version: ledger.LeafVersion, Time: at, Action: "memo.submit", Memo: bd.MemoID, Role: ledger.RoleAuthor,
		ActorCommit: "aa" + bd.ContentHash[2:], Content: bd.ContentHash, Revision: bd.Revision}
	var leaf []byte
	var index int64
	for i, l := range []ledger.Leaf{
		anchors[0],
		anchors[1],
		{Version: ledger.LeafVersion, Time: at.Add(-time.Hour), Action: "memo.create", Memo: bd.MemoID, Role: ledger.RoleAuthor, ActorCommit: "bb" + bd.ContentHash[2:]},
		{Version: ledger.LeafVersion, Time: at.Add(-time.Minute), Action: "memo.sign", Memo: bd.MemoID, Role: ledger.RoleAuthor, ActorCommit: "cc" + bd.ContentHash[2:], Revision: 1},
		submission,
		{Version: ledger.LeafVersion, Time: at.Add(time.Hour), Action: "memo.read", Memo: bd.MemoID, Actor: "u-office", Role: ledger.RoleOffice},
		{Version: ledger.LeafVersion, Time: at.Add(2 * time.Hour), Action: "memo.acknowledge", Memo: bd.MemoID, Actor: "u-office", Role: ledger.RoleOffice},
	} {
		b, err := l.Encode()
		if err != nil {
			f.Fatal(err)
		}
		if _, err := ledger.Append(ctx, s, b); err != nil {
			f.Fatal(err)
		}
		if i < len(anchors) {
			bd.Signatures[i].Anchor.Index, bd.Signatures[i].Anchor.Leaf = int64(i), string(b)
		}
		if i == 4 {
			leaf, index = b, int64(i)
		}
	}
	const size = 7
	root, err := ledger.TreeHash(ctx, s, size)
	if err != nil {
		f.Fatal(err)
	}
	cp, err := ledger.SignCheckpoint(skey, fuzzOrigin, size, root)
	if err != nil {
		f.Fatal(err)
	}
	proof, err := ledger.ProveInclusion(ctx, s, index, size)
	if err != nil {
		f.Fatal(err)
	}
	proofText := proofStrings(proof)
	for i := range anchors {
		a := bd.Signatures[i].Anchor
		p, err := ledger.ProveInclusion(ctx, s, a.Index, size)
		if err != nil {
			f.Fatal(err)
		}
		a.Proof, a.Checkpoint = proofStrings(p), string(cp)
	}
	rc := bundle.Receipt{MemoID: bd.MemoID, Revision: bd.Revision, ContentHash: bd.ContentHash, AuthorsCount: 2, SubmittedAt: at,
		LedgerIndex: index, Checkpoint: string(cp), Leaf: string(leaf), Proof: proofText}
	if receipt, err = json.Marshal(rc); err != nil {
		f.Fatal(err)
	}
	bd.Submission = &bundle.Submission{Receipt: receipt, Leaf: string(leaf), Index: index, Proof: proofText, Checkpoint: string(cp)}
	want = bundle.Report{MemoID: bd.MemoID, Revision: bd.Revision, ContentHash: bd.ContentHash, SubmittedAt: at,
		LedgerIndex: index, TreeSize: size, Origin: fuzzOrigin}
	// Both must verify, or the fuzzers would never get past the
	// checkpoint to the proof.
	if _, err := bundle.Verify(bd, vkey); err != nil {
		f.Fatalf("the genuine bundle: %v", err)
	}
	if _, err := bundle.VerifyReceipt(receipt, vkey); err != nil {
		f.Fatalf("the genuine receipt: %v", err)
	}
	return bd, receipt, want, vkey
}

// fuzzBox stands for the signers' age recipients.
const fuzzBox = "age1fuzzfuzzfuzz"

func proofStrings(p tlog.RecordProof) []string {
	var out []string
	for _, h := range p {
		out = append(out, h.String())
	}
	return out
}

// sameSubmission says whether rep describes the genuine submission.
func sameSubmission(rep *bundle.Report, want bundle.Report) bool {
	return rep.MemoID == want.MemoID && rep.Revision == want.Revision && rep.ContentHash == want.ContentHash &&
		rep.SubmittedAt.Equal(want.SubmittedAt) && rep.LedgerIndex == want.LedgerIndex && rep.TreeSize == want.TreeSize &&
		rep.Origin == want.Origin
}

// FuzzParse parses and verifies bundles mutated from a genuine one under
// its ledger key: a submitted bundle that verifies must be the genuine
// submission, its text included, since only the ledger key signs
// checkpoints.
func FuzzParse(f *testing.F) {
	bd, _, want, vkey := genuine(f)
	raw, err := json.Marshal(bd)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	f.Add([]byte(`{"format":"dissent-memo-bundle-v1","memo_id":"x","revision":1,"signatures":[]}`))
	f.Add([]byte(`{"format":"other"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := bundle.Parse(b)
		if err != nil {
			return
		}
		rep, err := bundle.Verify(got, vkey)
		if err != nil {
			return
		}
		// A key the ledger anchors under a name is that signer's own.
		for _, name := range rep.Anchored {
			i := slices.IndexFunc(got.Signatures, func(s bundle.Signature) bool { return s.Username == name })
			j := slices.IndexFunc(bd.Signatures, func(s bundle.Signature) bool { return s.Username == name })
			if j < 0 || got.Signatures[i].PublicKey != bd.Signatures[j].PublicKey {
				t.Fatalf("verified %q's key as anchored, though the ledger anchors no such key: %s", name, b)
			}
		}
		if got.Submission == nil {
			return
		}
		if !sameSubmission(rep, want) || got.Title != bd.Title || got.Body != bd.Body || got.Marking != bd.Marking {
			t.Fatalf("verified a submission the ledger does not hold: %+v\n%s", rep, b)
		}
	})
}

// FuzzVerifyReceipt verifies receipts mutated from a genuine one under its
// ledger key: a receipt that verifies must describe the genuine
// submission, time included.
func FuzzVerifyReceipt(f *testing.F) {
	_, receipt, want, vkey := genuine(f)
	f.Add(receipt)
	f.Add(append(receipt, '\n'))
	f.Add([]byte(`{"memo_id":"x","revision":1}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		rep, err := bundle.VerifyReceipt(b, vkey)
		if err != nil {
			return
		}
		if !sameSubmission(rep, want) {
			t.Fatalf("verified a receipt of a submission the ledger does not hold: %+v\n%s", rep, b)
		}
	})
}

// FuzzVerifyEntry verifies entry proofs mutated from a genuine one, the
// proof of the submission's entry with its checkpoint, under its ledger
// key: an entry that verifies must be that entry, leaf for leaf.
func FuzzVerifyEntry(f *testing.F) {
	_, receipt, want, vkey := genuine(f)
	var rc bundle.Receipt
	if err := json.Unmarshal(receipt, &rc); err != nil {
		f.Fatal(err)
	}
	entry, err := json.Marshal(bundle.Entry{Index: rc.LedgerIndex, Size: want.TreeSize, Leaf: rc.Leaf, Hashes: rc.Proof, Checkpoint: rc.Checkpoint})
	if err != nil {
		f.Fatal(err)
	}
	if _, err := bundle.VerifyEntry(entry, vkey); err != nil {
		f.Fatalf("the genuine entry: %v", err)
	}
	f.Add(entry)
	f.Add(append(entry, ' ', '{', '}'))
	f.Add([]byte(`{"index":0,"size":1,"leaf":"{}","hashes":[],"checkpoint":""}`))
	f.Add([]byte(`{"hashes":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := bundle.VerifyEntry(b, vkey)
		if err != nil {
			return
		}
		got, err := e.Leaf.Encode()
		if err != nil || string(got) != rc.Leaf || e.Index != rc.LedgerIndex || e.TreeSize != want.TreeSize || e.Origin != want.Origin {
			t.Fatalf("verified an entry the ledger does not hold: %+v\n%s", e, b)
		}
	})
}

// TestVerifyEntryRefuses: a saved entry proof that is incomplete, is for
// another tree than its checkpoint's, or carries more than the proof, is
// refused with a reason.
func TestVerifyEntryRefuses(t *testing.T) {
	_, receipt, want, vkey := genuine(t)
	var rc bundle.Receipt
	if err := json.Unmarshal(receipt, &rc); err != nil {
		t.Fatal(err)
	}
	good := bundle.Entry{Index: rc.LedgerIndex, Size: want.TreeSize, Leaf: rc.Leaf, Hashes: rc.Proof, Checkpoint: rc.Checkpoint}
	encode := func(change func(e *bundle.Entry)) []byte {
		e := good
		change(&e)
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if _, err := bundle.VerifyEntry(encode(func(*bundle.Entry) {}), vkey); err != nil {
		t.Fatalf("the genuine entry: %v", err)
	}
	for name, c := range map[string]struct {
		b    []byte
		want string
	}{
		"no leaf":            {encode(func(e *bundle.Entry) { e.Leaf = "" }), "carries no leaf"},
		"no checkpoint":      {encode(func(e *bundle.Entry) { e.Checkpoint = "" }), "carries no checkpoint"},
		"another size":       {encode(func(e *bundle.Entry) { e.Size = 4 }), "tree of 4 entries, its checkpoint signs 7"},
		"another index":      {encode(func(e *bundle.Entry) { e.Index = 1 }), "is not in the signed ledger"},
		"a malformed hash":   {encode(func(e *bundle.Entry) { e.Hashes = []string{"x"} }), "malformed"},
		"another ledger key": {encode(func(*bundle.Entry) {}), "the checkpoint"},
		"an unknown field":   {[]byte(strings.Replace(string(encode(func(*bundle.Entry) {})), `{`, `{"extra":1,`, 1)), "unknown object member"},
		"data after it":      {append(encode(func(*bundle.Entry) {}), []byte(` {}`)...), "after top-level value"},
		// A reader who takes the first "leaf", or the one in lower case,
		// would see another entry than the one checked.
		"a member twice":         {[]byte(strings.Replace(string(encode(func(*bundle.Entry) {})), `{`, `{"leaf":"{}",`, 1)), "duplicate"},
		"a name in another case": {[]byte(strings.Replace(string(encode(func(*bundle.Entry) {})), `{`, `{"LEAF":"{}",`, 1)), "unknown object member"},
	} {
		key := vkey
		if name == "another ledger key" {
			_, key, _ = ledger.GenerateKey(fuzzOrigin)
		}
		if _, err := bundle.VerifyEntry(c.b, key); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", name, err, c.want)
		}
	}
}

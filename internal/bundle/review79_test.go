package bundle_test

// Findings of review 79 (what an author holds and checks offline). Each
// test fails while the code does what the comment says.

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/dissent-channel/dissent/internal/bundle"
	"github.com/dissent-channel/dissent/internal/ledger"
)

// TestReview79EmbeddedReceiptCheckpointIsChecked: LEDGER.md §4 says
// bundle.Verify "checks the receipt inside the submission against it (the
// same memo, revision, content hash, index, leaf, proof and checkpoint,
// the leaf's time)", and sameReceipt's comment that "every byte of a
// bundle that verifies was checked". But sameReceipt compares the proof and
// the checkpoint only when the embedded receipt carries a leaf: take the
// leaf out of a genuine bundle's receipt and its checkpoint and proof can
// say anything — here a checkpoint another key signed over another tree —
// and the bundle still verifies.
func TestReview79EmbeddedReceiptCheckpointIsChecked(t *testing.T) {
	bd, _, vkey := exported(t)
	var rc bundle.Receipt
	if err := json.Unmarshal(bd.Submission.Receipt, &rc); err != nil {
		t.Fatal(err)
	}
	skey, _, err := ledger.GenerateKey("dissent.test")
	if err != nil {
		t.Fatal(err)
	}
	var root [32]byte
	root[0] = 1
	forged, err := ledger.SignCheckpoint(skey, "dissent.test", 99, root)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name       string
		checkpoint string
		proof      []string
	}{
		{"a checkpoint another key signed over another tree", string(forged), nil},
		{"no checkpoint at all", "", nil},
		{"a proof of hashes that link nothing", rc.Checkpoint, []string{strings.Repeat("A", 43) + "="}},
	} {
		t.Run(c.name, func(t *testing.T) {
			edited := rc
			edited.Leaf, edited.Proof, edited.Checkpoint = "", c.proof, c.checkpoint
			raw, err := json.Marshal(edited)
			if err != nil {
				t.Fatal(err)
			}
			b := *bd
			sub := *bd.Submission
			sub.Receipt = raw
			b.Submission = &sub
			whole, err := json.Marshal(&b)
			if err != nil {
				t.Fatal(err)
			}
			parsed, err := bundle.Parse(whole)
			if err != nil {
				return // refused: good
			}
			if _, err := bundle.Verify(parsed, vkey); err == nil {
				t.Errorf("a bundle whose embedded receipt has no leaf and %s verified: the receipt's checkpoint and proof were never compared with the submission's", c.name)
			}
		})
	}
}

// TestReview79ReceiptCountsAreChecked: LEDGER.md §4 says VerifyReceipt
// refuses what would let a receipt file mean something it did not check,
// "so that every byte of a file it accepts was checked and means one
// thing". A receipt carries authors_count and dropped_signers, which
// neither its leaf nor anything else VerifyReceipt checks binds: a
// receipt of a memo alice and bob signed, edited to say forty authors and

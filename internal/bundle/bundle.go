// Package bundle is the exported form of a memo: its text, every signature
// with the signer's public key, the receipt, and the inclusion proof of the
// submission in the ledger. Verify checks a bundle offline, with nothing but
// the ledger's public key: no server, no database.
//
// The package is pure: it reads and checks bytes, and never touches I/O.
package bundle

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/vault"
)

// Format names this version of the bundle. Version 2 (December 2026)
// added each signer's key anchor; Parse takes version 1 too.
const Format = "dissent-memo-bundle-v2"

// formatV1 is the bundle without key anchors.
const formatV1 = "dissent-memo-bundle-v1"

// MaxSize bounds a bundle read for verification.
const MaxSize = 32 << 20

// Bundle is an exported memo.
type Bundle struct {
	Format      string      `json:"format"`
	MemoID      string      `json:"memo_id"`
	Revision    int         `json:"revision"`
	Title       string      `json:"title"`
	Body        string      `json:"body"`
	Marking     string      `json:"marking"`
	ContentHash string      `json:"content_hash"`
	State       string      `json:"state"`
	Signatures  []Signature `json:"signatures"`
	// Submission is present once the memo was submitted.
	Submission *Submission `json:"submission,omitempty"`
	ExportedAt time.Time   `json:"exported_at"`
}

// Signature is one author's Ed25519 signature over the canonical statement
// (memo id, revision, content hash, marking, signer).
type Signature struct {
	Username  string `json:"username"`
	Kind      string `json:"kind"`
	PublicKey string `json:"public_key"` // base64 Ed25519
	Signature string `json:"signature"`  // base64
	// Anchor shows the ledger recorded this key as the account's of that
	// name; without it, only the bundle says whose key it is.
	Anchor *KeyAnchor `json:"anchor,omitempty"`
}

// KeyAnchor is the ledger entry that anchors a signer's keys: its content
// is ledger.KeyAnchor of the account's id, the signer's name and both
// public keys (docs/LEDGER.md, "Key anchor"), and Proof links it to the
// signed Checkpoint.
type KeyAnchor struct {
	UserID     string   `json:"user_id"`
	BoxKey     string   `json:"box_key"` // the age recipient of the same account
	Index      int64    `json:"index"`
	Leaf       string   `json:"leaf"`
	Proof      []string `json:"proof"`
	Checkpoint string   `json:"checkpoint"`
}

// Submission ties the submitted revision to the ledger.
type Submission struct {
	Receipt json.RawMessage `json:"receipt"`
	// Leaf is the ledger leaf of the submission, Index its position, Proof
	// the inclusion proof against Checkpoint (a signed note).
	Leaf       string   `json:"leaf"`
	Index      int64    `json:"index"`
	Proof      []string `json:"proof"`
	Checkpoint string   `json:"checkpoint"`
}

// Report is what Verify established.
type Report struct {
	MemoID      string
	Revision    int
	ContentHash string
	Signers     []string
	// Anchored are the signers whose keys the ledger anchors to an
	// account of that name, in the order of Signers; AnchoredOnUpgrade
	// those of them whose anchor is a user.keys_anchored entry: keys
	// anchored when a deployment upgraded, as its database held them
	// then, rather than when they were made.
	Anchored          []string
	AnchoredOnUpgrade []string
	SubmittedAt       time.Time
	LedgerIndex       int64
	TreeSize          int64
	Origin            string
	// ActorCommit is the submission leaf's commitment to the author who
	// submitted (ledger.CheckActorCommitment), empty without a submission.
	ActorCommit string
}

// ErrInvalid is returned, wrapped with the reason, when a bundle fails.
var ErrInvalid = errors.New("bundle: invalid")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// Parse decodes a bundle strictly: unknown fields and anything after the
// bundle but white space are refused.
func Parse(b []byte) (*Bundle, error) {
	if len(b) > MaxSize {
		return nil, invalid("larger than %d bytes", MaxSize)
	}
	var bd Bundle
	if err := decodeStrict(b, &bd); err != nil {
		return nil, invalid("not a bundle: %v", err)
	}
	if bd.Format != Format && bd.Format != formatV1 {
		return nil, invalid("format %q, want %q", bd.Format, Format)
	}
	if bd.Format == formatV1 && slices.ContainsFunc(bd.Signatures, func(s Signature) bool { return s.Anchor != nil }) {
		return nil, invalid("format %q has no key anchors", formatV1)
	}
	return &bd, nil
}

// Verify checks everything a bundle claims, offline: the content hash of
// the text, every signature, each key anchor given (the entry anchors that
// signer's key under that name, in a checkpoint signed by the ledger key
// vkey), and (when submitted) that the submission leaf names this memo,
// revision and content hash and is included in a checkpoint signed by
// vkey.
func Verify(bd *Bundle, vkey string) (*Report, error) {
	// What `dissent verify` prints must be what the service could have
	// written: a memo id, usernames, and the two kinds of author. A name
	// with a line break or a terminal escape would let a forger print
	// lines of their own in the verifier's words.
	if !channel.ValidID(bd.MemoID) {
		return nil, invalid("%q is not a memo id", bd.MemoID)
	}
	for _, s := range bd.Signatures {
		if err := channel.ValidateUsername("username", s.Username); err != nil {
			return nil, invalid("a signer's name %q is not a username", s.Username)
		}
		if k := channel.AuthorKind(s.Kind); k != channel.KindDrafter && k != channel.KindSigner {
			return nil, invalid("the signature of %q is of kind %q, want %q or %q", s.Username, s.Kind, channel.KindDrafter, channel.KindSigner)
		}
	}
	h := vault.ContentHash(bd.Title, bd.Body, bd.Marking)
	if hex.EncodeToString(h[:]) != bd.ContentHash {
		return nil, invalid("the text does not match its content hash")
	}
	rep := &Report{MemoID: bd.MemoID, Revision: bd.Revision, ContentHash: bd.ContentHash}
	for _, s := range bd.Signatures {
		if slices.Contains(rep.Signers, s.Username) {
			return nil, invalid("%q signs twice", s.Username)
		}
		pub, err1 := base64.StdEncoding.DecodeString(s.PublicKey)
		sig, err2 := base64.StdEncoding.DecodeString(s.Signature)
		if err1 != nil || err2 != nil || len(pub) != ed25519.PublicKeySize {
			return nil, invalid("the signature of %q is malformed", s.Username)
		}
		st := vault.Statement{MemoID: bd.MemoID, Revision: bd.Revision, ContentHash: h, Marking: bd.Marking, Signer: s.Username}
		if !vault.VerifySignature(pub, st, sig) {
			return nil, invalid("the signature of %q does not verify", s.Username)
		}
		rep.Signers = append(rep.Signers, s.Username)
		if s.Anchor == nil {
			continue
		}
		action, err := verifyAnchor(s.Username, pub, s.Anchor, vkey)
		if err != nil {
			return nil, err
		}
		rep.Anchored = append(rep.Anchored, s.Username)
		if action == "user.keys_anchored" {
			rep.AnchoredOnUpgrade = append(rep.AnchoredOnUpgrade, s.Username)
		}
	}
	if bd.Submission == nil {
		return rep, nil
	}
	sub := bd.Submission
	leaf, cp, err := verifyLeaf(bd.MemoID, bd.Revision, bd.ContentHash, sub.Leaf, sub.Index, sub.Proof, sub.Checkpoint, vkey)
	if err != nil {
		return nil, err
	}
	if err := sameReceipt(sub, bd, leaf); err != nil {
		return nil, err
	}
	rep.SubmittedAt, rep.LedgerIndex, rep.TreeSize, rep.Origin, rep.ActorCommit = leaf.Time, sub.Index, cp.Size, cp.Origin, leaf.ActorCommit
	return rep, nil
}

// sameReceipt checks the receipt a bundle's submission carries: it must be
// the receipt of this submission (the same memo, revision, content hash
// and ledger entry, the leaf's time), so that every byte of a bundle that
// verifies was checked. Receipts issued before they carried the leaf and
// its proof are let through without them.
func sameReceipt(sub *Submission, bd *Bundle, leaf ledger.Leaf) error {
	var rc Receipt
	if err := decodeStrict(sub.Receipt, &rc); err != nil {
		return invalid("the submission's receipt: %v", err)
	}
	if rc.MemoID != bd.MemoID || rc.Revision != bd.Revision || rc.ContentHash != bd.ContentHash || rc.LedgerIndex != sub.Index {
		return invalid("the submission's receipt is not this submission's")
	}
	// A receipt from before December 2026 carries no leaf; its checkpoint,
	// and its proof if it has one, are still the submission's (the export
	// takes them from it), so nothing in it goes unchecked.
	if rc.Leaf != "" && rc.Leaf != sub.Leaf || rc.Checkpoint != sub.Checkpoint || (rc.Leaf != "" || len(rc.Proof) > 0) && !slices.Equal(rc.Proof, sub.Proof) {
		return invalid("the submission's receipt carries another leaf, proof or checkpoint")
	}
	if d := rc.SubmittedAt.Sub(leaf.Time); rc.SubmittedAt.IsZero() || d > receiptSkew || d < -receiptSkew {
		return invalid("the submission's receipt says it was submitted at %s, not at the ledger's time, %s",
			rc.SubmittedAt.UTC().Format(time.RFC3339Nano), leaf.Time.Format(time.RFC3339Nano))
	}
	return nil
}

// verifyAnchor checks that a is an entry anchoring the keys of the
// account named username, pub among them, in a checkpoint vkey signed,
// and returns the entry's action.
func verifyAnchor(username string, pub []byte, a *KeyAnchor, vkey string) (string, error) {
	leaf, err := ledger.DecodeLeaf([]byte(a.Leaf))
	if err != nil {
		return "", invalid("the key anchor of %q: %v", username, err)
	}
	if !leaf.AnchorsKeys() || leaf.Content != ledger.KeyAnchor(a.UserID, username, a.BoxKey, pub) {
		return "", invalid("the key of %q is not the one its ledger entry anchors for an account of that name", username)
	}
	_, err = checkIncluded(a.Leaf, a.Index, a.Proof, a.Checkpoint, []string{vkey}, fmt.Sprintf("the entry anchoring the key of %q", username))
	return leaf.Action, err
}

// verifyLeaf checks that leaf is the submission of revision rev of memo
// with contentHash, and that it is at index in the checkpoint signed by vkey.
func verifyLeaf(memo string, rev int, contentHash, leafText string, index int64, proofText []string, note, vkey string) (ledger.Leaf, ledger.Checkpoint, error) {
	var cp ledger.Checkpoint
	leaf, err := ledger.DecodeLeaf([]byte(leafText))
	if err != nil {
		return leaf, cp, invalid("the submission leaf: %v", err)
	}
	if leaf.Action != "memo.submit" || leaf.Memo != memo || leaf.Revision != rev || leaf.Content != contentHash {
		return leaf, cp, invalid("the submission leaf is not the submission of revision %d of memo %s", rev, memo)
	}
	cp, err = checkIncluded(leafText, index, proofText, note, []string{vkey}, "the submission")
	return leaf, cp, err
}

// checkIncluded checks that the checkpoint note is signed by vkeys[0], the
// ledger's key (and reports which of the witnesses' keys after it cosigned
// it), and that leafText is entry index of the tree it signs, by the
// inclusion proof. what names the entry in errors.
func checkIncluded(leafText string, index int64, proofText []string, note string, vkeys []string, what string) (ledger.Checkpoint, error) {
	cp, err := ledger.OpenCheckpoint([]byte(note), vkeys...)
	if err != nil {
		return cp, invalid("the checkpoint: %v", err)
	}
	proof := make(tlog.RecordProof, len(proofText))
	for i, p := range proofText {
		if proof[i], err = tlog.ParseHash(p); err != nil {
			return cp, invalid("the inclusion proof is malformed")
		}
	}
	if err := ledger.VerifyInclusion([]byte(leafText), index, proof, cp); err != nil {
		return cp, invalid("%s is not in the signed ledger: %v", what, err)
	}
	return cp, nil
}

// decodeStrict decodes one JSON value into v and refuses what a reader of
// the file could take otherwise than this decoder does: a member v does not
// have, a member named twice, a name that matches only when case is
// ignored, invalid UTF-8, or anything after the value but white space. So
// every byte of a file that verifies was checked, and means one thing.
func decodeStrict(b []byte, v any) error {
	return jsonv2.Unmarshal(b, v, jsonv2.RejectUnknownMembers(true))
}

// Receipt is what the authors keep after submitting: the submitted
// revision's content hash, the number of authors (it names none), and the
// submission's ledger leaf with its inclusion proof in a signed checkpoint.
type Receipt struct {
	MemoID       string    `json:"memo_id"`
	Revision     int       `json:"revision"`
	ContentHash  string    `json:"content_hash"`
	AuthorsCount int       `json:"authors_count"`
	Dropped      int       `json:"dropped_signers"`
	SubmittedAt  time.Time `json:"submitted_at"`
	LedgerIndex  int64     `json:"ledger_index"`
	Checkpoint   string    `json:"checkpoint"`
	Leaf         string    `json:"leaf"`
	Proof        []string  `json:"proof"`
}

// receiptSkew is how far a receipt's submitted_at may lie from its leaf's
// time (see VerifyReceipt).
const receiptSkew = time.Second

// VerifyReceipt checks a receipt offline: its leaf is the submission it
// describes, at the time it says, included in its checkpoint, which the
// ledger key signed. b must hold the receipt alone: anything after it but
// white space is refused.
func VerifyReceipt(b []byte, vkey string) (*Report, error) {
	if len(b) > MaxSize {
		return nil, invalid("larger than %d bytes", MaxSize)
	}
	var rc Receipt
	if err := decodeStrict(b, &rc); err != nil {
		return nil, invalid("not a receipt: %v", err)
	}
	if rc.Leaf == "" {
		return nil, invalid("the receipt carries no ledger leaf and proof (export the memo bundle instead)")
	}
	leaf, cp, err := verifyLeaf(rc.MemoID, rc.Revision, rc.ContentHash, rc.Leaf, rc.LedgerIndex, rc.Proof, rc.Checkpoint, vkey)
	if err != nil {
		return nil, err
	}
	// The time is the leaf's: a receipt may not claim another. Receipts
	// issued before the two were one reading of the clock (December 2026)
	// differ from their leaf by microseconds, so a second's difference is
	// let through; the report states the leaf's time in any case.
	if d := rc.SubmittedAt.Sub(leaf.Time); rc.SubmittedAt.IsZero() || d > receiptSkew || d < -receiptSkew {
		return nil, invalid("submitted_at %s is not the submission's time in the ledger, %s",
			rc.SubmittedAt.UTC().Format(time.RFC3339Nano), leaf.Time.Format(time.RFC3339Nano))
	}
	return &Report{MemoID: rc.MemoID, Revision: rc.Revision, ContentHash: rc.ContentHash, SubmittedAt: leaf.Time,
		LedgerIndex: rc.LedgerIndex, TreeSize: cp.Size, Origin: cp.Origin, ActorCommit: leaf.ActorCommit}, nil
}

// Entry is the inclusion proof of one ledger entry, as `GET
// /api/v1/ledger/proof` gives it to those who may see the entry: its leaf,
// its index, and the hashes linking it to the signed checkpoint of Size
// entries. Saved to a file, it lets a memo's author prove any step of the
// memo offline; a co-signer, their signature (docs/LEDGER.md §4).
type Entry struct {
	Index      int64    `json:"index"`
	Size       int64    `json:"size"`
	Leaf       string   `json:"leaf"`
	Hashes     []string `json:"hashes"`
	Checkpoint string   `json:"checkpoint"`
}

// EntryReport is what VerifyEntry established: Leaf is entry Index of the
// ledger whose checkpoint of TreeSize entries Origin's key signed, and the
// witnesses among those VerifyEntry was given that cosigned it.
type EntryReport struct {
	Leaf      ledger.Leaf
	Index     int64
	TreeSize  int64
	Origin    string
	Cosigners []string
}

// VerifyEntry checks a saved entry proof offline: its leaf is well formed
// and included, at its index, in its checkpoint, which the ledger key
// signed; the report names the witnesses (their verifier keys) that
// cosigned the checkpoint. Like VerifyReceipt, it refuses anything after
// the JSON value but white space, and unknown fields.
func VerifyEntry(b []byte, vkey string, witnesses ...string) (*EntryReport, error) {
	if len(b) > MaxSize {
		return nil, invalid("larger than %d bytes", MaxSize)
	}
	var e Entry
	if err := decodeStrict(b, &e); err != nil {
		return nil, invalid("not a ledger entry's proof: %v", err)
	}
	switch {
	case e.Leaf == "":
		return nil, invalid("the proof carries no leaf: the server gives it to a memo's authors and office for the memo's entries, and to auditors and administrators")
	case e.Checkpoint == "":
		return nil, invalid("the proof carries no checkpoint: ask for it without a size (GET /api/v1/ledger/proof?index=N), which proves it in the latest signed checkpoint")
	}
	leaf, err := ledger.DecodeLeaf([]byte(e.Leaf))
	if err != nil {
		return nil, invalid("the leaf: %v", err)
	}
	cp, err := checkIncluded(e.Leaf, e.Index, e.Hashes, e.Checkpoint, append([]string{vkey}, witnesses...), fmt.Sprintf("entry %d", e.Index))
	if err != nil {
		return nil, err
	}
	if cp.Size != e.Size {
		return nil, invalid("the proof is for a tree of %d entries, its checkpoint signs %d", e.Size, cp.Size)
	}
	return &EntryReport{Leaf: leaf, Index: e.Index, TreeSize: cp.Size, Origin: cp.Origin, Cosigners: cp.Signers[1:]}, nil
}

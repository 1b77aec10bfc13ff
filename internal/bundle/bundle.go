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
	"strings"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/vault"
)

// Format names this version of the bundle.
const Format = "dissent-memo-bundle-v1"

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
	SubmittedAt time.Time
	LedgerIndex int64
	TreeSize    int64
	Origin      string
}

// ErrInvalid is returned, wrapped with the reason, when a bundle fails.
var ErrInvalid = errors.New("bundle: invalid")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// Parse decodes a bundle strictly.
func Parse(b []byte) (*Bundle, error) {
	if len(b) > MaxSize {
		return nil, invalid("larger than %d bytes", MaxSize)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	var bd Bundle
	if err := dec.Decode(&bd); err != nil {
		return nil, invalid("not a bundle: %v", err)
	}
	if bd.Format != Format {
		return nil, invalid("format %q, want %q", bd.Format, Format)
	}
	return &bd, nil
}

// Verify checks everything a bundle claims, offline: the content hash of
// the text, every signature, and (when submitted) that the submission leaf
// names this memo, revision and content hash and is included in a
// checkpoint signed by the ledger key vkey.
func Verify(bd *Bundle, vkey string) (*Report, error) {
	h := vault.ContentHash(bd.Title, bd.Body, bd.Marking)
	if hex.EncodeToString(h[:]) != bd.ContentHash {
		return nil, invalid("the text does not match its content hash")
	}
	rep := &Report{MemoID: bd.MemoID, Revision: bd.Revision, ContentHash: bd.ContentHash}
	for _, s := range bd.Signatures {
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
	}
	if bd.Submission == nil {
		return rep, nil
	}
	sub := bd.Submission
	leaf, err := ledger.DecodeLeaf([]byte(sub.Leaf))
	if err != nil {
		return nil, invalid("the submission leaf: %v", err)
	}
	if leaf.Action != "memo.submit" || leaf.Memo != bd.MemoID || leaf.Revision != bd.Revision || leaf.Content != bd.ContentHash {
		return nil, invalid("the submission leaf is not the submission of this memo's revision %d", bd.Revision)
	}
	cp, err := ledger.OpenCheckpoint([]byte(sub.Checkpoint), vkey)
	if err != nil {
		return nil, invalid("the checkpoint: %v", err)
	}
	proof := make(tlog.RecordProof, len(sub.Proof))
	for i, p := range sub.Proof {
		if proof[i], err = tlog.ParseHash(p); err != nil {
			return nil, invalid("the inclusion proof is malformed")
		}
	}
	if err := ledger.VerifyInclusion([]byte(sub.Leaf), sub.Index, proof, cp); err != nil {
		return nil, invalid("the submission is not in the signed ledger: %v", err)
	}
	rep.SubmittedAt, rep.LedgerIndex, rep.TreeSize, rep.Origin = leaf.Time, sub.Index, cp.Size, cp.Origin
	return rep, nil
}

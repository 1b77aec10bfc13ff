package vault

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
)

const contentDomain = "dissent-content-v1\n"

// ContentHash is the digest of a memo revision's content that signatures and
// receipts refer to: SHA-256 of
//
//	"dissent-content-v1\n" || AD(title, body, marking)
//
// The domain string keeps it from ever equalling another hash made here, and
// the length prefixes of AD keep two different (title, body, marking) triples
// from encoding alike.
func ContentHash(title, body, marking string) [32]byte {
	h := sha256.New()
	h.Write([]byte(contentDomain))
	h.Write(AD(title, body, marking))
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

// Statement is what a drafter or co-signer signs: their name under one exact
// revision of one memo.
type Statement struct {
	MemoID      string
	Revision    int
	ContentHash [32]byte
	Marking     string
	Signer      string // username
}

const statementDomain = "dissent-signature-v1\n"

// Canonical returns the bytes that are signed:
//
//	"dissent-signature-v1\n"           21 bytes
//	len(MemoID)   uint32 big-endian, then MemoID's bytes
//	Revision      int64 big-endian (two's complement)
//	ContentHash   32 bytes
//	len(Marking)  uint32 big-endian, then Marking's bytes
//	len(Signer)   uint32 big-endian, then Signer's bytes
//
// Every variable field carries its length, so the encoding is injective: a
// signature over one statement can never verify as one over another. The
// domain line keeps these bytes distinct from anything else this package
// signs or hashes. ParseStatement is its exact inverse.
func (s Statement) Canonical() []byte {
	b := make([]byte, 0, len(statementDomain)+4+len(s.MemoID)+8+32+4+len(s.Marking)+4+len(s.Signer))
	b = append(b, statementDomain...)
	b = appendString(b, s.MemoID)
	b = binary.BigEndian.AppendUint64(b, uint64(int64(s.Revision)))
	b = append(b, s.ContentHash[:]...)
	b = appendString(b, s.Marking)
	b = appendString(b, s.Signer)
	return b
}

// ParseStatement decodes Canonical's output, accepting nothing else: any
// other prefix, a length that overruns, or trailing bytes return
// ErrStatement.
func ParseStatement(b []byte) (Statement, error) {
	rest, ok := cutPrefix(b, statementDomain)
	if !ok {
		return Statement{}, ErrStatement
	}
	var s Statement
	if s.MemoID, rest, ok = readString(rest); !ok {
		return Statement{}, ErrStatement
	}
	if len(rest) < 8+32 {
		return Statement{}, ErrStatement
	}
	s.Revision = int(int64(binary.BigEndian.Uint64(rest)))
	if int64(s.Revision) != int64(binary.BigEndian.Uint64(rest)) {
		return Statement{}, ErrStatement // int is 32 bits here
	}
	copy(s.ContentHash[:], rest[8:40])
	rest = rest[40:]
	if s.Marking, rest, ok = readString(rest); !ok {
		return Statement{}, ErrStatement
	}
	if s.Signer, rest, ok = readString(rest); !ok {
		return Statement{}, ErrStatement
	}
	if len(rest) != 0 {
		return Statement{}, ErrStatement
	}
	return s, nil
}

func cutPrefix(b []byte, prefix string) ([]byte, bool) {
	if len(b) < len(prefix) || string(b[:len(prefix)]) != prefix {
		return nil, false
	}
	return b[len(prefix):], true
}

func readString(b []byte) (s string, rest []byte, ok bool) {
	if len(b) < 4 {
		return "", nil, false
	}
	n := uint64(binary.BigEndian.Uint32(b))
	if n > uint64(len(b)-4) {
		return "", nil, false
	}
	end := 4 + int(n)
	return string(b[4:end]), b[end:], true
}

// Sign signs the statement's canonical bytes with the identity's Ed25519 key.
// Ed25519 signatures are deterministic, so the same statement always gives
// the same signature (the known-answer test relies on it).
func (id *Identity) Sign(s Statement) []byte {
	return ed25519.Sign(id.sign, s.Canonical())
}

// VerifySignature reports whether sig is pub's signature of s. A public key
// or signature of the wrong length is simply not valid.
func VerifySignature(pub ed25519.PublicKey, s Statement, sig []byte) bool {
	if len(pub) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize {
		return false
	}
	return ed25519.Verify(pub, s.Canonical(), sig)
}

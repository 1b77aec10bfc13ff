package vault

import (
	"encoding/hex"
	"errors"
	"math"
	"testing"
)

func TestContentHashKnownAnswer(t *testing.T) {
	v := loadVectors(t)
	h := ContentHash(kaTitle, kaBody, kaMarking)
	if got := hex.EncodeToString(h[:]); got != v.ContentHash {
		t.Fatalf("ContentHash = %s, want %s", got, v.ContentHash)
	}
	// Moving text between fields must change the hash.
	if ContentHash("ab", "c", "") == ContentHash("a", "bc", "") {
		t.Fatal("ContentHash is ambiguous")
	}
}

func TestStatementKnownAnswer(t *testing.T) {
	v := loadVectors(t)
	if got := hex.EncodeToString(kaStatement().Canonical()); got != v.Statement {
		t.Fatalf("Canonical =\n%s\nwant\n%s", got, v.Statement)
	}
	s, err := ParseStatement(unhex(t, v.Statement))
	if err != nil || s != kaStatement() {
		t.Fatalf("ParseStatement = %+v, %v", s, err)
	}
}

func TestStatementRoundTrip(t *testing.T) {
	for _, s := range []Statement{
		{},
		kaStatement(),
		{MemoID: "m", Revision: math.MaxInt32, Marking: "UNCLASSIFIED", Signer: "zoë"},
		{MemoID: "m", Revision: -1},
	} {
		got, err := ParseStatement(s.Canonical())
		if err != nil || got != s {
			t.Errorf("round trip of %+v = %+v, %v", s, got, err)
		}
	}
}

func TestParseStatementRejects(t *testing.T) {
	good := kaStatement().Canonical()
	long := append([]byte(nil), good...)
	long[len(statementDomain)+3] = 0xff // MemoID length overruns
	for name, b := range map[string][]byte{
		"empty":          nil,
		"domain only":    []byte(statementDomain),
		"wrong domain":   append([]byte("dissent-signature-v2\n"), good[len(statementDomain):]...),
		"truncated":      good[:len(good)-1],
		"trailing byte":  append(append([]byte(nil), good...), 0),
		"length overrun": long,
	} {
		if _, err := ParseStatement(b); !errors.Is(err, ErrStatement) {
			t.Errorf("%s: %v, want ErrStatement", name, err)
		}
	}
}

func TestSignVerify(t *testing.T) {
	id, other := mustIdentity(t), mustIdentity(t)
	s := kaStatement()
	sig := id.Sign(s)
	if !VerifySignature(id.Public().Sign, s, sig) {
		t.Fatal("signature does not verify")
	}
	if VerifySignature(other.Public().Sign, s, sig) {
		t.Fatal("verified under another key")
	}
	for name, changed := range map[string]func(*Statement){
		"memo":     func(s *Statement) { s.MemoID += "x" },
		"revision": func(s *Statement) { s.Revision++ },
		"content":  func(s *Statement) { s.ContentHash[0] ^= 1 },
		"marking":  func(s *Statement) { s.Marking = "UNCLASSIFIED" },
		"signer":   func(s *Statement) { s.Signer = "bob" },
	} {
		c := s
		changed(&c)
		if VerifySignature(id.Public().Sign, c, sig) {
			t.Errorf("signature verifies with another %s", name)
		}
	}
	if VerifySignature(id.Public().Sign, s, sig[:63]) {
		t.Fatal("short signature verified")
	}
}

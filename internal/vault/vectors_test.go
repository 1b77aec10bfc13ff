package vault

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"
)

// vectors are the known answers in testdata/vectors.json, computed
// independently of this package by testdata/vectors.py.
type vectors struct {
	ContentHash    string `json:"content_hash"`
	Statement      string `json:"statement"`
	IdentitySecret string `json:"identity_secret"`
	IdentityBox    string `json:"identity_box"`
	IdentitySign   string `json:"identity_sign"`
	IdentityIndex  string `json:"identity_index"`
	Signature      string `json:"signature"`
	Tag            string `json:"tag"`
	SessionID      string `json:"session_id"`
	SessionKey     string `json:"session_key"`
	Verifier       string `json:"verifier"`
	KEK            string `json:"kek"`
	Sealed         string `json:"sealed"`
}

func loadVectors(t testing.TB) vectors {
	t.Helper()
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The fixed inputs of testdata/vectors.py.
const (
	kaTitle   = "Syria policy"
	kaBody    = "We recommend a different course.\n"
	kaMarking = "SENSITIVE BUT UNCLASSIFIED"
)

func kaStatement() Statement {
	return Statement{
		MemoID:      "memo-01HV3K",
		Revision:    3,
		ContentHash: ContentHash(kaTitle, kaBody, kaMarking),
		Marking:     kaMarking,
		Signer:      "alice",
	}
}

func seq(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

func kaIdentity(t testing.TB) *Identity {
	t.Helper()
	id, err := newIdentityFromSeed([32]byte(seq(32)))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

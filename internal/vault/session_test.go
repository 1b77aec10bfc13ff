package vault

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

func TestToken(t *testing.T) {
	s, raw, err := NewToken()
	if err != nil || len(s) != 43 || len(raw) != 32 {
		t.Fatalf("NewToken = %q, %d bytes, %v", s, len(raw), err)
	}
	got, err := ParseToken(s)
	if err != nil || !bytes.Equal(got, raw) {
		t.Fatalf("ParseToken = %x, %v", got, err)
	}
	s2, _, _ := NewToken()
	if s2 == s {
		t.Fatal("two tokens are equal")
	}
	for _, bad := range []string{
		"",
		s[:42],
		s + "A",
		s + "=",
		s[:42] + "+",        // base64 std alphabet
		s[:42] + "!",        // not base64
		s[:42] + "B",        // non-canonical: unused low bits set
		" " + s[1:],         // space
		"Bearer " + s[7:43], // wrong length
	} {
		if _, err := ParseToken(bad); !errors.Is(err, ErrToken) {
			t.Errorf("ParseToken(%q) = %v, want ErrToken", bad, err)
		}
	}
}

func TestSessionKnownAnswer(t *testing.T) {
	v := loadVectors(t)
	tok := bytes.Repeat([]byte{0x42}, 32)
	id, key := SessionID(tok), SessionKey(tok)
	if got := hex.EncodeToString(id[:]); got != v.SessionID {
		t.Errorf("SessionID = %s, want %s", got, v.SessionID)
	}
	if got := hex.EncodeToString(key[:]); got != v.SessionKey {
		t.Errorf("SessionKey = %s, want %s", got, v.SessionKey)
	}
}

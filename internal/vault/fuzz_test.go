package vault

import (
	"bytes"
	"errors"
	"testing"
)

func FuzzParseIdentity(f *testing.F) {
	f.Add(kaIdentity(f).Marshal())
	f.Add([]byte{})
	f.Add([]byte{2})
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := ParseIdentity(b)
		if err != nil {
			return
		}
		if !bytes.Equal(id.Marshal(), b) {
			t.Fatalf("Marshal(ParseIdentity(%x)) = %x", b, id.Marshal())
		}
	})
}

func FuzzParseStatement(f *testing.F) {
	f.Add(kaStatement().Canonical())
	f.Add(Statement{}.Canonical())
	f.Add([]byte(statementDomain + "\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseStatement(b)
		if err != nil {
			return
		}
		if !bytes.Equal(s.Canonical(), b) {
			t.Fatalf("Canonical(ParseStatement(%x)) = %x", b, s.Canonical())
		}
	})
}

func FuzzParseShare(f *testing.F) {
	recovery := kaIdentity(f)
	shares, err := SplitIdentity(recovery, []string{"alice", "bob \"the\" builder", "Zoë"}, 2)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range shares {
		f.Add(s.Encode())
	}
	f.Add("dissent recovery share\n")
	f.Fuzz(func(t *testing.T, text string) {
		s, err := ParseShare(text)
		if err != nil {
			return
		}
		again, err := ParseShare(s.Encode())
		if err != nil || !sameShare(again, s) {
			t.Fatalf("ParseShare(Encode(%+v)) = %+v, %v", s, again, err)
		}
	})
}

func FuzzOpen(f *testing.F) {
	// A fixed nonce: fuzz workers are separate processes, and each must see
	// the same valid ciphertext.
	k := Key(seq(32))
	ad := FieldAD("memo-1", "body", 1)
	sealed := sealWithNonce(k, [24]byte(seq(24)), ad, []byte(kaBody))
	f.Add(ad, sealed)
	f.Add([]byte{}, []byte{})
	f.Add(ad, sealed[:SealOverhead])
	f.Fuzz(func(t *testing.T, ad2, b []byte) {
		pt, err := Open(k, ad2, b)
		if err == nil && (!bytes.Equal(ad2, ad) || !bytes.Equal(b, sealed)) {
			// Only Seal's own output, under its own ad, may open.
			t.Fatalf("Open accepted a forgery: ad %x, sealed %x, plaintext %q", ad2, b, pt)
		}
	})
}

// FuzzParseToken feeds bearer tokens as anyone on the network may send
// them, before any check of who they are: a token is accepted only in the
// one spelling NewToken gives its 32 bytes.
func FuzzParseToken(f *testing.F) {
	tok, _, err := NewToken()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tok)
	f.Add("")
	f.Add(tok[:len(tok)-1] + "_")
	f.Add(tok + "=")
	f.Fuzz(func(t *testing.T, s string) {
		raw, err := ParseToken(s)
		if err != nil {
			if !errors.Is(err, ErrToken) {
				t.Fatalf("ParseToken(%q): %v, want ErrToken", s, err)
			}
			return
		}
		if len(raw) != tokenSize || tokenEncoding.EncodeToString(raw) != s {
			t.Fatalf("ParseToken(%q) = %x, which NewToken spells otherwise", s, raw)
		}
	})
}

// FuzzParsePasswordParams feeds the parameter strings stored beside each
// password verifier: only String's own output, in range, is accepted.
func FuzzParsePasswordParams(f *testing.F) {
	f.Add(DefaultPasswordParams().String())
	f.Add(TestPasswordParams().String())
	f.Add("argon2id$t=02$m=19456$p=1")
	f.Add("argon2id$t=1$m=4294967296$p=256")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePasswordParams(s)
		if err != nil {
			if !errors.Is(err, ErrParams) {
				t.Fatalf("ParsePasswordParams(%q): %v, want ErrParams", s, err)
			}
			return
		}
		if !p.valid() || p.String() != s {
			t.Fatalf("ParsePasswordParams(%q) = %+v", s, p)
		}
	})
}

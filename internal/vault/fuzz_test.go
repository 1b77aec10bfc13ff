package vault

import (
	"bytes"
	"errors"
	"strings"
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

// FuzzParsePublicBox feeds the age recipients that public keys are stored
// and sealed to as: only the canonical, lower-case spelling of 32 bytes is
// accepted, which the sealing code's own reading of it (bech32Data,
// newX25519Recipient) takes as the same key.
func FuzzParsePublicBox(f *testing.F) {
	box := kaIdentity(f).Public().Box
	f.Add(box)
	f.Add("age1s5s0qzvfxzn4gayt0hwtg0hhtgxm7wsdycup4a8t5j5ca25mfe4qt4hs7q")
	f.Add(strings.ToUpper(box))
	f.Add(box[:len(box)-1] + "q")
	f.Add("age1")
	f.Add("age1pq1xyz")
	f.Add(kaIdentity(f).box.String())
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		err := ParsePublicBox(s)
		r, rerr := parseRecipient(s)
		if (err == nil) != (rerr == nil) {
			t.Fatalf("ParsePublicBox(%q) = %v, parseRecipient %v", s, err, rerr)
		}
		if err != nil {
			if err != ErrRecipient || r != nil {
				t.Fatalf("ParsePublicBox(%q) = %v, want ErrRecipient", s, err)
			}
			return
		}
		data := bech32Data(s)
		if len(s) != 62 || !strings.HasPrefix(s, "age1") || strings.ToLower(s) != s || len(data) != 32 || bech32Encode("age", data) != s {
			t.Fatalf("ParsePublicBox accepted %q, not the canonical spelling of a 32-byte key (%x)", s, data)
		}
		if r.String() != s {
			t.Fatalf("ParsePublicBox accepted %q, which age spells %q", s, r.String())
		}
		if _, err := newX25519Recipient(s); err != nil {
			t.Fatalf("ParsePublicBox accepted %q, which cannot be sealed to: %v", s, err)
		}
		if ParsePublicBox(strings.ToUpper(s)) == nil {
			t.Fatalf("%q accepted in upper case too", s)
		}
	})
}

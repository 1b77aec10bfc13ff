package vault

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestSealOpen(t *testing.T) {
	k, _ := NewKey()
	ad := FieldAD("memo-1", "body", 1)
	msg := []byte("We recommend a different course.")
	sealed := Seal(k, ad, msg)
	if len(sealed) != len(msg)+SealOverhead || sealed[0] != 1 {
		t.Fatalf("sealed is %d bytes starting %#x", len(sealed), sealed[0])
	}
	got, err := Open(k, ad, sealed)
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if bytes.Equal(Seal(k, ad, msg), sealed) {
		t.Fatal("two seals of one message are equal: nonce not random")
	}
	if got, err := Open(k, ad, Seal(k, ad, nil)); err != nil || len(got) != 0 {
		t.Fatalf("empty message: %q, %v", got, err)
	}

	other, _ := NewKey()
	flipped := func(i int) []byte {
		b := bytes.Clone(sealed)
		b[i] ^= 0x01
		return b
	}
	for _, c := range []struct {
		name   string
		k      Key
		ad     []byte
		sealed []byte
	}{
		{"wrong key", other, ad, sealed},
		{"another memo", k, FieldAD("memo-2", "body", 1), sealed},
		{"another field", k, FieldAD("memo-1", "title", 1), sealed},
		{"another key version", k, FieldAD("memo-1", "body", 2), sealed},
		{"no ad", k, nil, sealed},
		{"truncated by one", k, ad, sealed[:len(sealed)-1]},
		{"truncated to header", k, ad, sealed[:25]},
		{"empty", k, ad, nil},
		{"flipped version", k, ad, flipped(0)},
		{"flipped nonce", k, ad, flipped(5)},
		{"flipped ciphertext", k, ad, flipped(30)},
		{"flipped tag", k, ad, flipped(len(sealed) - 1)},
		{"appended byte", k, ad, append(bytes.Clone(sealed), 0)},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got, err := Open(c.k, c.ad, c.sealed); !errors.Is(err, ErrOpen) || got != nil {
				t.Fatalf("Open = %q, %v; want ErrOpen", got, err)
			}
		})
	}
}

// TestSealKnownAnswer checks the sealed format against XChaCha20-Poly1305
// computed independently in testdata/vectors.py.
func TestSealKnownAnswer(t *testing.T) {
	v := loadVectors(t)
	k, ad := Key(seq(32)), FieldAD("memo-01HV3K", "body", 1)
	got := sealWithNonce(k, [24]byte(seq(24)), ad, []byte(kaBody))
	if hex.EncodeToString(got) != v.Sealed {
		t.Fatalf("sealed =\n%x\nwant\n%s", got, v.Sealed)
	}
	if pt, err := Open(k, ad, unhex(t, v.Sealed)); err != nil || string(pt) != kaBody {
		t.Fatalf("Open = %q, %v", pt, err)
	}
}

func TestADUnambiguous(t *testing.T) {
	pairs := [][2][]string{
		{{"ab", "c"}, {"a", "bc"}},
		{{"a"}, {"a", ""}},
		{{}, {""}},
		{{"memo-1", "body"}, {"memo-1body"}},
	}
	for _, p := range pairs {
		if bytes.Equal(AD(p[0]...), AD(p[1]...)) {
			t.Errorf("AD(%q) == AD(%q)", p[0], p[1])
		}
	}
	if got, want := hex.EncodeToString(AD("ab", "")), "000000026162"+"00000000"; got != want {
		t.Errorf("AD = %s, want %s", got, want)
	}
}

func TestTagKnownAnswer(t *testing.T) {
	v := loadVectors(t)
	k := Key(seq(32))
	tag := k.Tag("memo", "memo-01HV3K")
	if got := hex.EncodeToString(tag[:]); got != v.Tag {
		t.Fatalf("Tag = %s, want %s", got, v.Tag)
	}
	if k.Tag("memo", "memo-01HV3K") != tag || k.Tag("memo", "memo-01HV3L") == tag {
		t.Fatal("Tag is not a deterministic function of its parts")
	}
}

func TestKeyRedacted(t *testing.T) {
	k := Key(seq(32))
	for _, f := range []string{"%v", "%s", "%x", "%#v", "%+v"} {
		if s := fmt.Sprintf(f, k); strings.Contains(s, "0102030405") || strings.Contains(s, "0 1 2 3") {
			t.Errorf("Sprintf(%q, key) = %q", f, s)
		}
	}
}

func TestTaggerIsTag(t *testing.T) {
	k, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	tg := k.Tagger()
	for _, parts := range [][]string{nil, {"a"}, {"author-index", "entry", "m1"}, {"a", "b"}, {"ab"}} {
		if tg.Tag(parts...) != k.Tag(parts...) {
			t.Errorf("Tagger().Tag(%q) differs from Tag", parts)
		}
	}
	id, err := NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	if id.IndexTag("x", "y") != id.IndexKey().Tag("x", "y") {
		t.Error("IndexTag differs from IndexKey().Tag")
	}
	if k.Tag("a", "b") == k.Tag("ab") {
		t.Error("tags of different parts collide")
	}
}

func TestTaggerConcurrentUse(t *testing.T) {
	k, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	tg := k.Tagger()
	want := k.Tag("memo", "m1")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				if tg.Tag("memo", "m1") != want {
					t.Error("a tag differs under concurrent use")
					return
				}
			}
		})
	}
	wg.Wait()
}

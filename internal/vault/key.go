package vault

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"math"
	"strconv"
	"sync"

	"golang.org/x/crypto/chacha20poly1305"
)

// Key is a 32-byte symmetric key: a memo data key, a key-encryption key, a
// session key or a user's index key.
type Key [32]byte

// NewKey returns a fresh random key.
func NewKey() (Key, error) {
	var k Key
	// crypto/rand.Read never fails since Go 1.24: it crashes the program
	// rather than return predictable bytes.
	rand.Read(k[:])
	return k, nil
}

// String redacts the key so that formatting one by mistake cannot leak it.
func (Key) String() string { return "vault.Key(REDACTED)" }

// GoString redacts the key for %#v as well.
func (Key) GoString() string { return "vault.Key(REDACTED)" }

const sealVersion = 1

// SealOverhead is how many bytes Seal adds to a plaintext: a version byte, a
// 24-byte nonce and a 16-byte tag.
const SealOverhead = 1 + chacha20poly1305.NonceSizeX + chacha20poly1305.Overhead

// Seal encrypts and authenticates plaintext under k, binding it to the
// associated data ad. The result is
//
//	version byte 1 || 24-byte nonce || ciphertext and 16-byte tag
//
// XChaCha20-Poly1305 is used because its 192-bit nonce can be drawn at random
// for every message: the chance of a repeat stays negligible however many
// fields one data key seals, so no counter has to be kept anywhere. The
// version byte is authenticated too (it is prepended to ad), so a later
// format cannot be confused with this one.
func Seal(k Key, ad, plaintext []byte) []byte {
	var nonce [chacha20poly1305.NonceSizeX]byte
	rand.Read(nonce[:])
	return sealWithNonce(k, nonce, ad, plaintext)
}

func sealWithNonce(k Key, nonce [chacha20poly1305.NonceSizeX]byte, ad, plaintext []byte) []byte {
	aead, err := chacha20poly1305.NewX(k[:])
	if err != nil {
		panic("vault: XChaCha20-Poly1305 rejected a 32-byte key")
	}
	out := make([]byte, 0, len(plaintext)+SealOverhead)
	out = append(out, sealVersion)
	out = append(out, nonce[:]...)
	return aead.Seal(out, nonce[:], plaintext, versionedAD(ad))
}

// Open reverses Seal. Any failure — wrong key, wrong associated data,
// truncation, a flipped bit, an unknown version — returns ErrOpen.
func Open(k Key, ad, sealed []byte) ([]byte, error) {
	if len(sealed) < SealOverhead || sealed[0] != sealVersion {
		return nil, ErrOpen
	}
	aead, err := chacha20poly1305.NewX(k[:])
	if err != nil {
		panic("vault: XChaCha20-Poly1305 rejected a 32-byte key")
	}
	nonce := sealed[1 : 1+chacha20poly1305.NonceSizeX]
	plaintext, err := aead.Open(nil, nonce, sealed[1+chacha20poly1305.NonceSizeX:], versionedAD(ad))
	if err != nil {
		return nil, ErrOpen
	}
	return plaintext, nil
}

func versionedAD(ad []byte) []byte {
	v := make([]byte, 0, 1+len(ad))
	v = append(v, sealVersion)
	return append(v, ad...)
}

// AD encodes parts as unambiguous associated data: each part is written as
// its length (4 bytes, big-endian) followed by its bytes. Since every part
// carries its own length, no two different lists of parts encode alike, so
// ("ab", "c") and ("a", "bc") bind to different contexts.
func AD(parts ...string) []byte {
	n := 0
	for _, p := range parts {
		n += 4 + len(p)
	}
	b := make([]byte, 0, n)
	for _, p := range parts {
		b = appendString(b, p)
	}
	return b
}

func appendString(b []byte, s string) []byte {
	if uint64(len(s)) > math.MaxUint32 {
		panic("vault: string longer than 4 GiB")
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// FieldAD is the associated data for one field of one memo under one key
// version. Sealing with it means a ciphertext copied to another memo, another
// field or another key version fails to open.
func FieldAD(memoID, field string, keyVersion int) []byte {
	return AD("dissent memo field v1", memoID, field, strconv.Itoa(keyVersion))
}

// Tag returns an HMAC-SHA256 tag over AD(parts...), for looking a value up
// by a keyed tag without storing it (a user's private index of their memos).
//
// The HMAC key is derived from k with HKDF-Expand (k is already uniformly
// random, so the Extract step is not needed) rather than being k itself, so
// that the same index key can also seal with XChaCha20-Poly1305 without one
// raw key ever serving two different primitives.
func (k Key) Tag(parts ...string) [32]byte {
	return k.Tagger().Tag(parts...)
}

// Tagger is Key.Tag with its HMAC key derived once, for many tags. Its
// keyed HMAC states are reused (Reset restores the keyed state without
// hashing the key again). It is safe for concurrent use.
type Tagger struct {
	hmacs *sync.Pool
}

// Tagger derives k's tag key.
func (k Key) Tagger() Tagger {
	tagKey, err := hkdf.Expand(sha256.New, k[:], "dissent tag key v1", 32)
	if err != nil {
		panic("vault: HKDF-Expand failed for 32 bytes")
	}
	return Tagger{&sync.Pool{New: func() any { return hmac.New(sha256.New, tagKey) }}}
}

// Tag is Key.Tag of the key the tagger was derived from.
func (t Tagger) Tag(parts ...string) [32]byte {
	m := t.hmacs.Get().(hash.Hash)
	m.Reset()
	m.Write(AD(parts...))
	var out [32]byte
	m.Sum(out[:0])
	t.hmacs.Put(m)
	return out
}

package vault

import (
	"bytes"
	"errors"
	"io"

	"filippo.io/age"
)

// SealTo encrypts plaintext with age to one X25519 recipient ("age1…"), in
// age's binary format without armor.
//
// age gives each message a fresh file key wrapped with an ephemeral X25519
// exchange, and authenticates the header and the payload, so a ciphertext
// can be neither read nor altered without the recipient's private key. Its
// X25519 stanzas are anonymous: a reader of the database cannot tell whom a
// mailbox entry is for.
func SealTo(recipient string, plaintext []byte) ([]byte, error) {
	return SealToMany([]string{recipient}, plaintext)
}

// SealToMany encrypts plaintext once with age to every recipient given; any
// one of them can open it.
func SealToMany(recipients []string, plaintext []byte) ([]byte, error) {
	if len(recipients) == 0 {
		return nil, ErrRecipient
	}
	rs := make([]age.Recipient, len(recipients))
	for i, s := range recipients {
		if _, err := parseRecipient(s); err != nil {
			return nil, err
		}
		r, err := newX25519Recipient(s)
		if err != nil {
			return nil, err
		}
		rs[i] = r
	}
	var buf bytes.Buffer
	buf.Grow(len(plaintext) + 100 + 120*len(recipients))
	w, err := age.Encrypt(&buf, rs...)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(plaintext); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// OpenSealed decrypts an age ciphertext made by SealTo or SealToMany. When no
// stanza is for this identity it fails fast with ErrNotForMe, after one
// X25519 operation per stanza and without touching the payload; any other
// failure (malformed, truncated, altered) is ErrOpen.
func (id *Identity) OpenSealed(ct []byte) ([]byte, error) {
	r, err := age.Decrypt(bytes.NewReader(ct), id.x)
	if err != nil {
		if _, ok := errors.AsType[*age.NoIdentityMatchError](err); ok {
			return nil, ErrNotForMe
		}
		return nil, ErrOpen
	}
	plaintext, err := io.ReadAll(r)
	if err != nil {
		return nil, ErrOpen
	}
	return plaintext, nil
}

// WrapKey seals a data key to a recipient (SealTo of the key's bytes).
func WrapKey(recipient string, k Key) ([]byte, error) {
	return SealTo(recipient, k[:])
}

// UnwrapKey opens a key wrapped by WrapKey. It returns ErrNotForMe or ErrOpen
// like OpenSealed, and ErrOpen if the plaintext is not a key.
func (id *Identity) UnwrapKey(wrapped []byte) (Key, error) {
	b, err := id.OpenSealed(wrapped)
	if err != nil {
		return Key{}, err
	}
	defer clear(b)
	var k Key
	if len(b) != len(k) {
		return Key{}, ErrOpen
	}
	copy(k[:], b)
	return k, nil
}

package vault

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
)

const tokenSize = 32

var tokenEncoding = base64.RawURLEncoding.Strict()

// NewToken returns a fresh session token: 32 random bytes, and their
// base64url encoding without padding for the client to hold.
//
// The token is the only secret a session has. The store keeps
// SessionID(token) to find the session and data sealed under
// SessionKey(token), so a stolen session table is useless without tokens.
func NewToken() (token string, raw []byte, err error) {
	raw = make([]byte, tokenSize)
	rand.Read(raw)
	return tokenEncoding.EncodeToString(raw), raw, nil
}

// ParseToken decodes a token made by NewToken. It accepts only the exact
// canonical encoding of 32 bytes and returns ErrToken for anything else.
func ParseToken(token string) ([]byte, error) {
	if len(token) != tokenEncoding.EncodedLen(tokenSize) {
		return nil, ErrToken
	}
	raw, err := tokenEncoding.DecodeString(token)
	if err != nil || len(raw) != tokenSize {
		return nil, ErrToken
	}
	return raw, nil
}

// SessionID is the store's name for a session: SHA-256 of its token. A
// 256-bit random token cannot be guessed from its hash, so the id can be
// stored and indexed in the clear.
func SessionID(token []byte) [32]byte {
	return sha256.Sum256(token)
}

// SessionKey is the key that seals a session's secrets (the user's unsealed
// identity) in the store: HKDF-SHA256 of the token with the label
// "dissent session v1". HKDF's HMAC-based construction is unrelated to the
// plain SHA-256 of SessionID, so knowing the id reveals nothing of the key.
func SessionKey(token []byte) Key {
	b, err := hkdf.Key(sha256.New, token, nil, "dissent session v1", 32)
	if err != nil {
		panic("vault: HKDF failed for 32 bytes")
	}
	var k Key
	copy(k[:], b)
	clear(b)
	return k
}

package service

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"sync"
	"time"

	"github.com/dissent-channel/dissent/internal/vault"
)

// identityCache keeps, in this node's memory, the parsed identities of
// sessions in use, so that a request need not derive again, from the seed
// its session unseals, keys it derived moments ago: HKDF and two base-point
// multiplications, about a quarter of a millisecond of CPU per request. A
// second cache keeps office members' unwrapped office identities the same
// way (an age unwrap more).
//
// It skips no check. Every request still finds its session row, checks its
// expiry, unseals its secrets with the token and checks the account's
// state and session epoch (and, for the office key, reads the member's
// wrap of it); only then is the identity taken from here, and only if it
// was made, for this same session, from the very bytes the request holds.
// Signing out, a disabled account, a password change or an office grant
// taken away therefore end access exactly as before. What the cache changes
// is how long private keys stay in memory: for as long as their session is
// used, at most the idle time-out after its last request, where before they
// lived for one request. A node that keeps keys in memory while their user
// is signed in is what the threat model already assumes ("a compromised app
// node sees the keys of users who sign in through it while they do").
type identityCache struct {
	mu      sync.Mutex
	max     int
	ttl     time.Duration
	entries map[[32]byte]cachedIdentity // by session id
}

type cachedIdentity struct {
	id   *vault.Identity
	from []byte // what it was made from: the sealed seed, or the wrapped office key
	used time.Time
}

func newIdentityCache(max int, ttl time.Duration) *identityCache {
	return &identityCache{max: max, ttl: ttl, entries: map[[32]byte]cachedIdentity{}}
}

// identity returns the identity session sid makes from the bytes from: the
// cached one if this session made it from the same bytes lately, otherwise
// make's.
func (c *identityCache) identity(sid []byte, from []byte, now time.Time, make func() (*vault.Identity, error)) (*vault.Identity, error) {
	if len(sid) != 32 {
		return make()
	}
	key := [32]byte(sid)
	c.mu.Lock()
	e, ok := c.entries[key]
	if ok && now.Sub(e.used) < c.ttl && subtle.ConstantTimeCompare(e.from, from) == 1 {
		e.used = now
		c.entries[key] = e
		c.mu.Unlock()
		return e.id, nil
	}
	c.mu.Unlock()
	id, err := make()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		for k, e := range c.entries {
			if now.Sub(e.used) >= c.ttl {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= c.max {
			clear(c.entries) // bounded memory whatever the number of sessions
		}
	}
	c.entries[key] = cachedIdentity{id: id, from: bytes.Clone(from), used: now}
	return id, nil
}

// forget drops a session's identity (at sign-out).
func (c *identityCache) forget(sid []byte) {
	if len(sid) != 32 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, [32]byte(sid))
}

// keyCache keeps the memo data keys each session unwrapped, by the SHA-256
// of the wrapped key: the office's list unwraps one per memo it shows, an
// age decryption and X25519 operations each, on every load. The same
// argument as for identities holds: every request still reads the wrap
// (the access row) it is entitled by, and a key is taken from here only for
// the very wrap this session opened before; the session's identity could
// open it again at will. A key in memory is no more than what a session's
// cached identity already gives a node; entries go with their session's
// idle time-out or sign-out.
type keyCache struct {
	mu       sync.Mutex
	max      int // keys in all
	n        int
	ttl      time.Duration
	sessions map[[32]byte]*sessionKeys
}

type sessionKeys struct {
	used time.Time
	keys map[[32]byte]vault.Key
}

func newKeyCache(max int, ttl time.Duration) *keyCache {
	return &keyCache{max: max, ttl: ttl, sessions: map[[32]byte]*sessionKeys{}}
}

// unwrap returns id.UnwrapKey(wrapped), from the cache when session sid
// unwrapped the same bytes lately.
func (c *keyCache) unwrap(sid []byte, id *vault.Identity, wrapped []byte, now time.Time) (vault.Key, error) {
	if len(sid) != 32 {
		return id.UnwrapKey(wrapped)
	}
	h := sha256.Sum256(wrapped)
	c.mu.Lock()
	if sk := c.sessions[[32]byte(sid)]; sk != nil && now.Sub(sk.used) < c.ttl {
		if k, ok := sk.keys[h]; ok {
			sk.used = now
			c.mu.Unlock()
			return k, nil
		}
	}
	c.mu.Unlock()
	k, err := id.UnwrapKey(wrapped)
	if err != nil {
		return k, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n >= c.max {
		for s, sk := range c.sessions {
			if now.Sub(sk.used) >= c.ttl {
				c.n -= len(sk.keys)
				delete(c.sessions, s)
			}
		}
		if c.n >= c.max {
			clear(c.sessions) // bounded memory whatever the number of memos
			c.n = 0
		}
	}
	sk := c.sessions[[32]byte(sid)]
	if sk == nil || now.Sub(sk.used) >= c.ttl {
		if sk != nil {
			c.n -= len(sk.keys)
		}
		sk = &sessionKeys{keys: map[[32]byte]vault.Key{}}
		c.sessions[[32]byte(sid)] = sk
	}
	if _, ok := sk.keys[h]; !ok {
		c.n++
	}
	sk.keys[h], sk.used = k, now
	return k, nil
}

// forget drops a session's keys (at sign-out).
func (c *keyCache) forget(sid []byte) {
	if len(sid) != 32 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if sk := c.sessions[[32]byte(sid)]; sk != nil {
		c.n -= len(sk.keys)
		delete(c.sessions, [32]byte(sid))
	}
}

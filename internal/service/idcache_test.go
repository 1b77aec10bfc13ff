package service

import (
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/vault"
)

func TestIdentityCache(t *testing.T) {
	mk := func() []byte {
		id, err := vault.NewIdentity()
		if err != nil {
			t.Fatal(err)
		}
		return id.Marshal()
	}
	parse := func(b []byte) func() (*vault.Identity, error) {
		return func() (*vault.Identity, error) { return vault.ParseIdentity(b) }
	}
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	c := newIdentityCache(3, 30*time.Minute)
	sid := make([]byte, 32)
	sid[0] = 1
	alice, bob := mk(), mk()

	first, err := c.identity(sid, alice, now, parse(alice))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("a hit is the parsed identity", func(t *testing.T) {
		again, err := c.identity(sid, alice, now.Add(time.Minute), parse(alice))
		if err != nil || again != first {
			t.Fatalf("got %p, %v; want the cached %p", again, err, first)
		}
	})
	t.Run("another identity under the same session is not served the cached one", func(t *testing.T) {
		got, err := c.identity(sid, bob, now.Add(2*time.Minute), parse(bob))
		if err != nil || got == first || string(got.Marshal()) != string(bob) {
			t.Fatalf("got %v, %v", got, err)
		}
	})
	t.Run("an entry unused for the idle time is parsed afresh", func(t *testing.T) {
		c.entries[[32]byte(sid)] = cachedIdentity{id: first, from: alice, used: now}
		got, err := c.identity(sid, alice, now.Add(31*time.Minute), parse(alice))
		if err != nil || got == first || string(got.Marshal()) != string(alice) {
			t.Fatalf("got %p, %v", got, err)
		}
	})
	t.Run("a forgotten session is parsed afresh", func(t *testing.T) {
		cached, _ := c.identity(sid, alice, now, parse(alice))
		c.forget(sid)
		got, err := c.identity(sid, alice, now, parse(alice))
		if err != nil || got == cached {
			t.Fatalf("got %p, %v", got, err)
		}
	})
	t.Run("a malformed identity is refused", func(t *testing.T) {
		if _, err := c.identity(sid, []byte("nonsense"), now.Add(time.Hour), parse([]byte("nonsense"))); err == nil {
			t.Fatal("accepted")
		}
	})
	t.Run("another session is not served this one's identity", func(t *testing.T) {
		cached, _ := c.identity(sid, alice, now, parse(alice))
		other := append(make([]byte, 31), 2)
		got, err := c.identity(other, alice, now, parse(alice))
		if err != nil || got == cached {
			t.Fatalf("got %p, %v", got, err)
		}
	})
	t.Run("without a session nothing is cached", func(t *testing.T) {
		a, _ := c.identity(nil, alice, now, parse(alice))
		b, _ := c.identity(nil, alice, now, parse(alice))
		if a == b {
			t.Fatal("cached without a session")
		}
	})
	t.Run("bounded", func(t *testing.T) {
		for i := range 10 {
			if _, err := c.identity(append(make([]byte, 31), byte(i+10)), alice, now, parse(alice)); err != nil {
				t.Fatal(err)
			}
			if len(c.entries) > 3 {
				t.Fatalf("%d entries, max 3", len(c.entries))
			}
		}
	})
}

func TestKeyCache(t *testing.T) {
	alice, err := vault.NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	bob, err := vault.NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	k, _ := vault.NewKey()
	wrapped, err := vault.WrapKey(alice.Public().Box, k)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	sid := append(make([]byte, 31), 1)
	c := newKeyCache(3, 30*time.Minute)
	if got, err := c.unwrap(sid, alice, wrapped, now); err != nil || got != k {
		t.Fatalf("first unwrap: %v", err)
	}
	// bob cannot open the wrap: whatever he gets came from the cache.
	if got, err := c.unwrap(sid, bob, wrapped, now.Add(time.Minute)); err != nil || got != k {
		t.Errorf("the same session and wrap is not served from the cache: %v", err)
	}
	if _, err := c.unwrap(append(make([]byte, 31), 2), bob, wrapped, now); err == nil {
		t.Error("another session was served this session's key")
	}
	if _, err := c.unwrap(sid, bob, wrapped, now.Add(time.Hour)); err == nil {
		t.Error("served after the idle time-out")
	}
	if _, err := c.unwrap(sid, alice, wrapped, now); err != nil {
		t.Fatal(err)
	}
	c.forget(sid)
	if _, err := c.unwrap(sid, bob, wrapped, now); err == nil {
		t.Error("served after sign-out")
	}
	for i := range 10 {
		w, _ := vault.WrapKey(alice.Public().Box, k)
		if _, err := c.unwrap(append(make([]byte, 31), byte(i)), alice, w, now); err != nil {
			t.Fatal(err)
		}
		if c.n > 3 {
			t.Fatalf("%d keys, max 3", c.n)
		}
	}
}

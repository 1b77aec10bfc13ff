package vault

import (
	"context"
	"encoding/hex"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestDeriveKnownAnswer(t *testing.T) {
	v := loadVectors(t)
	p := NewPasswords(TestPasswordParams(), 1)
	ver, kek, err := p.Derive(context.Background(), []byte("correct horse battery staple"), seq(16))
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(ver[:]); got != v.Verifier {
		t.Errorf("verifier = %s, want %s", got, v.Verifier)
	}
	if hex.EncodeToString(kek[:]) != v.KEK {
		t.Error("KEK differs from the vector")
	}
	if !VerifierEqual(ver[:], unhex(t, v.Verifier)) || VerifierEqual(ver[:], kek[:]) || VerifierEqual(ver[:], ver[:31]) {
		t.Error("VerifierEqual is wrong")
	}
	other, _, _ := p.Derive(context.Background(), []byte("correct horse battery stapler"), seq(16))
	if other == ver {
		t.Error("another password gives the same verifier")
	}
}

func TestDeriveRejects(t *testing.T) {
	p := NewPasswords(TestPasswordParams(), 1)
	if _, _, err := p.Derive(context.Background(), []byte("pw"), seq(15)); err == nil {
		t.Error("short salt accepted")
	}
	bad := PasswordParams{Time: 1, MemoryKiB: 7, Threads: 1}
	if _, _, err := p.DeriveWith(context.Background(), bad, []byte("pw"), seq(16)); !errors.Is(err, ErrParams) {
		t.Errorf("bad params: %v", err)
	}
}

// blockingArgon replaces argon2id with a stand-in that counts how many runs
// are inside it at once and waits for release to close.
type blockingArgon struct {
	active, peak atomic.Int32
	entered      chan struct{}
	release      chan struct{}
}

func newBlockingArgon(p *Passwords) *blockingArgon {
	b := &blockingArgon{entered: make(chan struct{}, 100), release: make(chan struct{})}
	p.argon = func(_, _ []byte, _, _ uint32, _ uint8, n uint32) []byte {
		a := b.active.Add(1)
		for {
			m := b.peak.Load()
			if a <= m || b.peak.CompareAndSwap(m, a) {
				break
			}
		}
		b.entered <- struct{}{}
		<-b.release
		b.active.Add(-1)
		return make([]byte, n)
	}
	return b
}

func TestPasswordsBoundConcurrency(t *testing.T) {
	const limit, callers = 3, 20
	p := NewPasswords(TestPasswordParams(), limit)
	b := newBlockingArgon(p)
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			if _, _, err := p.Derive(context.Background(), []byte("pw"), seq(16)); err != nil {
				t.Error(err)
			}
		})
	}
	for range limit {
		<-b.entered
	}
	select {
	case <-b.entered:
		t.Fatal("more derivations ran at once than the limit")
	case <-time.After(50 * time.Millisecond):
	}
	if got := b.active.Load(); got != limit {
		t.Fatalf("%d running, want %d", got, limit)
	}
	close(b.release)
	wg.Wait()
	if got := b.peak.Load(); got > limit {
		t.Fatalf("peak of %d running at once, limit %d", got, limit)
	}
}

func TestPasswordsWeighHeavierParams(t *testing.T) {
	base := TestPasswordParams()
	heavy := base
	heavy.MemoryKiB *= 2
	p := NewPasswords(base, 2)
	b := newBlockingArgon(p)
	done := make(chan error, 2)
	go func() { _, _, err := p.DeriveWith(context.Background(), heavy, []byte("pw"), seq(16)); done <- err }()
	<-b.entered
	go func() { _, _, err := p.Derive(context.Background(), []byte("pw"), seq(16)); done <- err }()
	select {
	case <-b.entered:
		t.Fatal("a run started beside one that holds all the memory")
	case <-time.After(50 * time.Millisecond):
	}
	close(b.release)
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

func TestPasswordsCancelWhileWaiting(t *testing.T) {
	p := NewPasswords(TestPasswordParams(), 1)
	b := newBlockingArgon(p)
	first := make(chan error, 1)
	go func() { _, _, err := p.Derive(context.Background(), []byte("pw"), seq(16)); first <- err }()
	<-b.entered

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { _, _, err := p.Derive(ctx, []byte("pw"), seq(16)); errc <- err }()
	time.Sleep(10 * time.Millisecond)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Derive = %v, want context.Canceled", err)
	}

	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, _, err := p.Derive(ctx, []byte("pw"), seq(16)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Derive = %v, want context.DeadlineExceeded", err)
	}
	close(b.release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	// The slot a cancelled waiter never took must not be lost.
	b2 := newBlockingArgon(p)
	close(b2.release)
	if _, _, err := p.Derive(context.Background(), []byte("pw"), seq(16)); err != nil {
		t.Fatal(err)
	}
}

func TestPasswordParamsString(t *testing.T) {
	d := DefaultPasswordParams()
	if s := d.String(); s != "argon2id$t=2$m=19456$p=1" {
		t.Fatalf("String = %q", s)
	}
	for _, p := range []PasswordParams{d, TestPasswordParams(), {Time: 3, MemoryKiB: 12288, Threads: 4}} {
		got, err := ParsePasswordParams(p.String())
		if err != nil || got != p {
			t.Errorf("round trip of %v = %v, %v", p, got, err)
		}
	}
	for _, bad := range []string{
		"",
		"argon2i$t=2$m=19456$p=1",
		"argon2id$t=2$m=19456",
		"argon2id$t=2$m=19456$p=1$",
		"argon2id$m=19456$t=2$p=1",
		"argon2id$t=02$m=19456$p=1",
		"argon2id$t=+2$m=19456$p=1",
		"argon2id$t= 2$m=19456$p=1",
		"argon2id$t=0$m=19456$p=1",
		"argon2id$t=65$m=19456$p=1",
		"argon2id$t=2$m=4194304$p=1",
		"argon2id$t=2$m=7$p=1",
		"argon2id$t=2$m=64$p=9",
		"argon2id$t=2$m=19456$p=0",
		"argon2id$t=2$m=19456$p=256",
		"ARGON2ID$t=2$m=19456$p=1",
	} {
		if _, err := ParsePasswordParams(bad); !errors.Is(err, ErrParams) {
			t.Errorf("ParsePasswordParams(%q) = %v, want ErrParams", bad, err)
		}
	}
}

func TestNewSalt(t *testing.T) {
	a, _ := NewSalt()
	b, _ := NewSalt()
	if len(a) != 16 || string(a) == string(b) {
		t.Fatal("NewSalt is not 16 fresh bytes")
	}
}

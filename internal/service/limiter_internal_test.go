package service

import (
	"strconv"
	"testing"
	"time"
)

// TestLimiterSurvivesAFlood: made-up names past the limiter's room make it
// forget names with few failures, never one at its limit.
func TestLimiterSurvivesAFlood(t *testing.T) {
	now := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	l := newLimiter(3, time.Hour)
	for range 3 {
		if wait, _ := l.take("victim", now); wait != 0 {
			t.Fatal("refused within the limit")
		}
		l.fail("victim", now)
	}
	for i := range limiterNames + 1 {
		name := "x" + strconv.Itoa(i)
		l.take(name, now)
		l.fail(name, now)
	}
	if wait, failed := l.take("victim", now); wait == 0 || !failed {
		t.Error("a flood of made-up names gave the victim's guesser more tries")
	}
	if len(l.fails) > limiterNames {
		t.Errorf("the limiter tracks %d names, more than %d", len(l.fails), limiterNames)
	}
	if wait, _ := l.take("victim", now.Add(time.Hour+time.Second)); wait != 0 {
		t.Error("the victim is still refused after the window")
	}
}

// TestLimiterSaysWhenToTryAgain: a refusal says how long until the oldest
// failure that holds the name at its limit leaves the window.
func TestLimiterSaysWhenToTryAgain(t *testing.T) {
	now := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	l := newLimiter(2, time.Hour)
	guess := func(at time.Duration) (time.Duration, bool) {
		wait, failed := l.take("victim", now.Add(at))
		if wait == 0 {
			l.fail("victim", now.Add(at))
		}
		return wait, failed
	}
	for _, at := range []time.Duration{0, 10 * time.Minute} {
		if wait, _ := guess(at); wait != 0 {
			t.Fatal("refused within the limit")
		}
	}
	if wait, failed := guess(25 * time.Minute); wait != 35*time.Minute || !failed {
		t.Errorf("at the limit: wait %v, want 35m", wait)
	}
	if wait, _ := guess(time.Hour); wait != time.Second {
		t.Errorf("as the oldest leaves: wait %v, want the least, 1s", wait)
	}
	if wait, _ := guess(time.Hour + time.Second); wait != 0 {
		t.Errorf("after the oldest left: wait %v", wait)
	}
	if wait, _ := guess(time.Hour + 2*time.Second); wait != 10*time.Minute-2*time.Second {
		t.Errorf("at the limit again: wait %v, want the second's departure", wait)
	}
}

// TestLimiterAttemptsUnderWay: attempts let through and not yet settled
// count against the limit, so that a burst cannot all pass before any has
// failed; but they hold the name back only for a moment, and once they are
// settled as right, nothing is left of them.
func TestLimiterAttemptsUnderWay(t *testing.T) {
	now := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	l := newLimiter(3, time.Hour)
	for range 3 {
		if wait, _ := l.take("office", now); wait != 0 {
			t.Fatal("refused within the limit")
		}
	}
	if wait, failed := l.take("office", now); wait != pendingWait || failed {
		t.Fatalf("a fourth at once: wait %v, failed %v; want %v, not failed", wait, failed, pendingWait)
	}
	l.settle("office")
	l.reset("office")
	l.fail("office", now)
	if len(l.pending) != 0 {
		t.Fatalf("attempts left under way: %v", l.pending)
	}
	for i := range 2 {
		if wait, _ := l.take("office", now); wait != 0 {
			t.Fatalf("after one failure, attempt %d refused", i)
		}
		l.settle("office")
	}
}

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
		if l.take("victim", now) != 0 {
			t.Fatal("refused within the limit")
		}
	}
	for i := range limiterNames + 1 {
		l.take("x"+strconv.Itoa(i), now)
	}
	if l.take("victim", now) == 0 {
		t.Error("a flood of made-up names gave the victim's guesser more tries")
	}
	if len(l.fails) > limiterNames {
		t.Errorf("the limiter tracks %d names, more than %d", len(l.fails), limiterNames)
	}
	if l.take("victim", now.Add(time.Hour+time.Second)) != 0 {
		t.Error("the victim is still refused after the window")
	}
}

// TestLimiterSaysWhenToTryAgain: a refusal says how long until the oldest
// failure that holds the name at its limit leaves the window.
func TestLimiterSaysWhenToTryAgain(t *testing.T) {
	now := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	l := newLimiter(2, time.Hour)
	for _, at := range []time.Duration{0, 10 * time.Minute} {
		if l.take("victim", now.Add(at)) != 0 {
			t.Fatal("refused within the limit")
		}
	}
	if got := l.take("victim", now.Add(25*time.Minute)); got != 35*time.Minute {
		t.Errorf("at the limit: wait %v, want 35m", got)
	}
	if got := l.take("victim", now.Add(time.Hour)); got != time.Second {
		t.Errorf("as the oldest leaves: wait %v, want the least, 1s", got)
	}
	if got := l.take("victim", now.Add(time.Hour+time.Second)); got != 0 {
		t.Errorf("after the oldest left: wait %v", got)
	}
	if got := l.take("victim", now.Add(time.Hour+2*time.Second)); got != 10*time.Minute-2*time.Second {
		t.Errorf("at the limit again: wait %v, want the second's departure", got)
	}
}

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
		if !l.take("victim", now) {
			t.Fatal("refused within the limit")
		}
	}
	for i := range limiterNames + 1 {
		l.take("x"+strconv.Itoa(i), now)
	}
	if l.take("victim", now) {
		t.Error("a flood of made-up names gave the victim's guesser more tries")
	}
	if len(l.fails) > limiterNames {
		t.Errorf("the limiter tracks %d names, more than %d", len(l.fails), limiterNames)
	}
	if !l.take("victim", now.Add(time.Hour+time.Second)) {
		t.Error("the victim is still refused after the window")
	}
}

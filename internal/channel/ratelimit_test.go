package channel

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestRateLimitedSaysWhen: the message rounds the wait up to a minute, and
// Retry-After to a second, wrapped or not.
func TestRateLimitedSaysWhen(t *testing.T) {
	for _, c := range []struct {
		wait    time.Duration
		message string
		seconds int
	}{
		{time.Second, "too many: try again in a minute", 1},
		{59*time.Second + time.Millisecond, "too many: try again in a minute", 60},
		{61 * time.Second, "too many: try again in 2 minutes", 61},
		{59*time.Minute + 30*time.Second, "too many: try again in 60 minutes", 3570},
	} {
		err := RateLimited(c.wait, "too many")
		if err.Code != ERATELIMIT || err.Message != c.message {
			t.Errorf("%v: %s %q", c.wait, err.Code, err.Message)
		}
		if got := RetryAfterSeconds(fmt.Errorf("wrapped: %w", err)); got != c.seconds {
			t.Errorf("%v: Retry-After %d, want %d", c.wait, got, c.seconds)
		}
	}
	if RetryAfterSeconds(errors.New("plain")) != 0 || RetryAfterSeconds(Errorf(ECONFLICT, "no")) != 0 {
		t.Error("a wait for an error that asks none")
	}
}

package config_test

import (
	"strings"
	"testing"
)

func TestMemoryLimit(t *testing.T) {
	for _, c := range []struct {
		name, toml string
		want       int
		summary    string
	}{
		{"default: room for the sign-ins allowed at once", "", 64 + 2*19*8, "memory limit: 368 MiB (soft)"},
		{"follows argon2id memory and sign-ins", "[security]\nargon_memory_kib = 65536\nmax_concurrent_sign_ins = 4", 64 + 2*64*4, "memory limit: 576 MiB (soft)"},
		{"set", "[server]\nmemory_limit_mib = 1024", 1024, "memory limit: 1024 MiB (soft)"},
		{"none", "[server]\nmemory_limit_mib = -1", -1, "memory limit: none"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := load(t, c.toml)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Server.MemoryLimitMiB != c.want {
				t.Errorf("memory_limit_mib = %d, want %d", cfg.Server.MemoryLimitMiB, c.want)
			}
			if s := strings.Join(cfg.Summary(), "\n"); !strings.Contains(s, c.summary) {
				t.Errorf("summary lacks %q:\n%s", c.summary, s)
			}
		})
	}
	for _, v := range []string{"10", "-2"} {
		t.Run("refused: "+v, func(t *testing.T) {
			if _, err := load(t, "[server]\nmemory_limit_mib = "+v); err == nil || !strings.Contains(err.Error(), "memory_limit_mib") {
				t.Errorf("memory_limit_mib = %s: %v, want an error naming it", v, err)
			}
		})
	}
}

func TestMetricsToken(t *testing.T) {
	cfg, err := load(t, "")
	if err != nil {
		t.Fatal(err)
	}
	if s := strings.Join(cfg.Summary(), "\n"); cfg.Server.MetricsToken != "" || !strings.Contains(s, "metrics: not served") {
		t.Errorf("by default: token %q, summary:\n%s", cfg.Server.MetricsToken, s)
	}
	const token = "0123456789abcdef0123"
	cfg, err = load(t, "[server]\nmetrics_token = \""+token+"\"")
	if err != nil {
		t.Fatal(err)
	}
	if s := strings.Join(cfg.Summary(), "\n"); cfg.Server.MetricsToken != token || strings.Contains(s, token) || !strings.Contains(s, "metrics: GET /metrics") {
		t.Errorf("set: token %q, summary (which must not show it):\n%s", cfg.Server.MetricsToken, s)
	}
	if _, err := load(t, "[server]\nmetrics_token = \"short\""); err == nil || !strings.Contains(err.Error(), "metrics_token") {
		t.Errorf("a short token: %v, want an error naming it", err)
	}
}

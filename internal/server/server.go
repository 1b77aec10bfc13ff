// Package server wires a deployment together from its configuration: the
// store, the service and the HTTP handlers. It holds no rules of its own.
package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"github.com/dissent-channel/dissent/internal/clientip"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dissent-channel/dissent/internal/api"
	"github.com/dissent-channel/dissent/internal/config"
	"github.com/dissent-channel/dissent/internal/jobs"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/postgres"
	"github.com/dissent-channel/dissent/internal/store/sqlite"
	"github.com/dissent-channel/dissent/internal/store/sqlstore"
	"github.com/dissent-channel/dissent/internal/vault"
)

// OpenStore opens the configured store; migrate applies pending migrations.
func OpenStore(ctx context.Context, cfg *config.Config, migrate bool) (store.Store, error) {
	return OpenStoreMigrating(ctx, cfg, migrate, nil)
}

// OpenStoreMigrating is OpenStore that tells migrated (if not nil) of each
// migration it applies: a long one should not look like a hang.
func OpenStoreMigrating(ctx context.Context, cfg *config.Config, migrate bool, migrated sqlstore.Migrated) (store.Store, error) {
	switch cfg.Store.Driver {
	case "postgres":
		return postgres.Open(ctx, cfg.Store.URL, postgres.Options{Migrate: migrate, Migrated: migrated, MaxConns: cfg.Store.MaxConns})
	default:
		if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
			return nil, fmt.Errorf("server: data folder: %w", err)
		}
		return sqlite.Open(ctx, cfg.SQLitePath(), sqlite.Options{Migrate: migrate, Migrated: migrated})
	}
}

// ReadLedgerKey reads the ledger's signing key from its file.
func ReadLedgerKey(cfg *config.Config) (string, error) {
	b, err := os.ReadFile(cfg.LedgerKeyPath())
	if err != nil {
		return "", fmt.Errorf("server: the ledger key: %w (was the data folder set up with `dissent init`?)", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// KeyAnchorMigration is the migration that starts anchoring public keys
// in the ledger: the process that applies it anchors the keys made before
// (service.AnchorKeys).
const KeyAnchorMigration = "0007_keys_anchor.sql"

// NewService builds the service over st. It refuses a ledger key that is
// not the deployment's (service.CheckLedgerKey). With anchorKeys (this
// process applied KeyAnchorMigration, or an operator asked) it anchors the
// public keys no ledger entry anchors; then it checks that none is left
// (service.CheckKeysAnchored).
func NewService(cfg *config.Config, st store.Store, ledgerKey string, log *slog.Logger, anchorKeys bool) (*service.Service, error) {
	profile, err := cfg.Profile()
	if err != nil {
		return nil, err
	}
	cal, err := cfg.Calendar()
	if err != nil {
		return nil, err
	}
	pw := vault.NewPasswords(cfg.PasswordParams(), cfg.Security.MaxSignIns)
	svc := service.New(st, service.Config{
		Profile: profile, Calendar: cal, MaxBody: cfg.Channel.MaxBody,
		SessionTTL: cfg.Security.SessionTTL.Duration, SessionIdle: cfg.Security.SessionIdle.Duration,
		Origin: cfg.Channel.Origin, LedgerKey: ledgerKey, Witnesses: cfg.Channel.Witnesses, SignInLimit: cfg.Security.SignInLimit,
		SignInAddressLimit: cfg.Security.SignInAddressLimit, Suppress: cfg.Stats.Suppress,
		Reminders: jobs.Policy(cfg),
	}, pw, log)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := svc.CheckLedgerKey(ctx); err != nil {
		return nil, err
	}
	if anchorKeys {
		n, err := svc.AnchorKeys(ctx)
		if err != nil {
			return nil, fmt.Errorf("anchor public keys in the ledger: %w", err)
		}
		if log != nil {
			log.Info("anchored in the ledger the public keys no entry anchored, as the database holds them", "keys", n)
		}
	}
	if _, err := svc.CheckKeysAnchored(ctx); err != nil {
		return nil, fmt.Errorf("check that public keys are anchored: %w", err)
	}
	return svc, nil
}

// Handler is every HTTP route: the JSON API, health, metrics and pages.
func Handler(svc *service.Service, cfg *config.Config, log *slog.Logger, pages func(*http.ServeMux)) http.Handler {
	mux := http.NewServeMux()
	// The API body limit leaves room for a full memo body after JSON escaping.
	api.Register(mux, svc, api.Options{MaxBody: int64(cfg.Channel.MaxBody)*2 + 64<<10, Log: log})
	api.Health(mux, svc)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dissent_http_requests_total", Help: "HTTP requests by route pattern and status."}, []string{"route", "code"})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "dissent_http_request_seconds", Help: "HTTP request latency by route pattern.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}, []string{"route"})
	reg.MustRegister(requests, latency)
	if _, _, ok := svc.CommitStats(); ok {
		reg.MustRegister(
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "dissent_store_commits_total", Help: "Write transactions committed."},
				func() float64 { c, _, _ := svc.CommitStats(); return float64(c) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "dissent_store_syncs_total", Help: "Database commits, one fsync each; with group commit several write transactions share one."},
				func() float64 { _, s, _ := svc.CommitStats(); return float64(s) }))
	}
	mux.Handle("GET /metrics", metricsGate(cfg.Server.MetricsToken, promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))
	if pages != nil {
		pages(mux)
	}
	// config.Check refused trusted proxies that do not parse; should one
	// get here anyway, none is trusted, the safe side.
	addrs, err := clientip.New(cfg.Server.TrustedProxies, log)
	if err != nil {
		log.Error("server.trusted_proxies: none trusted", "err", err)
		addrs, _ = clientip.New(nil, log)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		r = r.WithContext(clientip.With(r.Context(), addrs.Addr(r)))
		sw := &statusWriter{ResponseWriter: w, code: 200}
		sw.Header().Set("Referrer-Policy", "no-referrer")
		sw.Header().Set("X-Frame-Options", "DENY")
		defer func() {
			if p := recover(); p != nil {
				log.Error("panic serving request", "route", r.Pattern, "panic", p)
				if !sw.wrote {
					http.Error(sw, "internal error", http.StatusInternalServerError)
				}
			}
			// The mux set r.Pattern when it chose the route.
			pattern := r.Pattern
			if pattern == "" {
				pattern = "unmatched"
			}
			requests.WithLabelValues(pattern, fmt.Sprint(sw.code)).Inc()
			latency.WithLabelValues(pattern).Observe(time.Since(start).Seconds())
		}()
		mux.ServeHTTP(sw, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.code, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Serve listens on addr and serves h until ctx ends; ready is called with
// the URL once the listener is open.
func Serve(ctx context.Context, addr string, h http.Handler, ready func(url string)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("server: listen on %q: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if ready != nil {
		ready("http://" + ln.Addr().String() + "/")
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		shut, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(shut); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
}

// metricsGate serves the metrics only to a request that carries token as
// its bearer token, and to none if token is empty. Counted by route and
// time, requests say when memos are drafted, signed and submitted, which
// is for the operators who run the server, not for anyone who can reach
// it. The token is compared through its hash, in constant time.
func metricsGate(token string, next http.Handler) http.Handler {
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token == "" {
			http.Error(w, "metrics are not served: set server.metrics_token (DISSENT_METRICS_TOKEN) and send it as a bearer token", http.StatusForbidden)
			return
		}
		got, ok := api.Bearer(r)
		if h := sha256.Sum256([]byte(got)); !ok || subtle.ConstantTimeCompare(h[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			http.Error(w, "metrics need the bearer token set in server.metrics_token", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

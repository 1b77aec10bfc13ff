package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, to create and drop the run's database

	"github.com/dissent-channel/dissent/internal/config"
	"github.com/dissent-channel/dissent/internal/vault"
)

// serverTimeout bounds how long a child server may take to start or stop.
const serverTimeout = 60 * time.Second

// server is the deployment under load: a child `dissent serve` this run
// started, or one it was pointed at.
type server struct {
	url  string
	proc process // pid 0 when unknown (--url without --pid)

	// For a child server only.
	exe, data string
	cmd       *exec.Cmd
	done      chan error
	log       *os.File
	logStart  int64  // where this start's lines begin in the log
	debug     string // the profiler's base URL, when started with one
}

// adminName is the administrator a child deployment is set up with.
const adminName = "bench-admin"

// password is a bench account's password. A bench deployment holds no
// secrets, and deterministic passwords let a kept data folder be reused.
func password(username string) string { return username + "-bench-password" }

// dataFolder prepares the data folder of a child server: a fresh temporary
// one, or the one named, which may already hold a deployment from an earlier
// run (reused as it is). It returns whether it is new, and a function that
// removes it if this run made it and is not to keep it.
func dataFolder(opt *Options) (dir string, fresh bool, cleanup func(), err error) {
	cleanup = func() {}
	if opt.Data == "" {
		dir, err = os.MkdirTemp("", "dissent-bench-*")
		if err != nil {
			return "", false, cleanup, err
		}
		if !opt.Keep {
			cleanup = func() { _ = os.RemoveAll(dir) }
		}
		return dir, true, cleanup, nil
	}
	dir, err = filepath.Abs(opt.Data)
	if err != nil {
		return "", false, cleanup, err
	}
	// A folder is bench's to use only if it is new or empty, or an
	// earlier run made it (its dissent.toml says so): a deployment's own
	// folder, whose signing key may live elsewhere, is never written to.
	if entries, err := os.ReadDir(dir); errors.Is(err, os.ErrNotExist) || err == nil && len(entries) == 0 {
		return dir, true, cleanup, os.MkdirAll(dir, 0o700)
	} else if err != nil {
		return "", false, cleanup, err
	}
	if toml, err := os.ReadFile(filepath.Join(dir, "dissent.toml")); err != nil || !strings.HasPrefix(string(toml), benchMark) {
		return "", false, cleanup, fmt.Errorf("bench: %s is not empty and is not a folder an earlier run of dissent bench made: give a new or empty --data folder, or one a run kept (--keep); bench never runs its load on a deployment's own folder", dir)
	}
	_, err = os.Stat(filepath.Join(dir, "ledger.key"))
	switch {
	case err == nil:
		// The folder's configuration says where its store is; the run
		// measures that store, so --store must name it.
		cfg, err := config.Load(dir, func(string) string { return "" })
		if err != nil {
			return "", false, cleanup, fmt.Errorf("bench: the deployment in %s: %w", dir, err)
		}
		if cfg.Store.Driver != opt.Store {
			return "", false, cleanup, fmt.Errorf("bench: %s holds a %s deployment, not %s: give --store %s, or an empty or new --data folder",
				dir, cfg.Store.Driver, opt.Store, cfg.Store.Driver)
		}
		return dir, false, cleanup, nil
	case errors.Is(err, os.ErrNotExist):
		return "", false, cleanup, fmt.Errorf("bench: %s holds a dissent.toml an earlier run wrote but no ledger.key: that run did not finish setting it up; delete the folder and run again", dir)
	default:
		return "", false, cleanup, err
	}
}

// benchMark opens every dissent.toml bench writes.
const benchMark = "# Written by dissent bench.\n"

// writeConfig writes the child deployment's dissent.toml.
func writeConfig(dir string, argon vault.PasswordParams, storeURL string) error {
	var b strings.Builder
	b.WriteString(benchMark + "[security]\n")
	fmt.Fprintf(&b, "argon_time = %d\nargon_memory_kib = %d\nargon_threads = %d\n", argon.Time, argon.MemoryKiB, argon.Threads)
	if !config.StrongEnough(argon) {
		b.WriteString("weak_passwords_for_tests = true # --fast-argon\n")
	}
	if storeURL != "" {
		fmt.Fprintf(&b, "\n[store]\ndriver = \"postgres\"\nurl = %q\n", storeURL)
	}
	return os.WriteFile(filepath.Join(dir, "dissent.toml"), []byte(b.String()), 0o600)
}

// childEnv is the environment without DISSENT_* variables, so that the
// child's configuration is the data folder's alone.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DISSENT_") {
			env = append(env, kv)
		}
	}
	return env
}

// initDeployment runs `dissent init` on a fresh data folder.
func initDeployment(ctx context.Context, exe, dir string) error {
	ctx, cancel := context.WithTimeout(ctx, serverTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "init", "--data", dir, "--admin", adminName, "--password-stdin")
	cmd.Env = childEnv()
	cmd.Stdin = strings.NewReader(password(adminName) + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("bench: dissent init: %w\n%s", err, out)
	}
	return nil
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// startServer starts `dissent serve` on dir, listening on a free loopback
// port (and its profiler on another, if profile), and returns once the
// process runs (not yet ready).
func startServer(exe, dir, metricsToken string, profile bool) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	args := []string{"serve", "--data", dir, "--addr", fmt.Sprintf("127.0.0.1:%d", port)}
	debug := ""
	if profile {
		dport, err := freePort()
		if err != nil {
			return nil, err
		}
		debug = fmt.Sprintf("127.0.0.1:%d", dport)
		args = append(args, "--debug-addr", debug)
		debug = "http://" + debug
	}
	logf, err := os.OpenFile(filepath.Join(dir, "bench-server.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	logStart, err := logf.Seek(0, io.SeekEnd)
	if err != nil {
		logf.Close()
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(exe, args...)
	cmd.Env = append(childEnv(), "DISSENT_METRICS_TOKEN="+metricsToken)
	cmd.Stdout = logf
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("bench: start dissent serve: %w", err)
	}
	s := &server{url: "http://" + addr, proc: process{cmd.Process.Pid}, exe: exe, data: dir, cmd: cmd, done: make(chan error, 1), log: logf, logStart: logStart, debug: debug}
	go func() { s.done <- cmd.Wait() }()
	return s, nil
}

// waitReady polls /readyz every 2 ms until it answers 200, the process
// exits, or the time-out passes. It returns how long that took from since.
func (s *server) waitReady(ctx context.Context, c *client, since time.Time) (time.Duration, error) {
	deadline := time.Now().Add(serverTimeout)
	for time.Now().Before(deadline) {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		ok := c.ready(pctx)
		cancel()
		if ok {
			return time.Since(since), nil
		}
		if s.done != nil {
			select {
			case err := <-s.done:
				s.done <- err
				return 0, fmt.Errorf("bench: the server exited before it was ready (%v): see %s", err, filepath.Join(s.data, "bench-server.log"))
			default:
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	return 0, fmt.Errorf("bench: the server was not ready within %s", serverTimeout)
}

// waitSelfCheck waits, at most d, until the server's log says that the
// ledger self-check it runs in the background after start has ended: it
// reads the whole ledger, and figures taken meanwhile would carry its cost.
func (s *server) waitSelfCheck(ctx context.Context, d time.Duration) (time.Duration, bool) {
	start := time.Now()
	if s.cmd == nil {
		return 0, false
	}
	path := filepath.Join(s.data, "bench-server.log")
	for time.Since(start) < d && ctx.Err() == nil {
		if b, err := os.ReadFile(path); err == nil && int64(len(b)) >= s.logStart && strings.Contains(string(b[s.logStart:]), "ledger self-check") {
			return time.Since(start), true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return time.Since(start), false
}

// stop ends a child server with SIGTERM, and SIGKILL if it has not exited
// in time. It does nothing for a server this run did not start.
func (s *server) stop() error {
	if s.cmd == nil {
		return nil
	}
	defer s.log.Close()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		s.done <- err
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nil // it was told to stop
		}
		return err
	case <-time.After(serverTimeout):
		_ = s.cmd.Process.Kill()
		err := <-s.done
		s.done <- err
		return fmt.Errorf("bench: the server did not stop within %s and was killed", serverTimeout)
	}
}

// postgresDatabase creates a fresh database (or, without the right to, a
// schema) on the server at base for this run. It returns the URL a
// deployment reaches it by, the SQL statement that removes it, and a
// function that runs that statement.
func postgresDatabase(ctx context.Context, base string) (dbURL, dropSQL string, drop func() error, err error) {
	u, err := checkLoopbackURL("--pg-url", base)
	if err != nil {
		return "", "", nil, err
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		return "", "", nil, err
	}
	defer admin.Close()
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := admin.PingContext(pctx); err != nil {
		return "", "", nil, fmt.Errorf("bench: PostgreSQL at %s: %w", u.Redacted(), err)
	}
	name := "dissent_bench_" + strings.ToLower(rand.Text()[:12])
	run := *u
	if _, err := admin.ExecContext(pctx, `CREATE DATABASE `+name); err == nil {
		run.Path = "/" + name
		dropSQL = `DROP DATABASE ` + name + ` WITH (FORCE)`
	} else if _, err := admin.ExecContext(pctx, `CREATE SCHEMA `+name); err == nil {
		q := run.Query()
		q.Set("search_path", name)
		run.RawQuery = q.Encode()
		dropSQL = `DROP SCHEMA ` + name + ` CASCADE`
	} else {
		return "", "", nil, fmt.Errorf("bench: cannot create a database or a schema for the run: %w", err)
	}
	drop = func() error {
		admin, err := sql.Open("pgx", base)
		if err != nil {
			return err
		}
		defer admin.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err = admin.ExecContext(ctx, dropSQL)
		return err
	}
	return run.String(), dropSQL, drop, nil
}

// tail returns the last lines of a file, for an error message.
func tail(path string, lines int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var last []string
	sc := bufio.NewScanner(io.LimitReader(f, 64<<20))
	for sc.Scan() {
		last = append(last, sc.Text())
		if len(last) > lines {
			last = last[1:]
		}
	}
	return strings.Join(last, "\n")
}

// profile asks the child server's profiler for a CPU profile of the next d
// and writes it to the run's profile folder as NAME.pprof. The returned
// function waits for it; it does nothing without --profile, nor for a
// phase longer than a workload's --duration (seeding, bounded by its count:
// the profiler would hold the run for the hours it may take at most).
func (r *runner) profile(ctx context.Context, name string, d time.Duration) (wait func()) {
	if r.opt.Profile == "" || r.srv.debug == "" || d > r.opt.Duration {
		return func() {}
	}
	secs := max(1, int(d.Round(time.Second)/time.Second))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := fetchProfile(ctx, r.srv.debug, secs, filepath.Join(r.opt.Profile, name+".pprof")); err != nil {
			r.out.status("profile of %s: %v", name, err)
		}
	}()
	return func() { <-done }
}

func fetchProfile(ctx context.Context, base string, secs int, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", base, secs), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the profiler answered %s", resp.Status)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

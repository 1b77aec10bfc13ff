// Package bench is the load generator behind `dissent bench`: it starts a
// server on loopback (or targets one), fills it through the JSON API like
// any client, runs the workloads of BENCHMARKS.md with concurrent clients
// for a bounded time, and reports throughput, latency percentiles, errors
// and the server's memory and CPU, each figure beside the limit of this
// machine it is a ratio to, measured in the same run.
//
// It must never send anything off this machine: every address it talks to
// is checked to be loopback. Every loop it runs is bounded in count and in
// time.
package bench

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/dissent-channel/dissent/internal/vault"
)

// Bounds on the options, so that no run is unbounded.
const (
	MaxClients  = 1000
	MaxDuration = 10 * time.Minute
	MaxSeed     = 1_000_000
	MaxPool     = 100_000
	MaxRate     = 1_000_000
)

// Options are a bench run's settings.
type Options struct {
	// Exe is the dissent binary to start `dissent init` and `dissent serve`
	// from (the running one).
	Exe string
	// URL targets a running server instead of starting one; it must be
	// loopback. PID, if known, is its process, for memory and CPU figures.
	URL string
	PID int
	// Admin and AdminPassword sign in to a server given by URL (default
	// bench-admin, the administrator of a deployment bench set up).
	Admin, AdminPassword string
	// MetricsToken reads the /metrics of a server given by URL (its
	// server.metrics_token), for the store's commit counters; a child
	// server gets a token of the run's own.
	MetricsToken string
	// Data is the child server's data folder: empty for a fresh temporary
	// one; an existing deployment made by an earlier run is reused. Keep
	// keeps a temporary folder after the run. A folder that outlives the
	// run (kept or named) keeps its PostgreSQL database too.
	Data string
	Keep bool
	// Store is "sqlite" or "postgres"; PGURL is the PostgreSQL server in
	// which a run on a fresh folder creates a database of its own, dropped
	// at the end unless the folder outlives the run.
	Store, PGURL string
	// FastArgon sets up users with weak argon2id parameters (tests' ones),
	// which makes setting up fast and the login figure meaningless.
	FastArgon bool
	// Seed submits this many memos before the workloads.
	Seed int
	// Clients overrides each workload's default number of clients.
	Clients  int
	Duration time.Duration
	// Workloads to run (default all), in the order of Workloads.
	Workloads []string
	// Pool and CablePool are how many memos are prepared for the submit
	// workloads, which end early when theirs is spent.
	Pool, CablePool int
	// Startup restarts the server several times on its data folder and
	// measures the time to /readyz 200.
	Startup bool
	// ReadMemos limits the read workload to the memos of one kind (Seeded:
	// one author; SubmitSmall: three; SubmitCable: 51), submitted in this
	// run or, among the 4,000 a principal last received, in an earlier one
	// on the same folder; empty: every readable memo. A read's cost grows
	// with the memo's authors.
	ReadMemos string
	// Rate, if more than 0, offers each workload this many operations a
	// second on a fixed schedule (an open loop): a client sends the next
	// operation when it is due, not when its last one is answered, and an
	// operation's latency counts from when it was due, so that a slow
	// answer shows in the operations that waited behind it. Latency at a
	// rate below the server's capacity is what its users see; throughput
	// targets are not judged at a fixed rate.
	Rate float64
	// JSON writes the results to this file; Baseline compares them with an
	// earlier run's file.
	JSON, Baseline string
	// Profile, for a child server, writes a CPU profile of the server
	// during each workload to PROFILE/WORKLOAD.pprof (`go tool pprof`).
	Profile string
	// Command is the command line, for the record.
	Command string
}

func (o *Options) check() error {
	var errs []error
	if o.Clients < 0 || o.Clients > MaxClients {
		errs = append(errs, fmt.Errorf("--clients must be 1 to %d", MaxClients))
	}
	if o.Duration <= 0 || o.Duration > MaxDuration {
		errs = append(errs, fmt.Errorf("--duration must be more than 0 and at most %s", MaxDuration))
	}
	if o.Seed < 0 || o.Seed > MaxSeed {
		errs = append(errs, fmt.Errorf("--seed must be 0 to %d", MaxSeed))
	}
	if o.Pool < 1 || o.Pool > MaxPool || o.CablePool < 1 || o.CablePool > MaxPool {
		errs = append(errs, fmt.Errorf("--pool and --cable-pool must be 1 to %d", MaxPool))
	}
	if o.Store != "sqlite" && o.Store != "postgres" {
		errs = append(errs, fmt.Errorf("--store must be sqlite or postgres, not %q", o.Store))
	}
	if o.Store == "postgres" && o.PGURL == "" && o.URL == "" && o.Data == "" {
		errs = append(errs, errors.New("--store postgres needs --pg-url"))
	}
	if o.URL != "" {
		if _, err := checkLoopbackURL("--url", o.URL); err != nil {
			errs = append(errs, err)
		}
		if o.Startup {
			errs = append(errs, errors.New("--startup starts the server itself: it cannot be used with --url"))
		}
	} else if o.Exe == "" {
		errs = append(errs, errors.New("bench: no dissent binary to start"))
	}
	for _, w := range o.Workloads {
		if !slices.Contains(Workloads, w) {
			errs = append(errs, fmt.Errorf("unknown workload %q: want %s", w, strings.Join(Workloads, ", ")))
		}
	}
	if !(o.Rate >= 0 && o.Rate <= MaxRate) { // NaN too
		errs = append(errs, fmt.Errorf("--rate must be 0 (as fast as answered) to %d a second", MaxRate))
	}
	if _, ok := memoTitles[o.ReadMemos]; !ok && o.ReadMemos != "" {
		errs = append(errs, fmt.Errorf("--read-memos must be %s, %s or %s, not %q", Seeded, SubmitSmall, SubmitCable, o.ReadMemos))
	}
	return errors.Join(errs...)
}

// Run runs the bench and writes progress to progressW and the report to
// out.
func Run(ctx context.Context, opt Options, out, progressW io.Writer, tty bool) (*Results, error) {
	if opt.Store == "" {
		opt.Store = "sqlite"
	}
	if opt.Workloads == nil {
		opt.Workloads = Workloads
	}
	if err := opt.check(); err != nil {
		return nil, err
	}
	argon := vault.DefaultPasswordParams()
	if opt.FastArgon {
		argon = vault.TestPasswordParams()
	}
	res := &Results{Date: time.Now().UTC(), Command: opt.Command, GoVersion: runtime.Version(), Store: opt.Store, Argon2id: argon.String(), FastArgon: opt.FastArgon}
	r := &runner{opt: &opt, out: &progress{w: progressW, tty: tty}, argon: argon.String()}
	if opt.Baseline != "" {
		if _, err := readResults(opt.Baseline); err != nil {
			return nil, err // fail before hours of load, not after
		}
	}

	// The server: a child on a fresh or reused data folder, or the one given.
	var fsyncDir string
	if opt.URL != "" {
		r.srv = &server{url: strings.TrimSuffix(opt.URL, "/"), proc: process{opt.PID}}
		// The disk's fsync rate is the server's data folder's when this
		// machine can reach it (--data), else the temporary folder's, which
		// the report names.
		fsyncDir = os.TempDir()
		if opt.Data != "" {
			fsyncDir = opt.Data
		}
		res.Argon2id = "as the server is configured"
	} else {
		dir, fresh, cleanup, err := dataFolder(&opt)
		if err != nil {
			return nil, err
		}
		defer cleanup()
		fsyncDir = dir
		if fresh {
			storeURL := ""
			if opt.Store == "postgres" {
				if opt.PGURL == "" {
					return nil, fmt.Errorf("bench: %s holds no deployment yet: --store postgres needs --pg-url to create its database", dir)
				}
				u, dropSQL, drop, err := postgresDatabase(ctx, opt.PGURL)
				if err != nil {
					return nil, err
				}
				// The database lives as long as the folder that names it.
				if opt.Keep || opt.Data != "" {
					defer fmt.Fprintf(progressW, "bench: kept %s and its PostgreSQL store; when done with them: %s\n", dir, dropSQL)
				} else {
					defer func() {
						if err := drop(); err != nil {
							fmt.Fprintf(progressW, "bench: dropping the run's PostgreSQL database: %v\n", err)
						}
					}()
				}
				storeURL = u
			}
			if err := writeConfig(dir, argon, storeURL); err != nil {
				return nil, err
			}
			r.out.status("setting up a deployment in %s (store %s)", dir, opt.Store)
			if err := initDeployment(ctx, opt.Exe, dir); err != nil {
				return nil, err
			}
		} else {
			r.out.status("reusing the deployment in %s", dir)
			res.Argon2id = "as set up by the run that made " + dir
		}
		// The child serves its metrics (the store's commit counters) to
		// this run alone.
		opt.MetricsToken = rand.Text()
		srv, err := startServer(opt.Exe, dir, opt.MetricsToken, opt.Profile != "")
		if err != nil {
			return nil, err
		}
		r.srv = srv
		defer func() { _ = r.srv.stop() }()
	}
	res.URL, res.ServerPID = r.srv.url, r.srv.proc.pid
	r.c = newClient(r.srv.url, MaxClients)
	r.c.metricsToken = opt.MetricsToken
	defer r.c.close()
	if _, err := r.srv.waitReady(ctx, r.c, time.Now()); err != nil {
		return nil, err
	}
	if r.srv.proc.pid != 0 {
		time.Sleep(time.Second)
		res.IdleRSS, _, _ = r.srv.proc.memory()
		res.Memory = append(res.Memory, Target{What: fmt.Sprintf("idle < 40 MiB RSS a second after start (%s)", mib(res.IdleRSS)), Met: res.IdleRSS > 0 && res.IdleRSS < 40<<20})
	}
	if took, ok := r.srv.waitSelfCheck(ctx, 10*time.Minute); ok {
		r.out.status("the server's start-up ledger self-check ended after %s more", took.Round(time.Millisecond))
		if r.srv.proc.pid != 0 {
			rss, _, _ := r.srv.proc.memory()
			res.Memory = append(res.Memory, Target{What: fmt.Sprintf("idle < 40 MiB RSS after the start-up self-check (%s)", mib(rss)), Met: rss > 0 && rss < 40<<20})
		}
	}

	r.out.status("measuring this machine's limits")
	var err error
	if res.Limits, err = measureLimits(ctx, fsyncDir, argon); err != nil {
		return nil, err
	}

	clients := func(w string) int {
		if opt.Clients > 0 {
			return opt.Clients
		}
		return defaultClients[w]
	}
	members := max(cableAuthors, 3*min(clients(SubmitSmall), maxTrios), 32)
	if err := r.populate(ctx, members); err != nil {
		return nil, err
	}
	if opt.Seed > 0 {
		r.out.status("seeding %d memos (create, sign, submit each)", opt.Seed)
		seed, err := r.seed(ctx, opt.Seed, 16)
		res.Seed = &seed
		if err != nil {
			return res, err
		}
		if err := r.signInAll(ctx); err != nil {
			return res, err
		}
	}
	for _, w := range Workloads {
		if !slices.Contains(opt.Workloads, w) {
			continue
		}
		wr, err := r.runWorkload(ctx, w, clients(w))
		if err != nil {
			return res, err
		}
		judge(&wr, res.Limits)
		res.Workloads = append(res.Workloads, wr)
		if w == SubmitSmall || w == SubmitCable {
			res.Memory = append(res.Memory, Target{What: fmt.Sprintf("< 250 MiB RSS under the %s load (%s)", w, mib(wr.PeakRSS)), Met: wr.PeakRSS > 0 && wr.PeakRSS < 250<<20})
		}
	}
	if opt.Startup {
		if err := r.srv.stop(); err != nil {
			return res, err
		}
		if res.Startup, err = r.startup(ctx, 5); err != nil {
			return res, err
		}
	}

	res.print(out)
	if opt.Baseline != "" {
		base, err := readResults(opt.Baseline)
		if err != nil {
			return res, err
		}
		res.compare(out, base)
	}
	if opt.JSON != "" {
		if err := res.write(opt.JSON); err != nil {
			return res, err
		}
		fmt.Fprintf(out, "results written to %s\n", opt.JSON)
	}
	return res, nil
}

// startup starts the server n times on its existing data folder and
// measures the time from starting the process to /readyz 200.
func (r *runner) startup(ctx context.Context, n int) (*Startup, error) {
	r.out.status("measuring start-up: %d starts on %s", n, r.srv.data)
	var times []time.Duration
	s := &Startup{Runs: n}
	for i := range n {
		t0 := time.Now()
		srv, err := startServer(r.srv.exe, r.srv.data, r.opt.MetricsToken, false)
		if err != nil {
			return nil, err
		}
		c := newClient(srv.url, 1)
		d, err := srv.waitReady(ctx, c, t0)
		if err == nil && i == n-1 {
			s.ReadyRSS, _, _ = srv.proc.memory()
			time.Sleep(time.Second)
			s.IdleRSS, _, _ = srv.proc.memory()
		}
		c.close()
		if stopErr := srv.stop(); err == nil {
			err = stopErr
		}
		if err != nil {
			return nil, fmt.Errorf("%w\n%s", err, tail(filepath.Join(r.srv.data, "bench-server.log"), 5))
		}
		times = append(times, d)
	}
	slices.Sort(times)
	s.MinMS, s.MedMS, s.MaxMS = ms(times[0]), ms(times[len(times)/2]), ms(times[len(times)-1])
	s.Target = Target{What: fmt.Sprintf("ready (/readyz 200) < 300 ms on an existing data folder (median %.0f ms)", s.MedMS), Met: s.MedMS < 300}
	return s, nil
}
